using System.Text.Json;
using NativeCert.Tests.Cli;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Tests.Api;

/// <summary>The whole-job API: a spec and its data in, certificates and summary numbers out, as `nativecert certify` computes them.</summary>
public sealed class CertificationJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-job-api-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The spec of the CLI flags below: a few hundred digits of three classes, a small MLP, one epoch.</summary>
    private static readonly JobSpec Tiny = JobSpec.Default with
    {
        Data = new DataSpec { TrainSize = 300, TestSize = 60, Classes = [0, 1, 7] },
        Model = new ModelSpec { Hidden = [16] },
        Training = new TrainingSpec { Epochs = 1, BatchSize = 32 },
        Smoothing = new SmoothingSpec { Sigma = 0.25f, Models = 24 },
    };

    private static readonly string[] TinyFlags =
        ["--train-size", "300", "--test-size", "60", "--classes", "0,1,7", "--hidden", "16", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--models", "24", "--threads", "2", "--backend", "cpu"];

    [Fact]
    public async Task RunWithADirectoryWritesTheCliRunAndReturnsItsCertificates()
    {
        string cli = Path.Combine(_dir, "cli"), api = Path.Combine(_dir, "api");
        var run = CliRunner.Run(["certify", .. TinyFlags, "--out", cli]);
        Assert.True(run.Code == 0, run.Err);

        var seen = new List<JobProgress>();
        var result = await CertificationJob.RunAsync(Tiny, options: new JobOptions { Backend = "cpu", Threads = 2, RunDirectory = api },
                                                     progress: new Synchronous<JobProgress>(seen.Add));
        Assert.Equal(api, result.RunDirectory);
        Assert.Equal("cpu", result.Backend);
        // The same votes (config hash included) and the same report files.
        Assert.Equal(File.ReadAllBytes(Path.Combine(cli, "votes.bin")), File.ReadAllBytes(Path.Combine(api, "votes.bin")));
        foreach (string file in new[] { "votes.tsv", "certificates.tsv", "summary.txt" })
            Assert.Equal(File.ReadAllText(Path.Combine(cli, file)), File.ReadAllText(Path.Combine(api, file)));
        // The certificates returned are the ones in certificates.tsv.
        var lines = File.ReadAllLines(Path.Combine(api, "certificates.tsv")).Skip(1).ToArray();
        Assert.Equal(60, result.Certificates.Count);
        for (int i = 0; i < lines.Length; i++)
        {
            var f = lines[i].Split('\t');
            Assert.Equal(int.Parse(f[1]), result.Labels[i]);
            Assert.Equal(int.Parse(f[2]), result.Certificates[i].Prediction);
            Assert.Equal(double.Parse(f[5], System.Globalization.CultureInfo.InvariantCulture), result.Certificates[i].Radius);
        }
        Assert.Empty(result.TriggeredCertificates);
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(api, "summary.json")));
        Assert.Equal(summary.RootElement.GetProperty("majority_vote_accuracy").GetDouble(), result.Summary.MajorityVoteAccuracy);
        Assert.Equal(summary.RootElement.GetProperty("abstain_rate").GetDouble(), result.Summary.AbstainRate);
        Assert.Contains("certified accuracy at R = 0", result.SummaryText);
        // Progress: increasing, ending at every model.
        Assert.NotEmpty(seen);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Second.ModelsDone > p.First.ModelsDone));
        Assert.Equal(new JobProgress(24, 24), seen[^1]);
    }

    [Fact]
    public async Task InMemoryArraysGiveTheCertificatesOfTheSameDataLoadedByName()
    {
        var byName = await CertificationJob.RunAsync(Tiny, options: new JobOptions { Backend = "cpu", Threads = 2 });
        Assert.Null(byName.RunDirectory);

        // The same rows as plain arrays, the way an app holds its own data.
        DataSplit loaded = DatasetCatalog.Load("mnist", Tiny.Data.LoadOptions());
        Dataset Copy(Dataset d) => new((float[])d.Features.Clone(), (int[])d.Labels.Clone(), d.Dimension, d.ClassCount, null, "arrays");
        var arrays = new DataSplit(Copy(loaded.Train), Copy(loaded.Test)) { Name = "my-digits" };
        var inMemory = await CertificationJob.RunAsync(Tiny with { Data = new DataSpec() }, arrays,
                                                       new JobOptions { Backend = "cpu", Threads = 1, RunDirectory = Path.Combine(_dir, "mem") });
        Assert.Equal(byName.Certificates, inMemory.Certificates);
        Assert.Equal(byName.Labels, inMemory.Labels);
        Assert.Contains("memory:my-digits", File.ReadAllText(Path.Combine(_dir, "mem", "config.json")));

        // The spec's row selection applies to data it loads, not to arrays given as they are.
        var e = await Assert.ThrowsAsync<SpecException>(() => CertificationJob.RunAsync(Tiny, arrays));
        Assert.Contains("data.train_size", e.Message);
        var bad = new DataSplit(arrays.Train, new Dataset([float.NaN, .. arrays.Test.Features[1..]], arrays.Test.Labels, 784, 3, null, "x"));
        Assert.Contains("feature 0 is NaN", (await Assert.ThrowsAsync<ArgumentException>(() => CertificationJob.RunAsync(Tiny with { Data = new DataSpec() }, bad))).Message);
    }

    [Fact]
    public async Task BadSpecsBackendsAndCancellationFailBeforeAnyDirectoryIsWritten()
    {
        string dir = Path.Combine(_dir, "never");
        var e = await Assert.ThrowsAsync<SpecException>(() => CertificationJob.RunAsync(
            Tiny with { Smoothing = Tiny.Smoothing with { Sigma = -1 } }, options: new JobOptions { RunDirectory = dir }));
        Assert.Contains("smoothing.sigma", e.Message);
        e = await Assert.ThrowsAsync<SpecException>(() => CertificationJob.RunAsync(Tiny, options: new JobOptions { Backend = "abacus", RunDirectory = dir }));
        Assert.Contains("execution.backend", e.Message);
        Assert.False(Directory.Exists(dir));

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CertificationJob.RunAsync(Tiny, cancellation: cancelled.Token));
    }

    [Fact]
    public async Task TheIlgpuKernelsRunTheSameJobThroughTheBackendFactory()
    {
        var small = Tiny with { Data = Tiny.Data with { TrainSize = 90, TestSize = 15 }, Model = new ModelSpec { Hidden = [8] }, Smoothing = Tiny.Smoothing with { Models = 4 } };
        var log = new StringWriter();
        var gpu = await CertificationJob.RunAsync(small, options: new JobOptions { Backend = "ilgpu-cpu", Log = log });
        var cpu = await CertificationJob.RunAsync(small, options: new JobOptions { Backend = "cpu", Threads = 1 });
        Assert.Equal("ilgpu-cpu", gpu.Backend);
        Assert.Contains("ilgpu-cpu", log.ToString());
        Assert.Equal(15, gpu.Certificates.Count);
        // Float rounding may differ between backends; the predictions of this tiny job agree on most inputs.
        Assert.True(gpu.Certificates.Zip(cpu.Certificates).Count(p => p.First.Prediction == p.Second.Prediction) >= 12);
    }

    [Fact]
    public async Task ADeployedClassifierTrainedFromASpecIsTheEnsembleNativecertTrainMakes()
    {
        string file = Path.Combine(_dir, "train.bin");
        var train = CliRunner.Run(["train", .. TinyFlags[..^2], "--out", file]);
        Assert.True(train.Code == 0, train.Err);
        var fromCli = EnsembleFile.Load(file);

        var progress = new List<JobProgress>();
        var deployed = await SmoothedClassifier.TrainAsync(Tiny, threads: 2, progress: new Synchronous<JobProgress>(progress.Add));
        Assert.Equal(fromCli.Parameters, deployed.Ensemble.Parameters);
        Assert.Equal([0, 1, 7], deployed.ClassIds!);
        Assert.Equal(Tiny.Certification.Alpha, deployed.Alpha);
        Assert.Equal(new JobProgress(24, 24), progress[^1]);

        var e = await Assert.ThrowsAsync<SpecException>(() => SmoothedClassifier.TrainAsync(Tiny with { Smoothing = Tiny.Smoothing with { Method = "cohen" } }));
        Assert.Contains("smoothing.method", e.Message);
    }

    /// <summary>Reports on the calling thread (unlike Progress&lt;T&gt;, which posts and may report after the job ends).</summary>
    private sealed class Synchronous<T>(Action<T> report) : IProgress<T>
    {
        private readonly Lock _lock = new();
        public void Report(T value) { lock (_lock) report(value); }
    }
}

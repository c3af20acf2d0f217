using System.CommandLine;
using NativeCert.Cli;
using NativeCert.Cli.Commands;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Kernels;

namespace NativeCert.Tests.Runs;

/// <summary>
/// <c>certify --model lenet</c> end to end on a tiny MNIST configuration: the cpu and ilgpu-cpu backends give the same
/// votes (a shard from each merges into the one-backend run), a run interrupted after its first durable chunk resumes to
/// the same bytes, and the model is recorded so that resume and merge check it.
/// </summary>
public sealed class LenetCertifyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-lenet-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Tiny =
        ["--classes", "1,7", "--train-size", "12", "--test-size", "4", "--epochs", "1", "--batch", "8",
         "--models", "3", "--chunk", "1", "--sigma", "0.25"];
    private static readonly string[] Lenet = [.. Tiny, "--model", "lenet"];

    private static (int Code, string Out, string Err) Cli(RootCommand root, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(root, args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static (int Code, string Out, string Err) Cli(params string[] args) => Cli(Program.BuildRoot(), args);

    private byte[] Votes(string run) => File.ReadAllBytes(Path.Combine(run, "votes.bin"));

    [Fact]
    public void Lenet_votes_agree_on_cpu_and_ilgpu_cpu_and_survive_resume_and_merge()
    {
        string full = Path.Combine(_dir, "full");
        var (code, stdout, err) = Cli(["certify", .. Lenet, "--backend", "cpu", "--out", full]);
        Assert.True(code == 0, err);
        Assert.Contains("majority-vote accuracy (no certificate)", stdout);
        string config = File.ReadAllText(Path.Combine(full, "config.json"));
        Assert.Contains("\"layers\": \"conv:16:5,relu,maxpool,conv:32:5,relu,maxpool,flatten,dense:128,relu\"", config);
        Assert.DoesNotContain("\"hidden\"", config);
        Assert.Contains($"\"warmup_epochs\": {TrainingDefaults.ConvWarmupEpochs}", config); // the layer-list default, so cpu and ilgpu-cpu below warm up

        // Models [0, 2) on the ILGPU kernels, [2, 3) on the SIMD engine: merged, the one-backend run's bytes.
        string gpuShard = Path.Combine(_dir, "ilgpu"), cpuShard = Path.Combine(_dir, "cpu"), merged = Path.Combine(_dir, "merged");
        (code, _, err) = Cli(["certify", .. Lenet, "--backend", "ilgpu-cpu", "--models-range", "0:2", "--out", gpuShard]);
        Assert.True(code == 0, err);
        (code, _, err) = Cli(["certify", .. Lenet, "--backend", "cpu", "--models-range", "2:3", "--out", cpuShard]);
        Assert.True(code == 0, err);
        (code, _, err) = Cli("merge", "--out", merged, cpuShard, gpuShard);
        Assert.True(code == 0, err);
        Assert.Equal(Votes(full), Votes(merged));
        Assert.Equal(File.ReadAllBytes(Path.Combine(full, "certificates.tsv")), File.ReadAllBytes(Path.Combine(merged, "certificates.tsv")));

        // A process that dies after the first durable chunk: the resumed run, options from config.json, is byte-identical.
        string interrupted = Path.Combine(_dir, "interrupted");
        var crashing = new RootCommand();
        crashing.Subcommands.Add(CertifyCommand.Create((name, threads, log) => new CrashAfterFirstChunk(BackendFactory.Create(name, threads, log))));
        Assert.NotEqual(0, Cli(crashing, ["certify", .. Lenet, "--backend", "cpu", "--out", interrupted]).Code);
        Assert.Equal(1, NativeCert.Runs.VoteFile.Read(Path.Combine(interrupted, "votes.bin")).ModelsDone);
        (code, _, err) = Cli("certify", "--out", interrupted, "--resume");
        Assert.True(code == 0, err);
        Assert.Equal(Votes(full), Votes(interrupted));

        // Resuming with another model is refused, naming it.
        (code, _, err) = Cli("certify", "--out", interrupted, "--resume", "--model", "conv:8:5,relu,maxpool,flatten");
        Assert.Equal(2, code);
        Assert.Contains("--model", err);
    }

    [Fact]
    public void A_run_without_warmup_resumes_without_it_whatever_the_default()
    {
        // A LeNet run as every run before the warm-up existed: no warmup_epochs in config.json (its config hash unchanged).
        string[] constant = [.. Lenet, "--warmup-epochs", "0", "--backend", "cpu"];
        string full = Path.Combine(_dir, "full"), interrupted = Path.Combine(_dir, "interrupted");
        var (code, _, err) = Cli(["certify", .. constant, "--out", full]);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warmup", File.ReadAllText(Path.Combine(full, "config.json")));
        var crashing = new RootCommand();
        crashing.Subcommands.Add(CertifyCommand.Create((name, threads, log) => new CrashAfterFirstChunk(BackendFactory.Create(name, threads, log))));
        Assert.NotEqual(0, Cli(crashing, ["certify", .. constant, "--out", interrupted]).Code);
        // Resumed with no flags, under a default that now warms a LeNet up: it keeps its own constant step, byte for byte.
        (code, _, err) = Cli("certify", "--out", interrupted, "--resume");
        Assert.True(code == 0, err);
        Assert.Equal(Votes(full), Votes(interrupted));
        Assert.DoesNotContain("warmup", File.ReadAllText(Path.Combine(interrupted, "config.json")));
        // Asking for a warm-up on resume is another run: refused, naming the flag.
        (code, _, err) = Cli("certify", "--out", interrupted, "--resume", "--warmup-epochs", "1");
        Assert.Equal(2, code);
        Assert.Contains("--warmup-epochs", err);
    }

    /// <summary>Runs the first chunk, then fails as a killed process would (its first chunk already durable).</summary>
    private sealed class CrashAfterFirstChunk(IEnsembleBackend inner) : IEnsembleBackend
    {
        private int _chunks;
        public string Name => inner.Name;
        public string Device => inner.Device;
        public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd, VoteCounts votes,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
        {
            if (++_chunks > 1) throw new InvalidOperationException("simulated crash");
            inner.Run(config, train, inputs, modelStart, modelEnd, votes, progress, cancellation);
        }
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void A_model_that_does_not_fit_the_data_is_a_one_line_error_and_hidden_must_agree_with_model()
    {
        var (code, _, err) = Cli(["certify", .. Tiny, "--model", "conv:8:29", "--out", Path.Combine(_dir, "bad")]);
        Assert.Equal(2, code);
        Assert.Contains("--model: layer 1 (conv:8:29): a 29×29 kernel does not fit its 1x28x28 input", err);
        Assert.Single(err.Trim().Split('\n'), l => l.Contains("error"));
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")) && File.Exists(Path.Combine(_dir, "bad", "votes.bin")));
        (code, _, err) = Cli(["certify", .. Lenet, "--hidden", "64", "--out", Path.Combine(_dir, "both")]);
        Assert.Equal(2, code);
        Assert.Contains("--hidden", err);
    }

    [Fact]
    public void Train_keeps_a_lenet_ensemble_that_votes_like_certify()
    {
        string path = Path.Combine(_dir, "lenet.bin"), tsv = Path.Combine(_dir, "votes.tsv");
        var (code, stdout, err) = Cli("train", "--classes", "1,7", "--train-size", "12", "--test-size", "4", "--model", "lenet",
                                      "--epochs", "1", "--batch", "8", "--models", "2", "--out", path);
        Assert.True(code == 0, err);
        Assert.Contains("1x28x28 conv:16:5", stdout);
        var ensemble = EnsembleFile.Load(path);
        Assert.Equal("conv:16:5,relu,maxpool,conv:32:5,relu,maxpool,flatten,dense:128,relu", ensemble.Config.Model.Text);
        Assert.Equal(TrainingDefaults.ConvLearningRate, ensemble.Config.Training.LearningRate);
        Assert.Equal(TrainingDefaults.ConvWarmupEpochs, ensemble.Config.Training.WarmupEpochs);
        (code, _, err) = Cli("vote", "--ensemble", path, "--classes", "1,7", "--train-size", "12", "--test-size", "4", "--out", tsv);
        Assert.True(code == 0, err);
        Assert.Equal(5, File.ReadAllLines(tsv).Length);
    }

    [Fact]
    public void The_warmup_flag_reaches_the_ensemble_an_mlp_has_none_by_default_and_a_bad_value_is_a_one_line_error()
    {
        string path = Path.Combine(_dir, "w.bin");
        string[] tiny = ["train", "--classes", "1,7", "--train-size", "12", "--test-size", "4", "--epochs", "2", "--batch", "8", "--models", "1", "--out", path];
        var (code, _, err) = Cli([.. tiny, "--model", "lenet", "--warmup-epochs", "2"]);
        Assert.True(code == 0, err);
        Assert.Equal(2, EnsembleFile.Load(path).Config.Training.WarmupEpochs);
        (code, _, err) = Cli([.. tiny, "--model", "lenet", "--warmup-epochs", "0"]);
        Assert.True(code == 0, err);
        Assert.Equal(0, EnsembleFile.Load(path).Config.Training.WarmupEpochs);
        (code, _, err) = Cli(tiny); // the MLP default: a constant step, as every MLP run before the warm-up existed
        Assert.True(code == 0, err);
        Assert.Equal(0, EnsembleFile.Load(path).Config.Training.WarmupEpochs);
        File.Delete(path);
        (code, _, err) = Cli([.. tiny, "--model", "lenet", "--warmup-epochs", "-1"]);
        Assert.Equal(2, code);
        Assert.Equal("nativecert: error: --warmup-epochs -1: must be zero (no warm-up) or a positive number of epochs", err.Trim());
        Assert.False(File.Exists(path));
    }
}

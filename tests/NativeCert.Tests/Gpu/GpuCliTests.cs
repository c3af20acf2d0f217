using System.Text.Json;
using NativeCert.Cli;
using NativeCert.Runs;

namespace NativeCert.Tests.Gpu;

/// <summary><c>nativecert bench</c> and <c>certify</c> on the GPU backends, in process.</summary>
public sealed class GpuCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-gpu-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int exit = CliApp.Run(Program.BuildRoot(), args, o, e);
        return (exit, o.ToString(), e.ToString());
    }

    [Fact]
    public void Bench_runs_the_ilgpu_kernels_and_reports_the_backend_on_stderr()
    {
        var (exit, stdout, stderr) = Run("bench", "--backend", "ilgpu-cpu", "--models", "1", "--epochs", "1",
                                         "--examples", "16", "--hidden", "4", "--batch", "8", "--json");
        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("ilgpu-cpu", json.RootElement.GetProperty("backend").GetString());
        Assert.True(json.RootElement.GetProperty("model_epochs_per_s").GetDouble() > 0);
        Assert.Contains("backend: ilgpu-cpu on ILGPU CPU accelerator", stderr);
    }

    [Fact]
    public void Bench_on_cuda_without_a_device_exits_2_with_one_line()
    {
        if (CudaAvailability.HasDevice) return; // covered by the CUDA kernel tests there
        var (exit, stdout, stderr) = Run("bench", "--backend", "cuda", "--models", "1", "--epochs", "1", "--examples", "16");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("--backend cuda: no CUDA device found", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    /// <summary>
    /// Truly tiny: the ILGPU CPU accelerator runs every kernel thread as .NET code, about a thousand times slower
    /// than the cpu engine. An attack (so the undefended σ = 0 model runs too), two epochs and chunks of 3 models.
    /// </summary>
    private static readonly string[] TinyCertify =
        ["--classes", "1,7", "--train-size", "100", "--test-size", "20", "--hidden", "8", "--epochs", "2", "--batch", "16",
         "--models", "8", "--chunk", "3", "--sigma", "0.25", "--attack", "patch", "--trigger-size", "2", "--poison", "5", "--target", "7"];

    [Fact]
    public void Certify_on_ilgpu_cpu_writes_a_complete_run_with_the_cpu_backends_votes()
    {
        string ilgpu = Path.Combine(_dir, "ilgpu-cpu"), cpu = Path.Combine(_dir, "cpu");
        var (exit, stdout, stderr) = Run(["certify", .. TinyCertify, "--backend", "ilgpu-cpu", "--out", ilgpu]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("majority-vote accuracy (no certificate)", stdout);
        Assert.Contains("backend: ilgpu-cpu on ILGPU CPU accelerator", stderr);
        (exit, _, stderr) = Run(["certify", .. TinyCertify, "--backend", "cpu", "--out", cpu]);
        Assert.True(exit == 0, stderr);

        var run = new RunDirectory(ilgpu);
        Assert.True(run.IsComplete);
        foreach (string f in new[] { run.ConfigPath, run.VotesPath, run.VotesTsvPath, run.CertificatesPath, Path.Combine(ilgpu, RunReport.TriggeredCertificatesFile),
                                     run.SummaryTextPath, run.SummaryPath, run.RadiusPlotPath, run.PoisonPlotPath, run.TimingPath })
            Assert.True(File.Exists(f), f);
        Assert.Empty(Directory.GetFiles(ilgpu, "*.tmp"));
        var config = RunConfig.Read(run.ConfigPath);
        Assert.Equal("ilgpu-cpu", config.Backend!.Name);
        Assert.Equal("ilgpu-cpu", config.Execution.Backend);
        Assert.Contains("ILGPU CPU accelerator", config.Backend.Device);
        using (var timing = JsonDocument.Parse(File.ReadAllText(run.TimingPath)))
            Assert.Equal("ilgpu-cpu", timing.RootElement.GetProperty("backend").GetString());
        var cpuConfig = RunConfig.Read(new RunDirectory(cpu).ConfigPath);
        Assert.Equal(cpuConfig.ConfigHash, config.ConfigHash); // the backend does not determine the votes

        // docs/engine.md lets backends differ only by float rounding; on this configuration (as in the kernel tests'
        // ensemble check) no vote sits close enough to a decision boundary for rounding to flip it, so the votes,
        // undefended model included, and hence every certificate are identical.
        var votes = VoteFile.Read(run.VotesPath);
        var cpuVotes = VoteFile.Read(new RunDirectory(cpu).VotesPath);
        Assert.Equal(8, votes.ModelsDone);
        Assert.Equal(cpuVotes.Kinds, votes.Kinds);
        Assert.Contains(InputKind.Triggered, votes.Kinds);
        Assert.Equal(cpuVotes.Estimation.Counts, votes.Estimation.Counts);
        Assert.Equal(cpuVotes.Undefended!.Counts, votes.Undefended!.Counts);
        Assert.Equal(File.ReadAllBytes(Path.Combine(cpu, "certificates.tsv")), File.ReadAllBytes(run.CertificatesPath));
        Assert.Equal(File.ReadAllBytes(Path.Combine(cpu, RunReport.TriggeredCertificatesFile)),
                     File.ReadAllBytes(Path.Combine(ilgpu, RunReport.TriggeredCertificatesFile)));
    }
}

using NativeCert.Cli;
using NativeCert.Engine;
using NativeCert.Runs;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// Backend sessions: a run opens its backend once (the ILGPU backend plans, uploads and allocates once, whatever the
/// number of chunks), and the model sink works on every backend, so <c>--keep-models</c> and <c>train</c> run on
/// ilgpu-cpu and keep the models the cpu engine trains (to float rounding).
/// </summary>
public sealed class BackendSessionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-sessions-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(Program.BuildRoot(), args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static readonly string[] Tiny =
        ["--classes", "1,7", "--train-size", "60", "--test-size", "10", "--hidden", "8", "--epochs", "2", "--batch", "16",
         "--models", "5", "--chunk", "2", "--sigma", "0.25"];

    private static void AssertClose(EnsembleFile want, EnsembleFile got)
    {
        Assert.Equal((want.ModelStart, want.ModelCount), (got.ModelStart, got.ModelCount));
        Assert.Equal(want.Config, got.Config);
        IlgpuKernelTests.AssertClose(want.Parameters, got.Parameters, 1e-3f, "kept parameters");
    }

    [Fact]
    public void Keep_models_on_ilgpu_cpu_opens_the_backend_once_and_keeps_the_cpu_engines_models()
    {
        string gpu = Path.Combine(_dir, "ilgpu"), cpu = Path.Combine(_dir, "cpu");
        var (code, _, err) = Cli(["certify", .. Tiny, "--backend", "ilgpu-cpu", "--keep-models", "--out", gpu]);
        Assert.True(code == 0, err);
        // Three chunks, one plan: the session uploaded the data and allocated once.
        Assert.Single(err.Split('\n'), l => l.Contains("models per chunk"));
        (code, _, err) = Cli(["certify", .. Tiny, "--backend", "cpu", "--keep-models", "--out", cpu]);
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(cpu, "votes.bin")), File.ReadAllBytes(Path.Combine(gpu, "votes.bin")));
        foreach (var (a, b) in new[] { (0, 2), (2, 4), (4, 5) })
        {
            string name = ModelKeepingBackend.FileName(a, b);
            AssertClose(EnsembleFile.Load(Path.Combine(cpu, "models", name)), EnsembleFile.Load(Path.Combine(gpu, "models", name)));
        }
    }

    [Fact]
    public void Train_on_ilgpu_cpu_keeps_the_models_the_cpu_engine_trains()
    {
        string gpu = Path.Combine(_dir, "ilgpu.bin"), cpu = Path.Combine(_dir, "cpu.bin");
        string[] train = ["train", "--classes", "1,7", "--train-size", "40", "--test-size", "10", "--model", "conv:2:3,relu,maxpool,flatten",
                          "--epochs", "1", "--batch", "16", "--models", "2", "--model-start", "3", "--sigma", "0.25"];
        var (code, _, err) = Cli([.. train, "--backend", "ilgpu-cpu", "--out", gpu]);
        Assert.True(code == 0, err);
        (code, _, err) = Cli([.. train, "--backend", "cpu", "--out", cpu]);
        Assert.True(code == 0, err);
        AssertClose(EnsembleFile.Load(cpu), EnsembleFile.Load(gpu));
    }
}

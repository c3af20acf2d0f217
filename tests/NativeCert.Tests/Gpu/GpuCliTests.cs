using System.Text.Json;
using NativeCert.Cli;

namespace NativeCert.Tests.Gpu;

/// <summary><c>nativecert bench</c> on the GPU backends, in process.</summary>
public sealed class GpuCliTests
{
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
}

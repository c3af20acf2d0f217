using NativeCert.Engine;
using NativeCert.Kernels;
using NativeCert.Kernels.Engine;

namespace NativeCert.Tests.Gpu;

public sealed class BackendFactoryTests
{
    [Fact]
    public void Cpu_resolves_to_the_simd_engine_and_says_so()
    {
        var log = new StringWriter();
        using var backend = BackendFactory.Create("cpu", 2, log);
        Assert.IsType<NativeCert.Engine.Cpu.CpuEnsembleBackend>(backend);
        Assert.Contains("backend: cpu on", log.ToString());
    }

    [Fact]
    public void Ilgpu_cpu_resolves_to_the_cpu_accelerator()
    {
        var log = new StringWriter();
        using var backend = BackendFactory.Create("ilgpu-cpu", 0, log);
        Assert.Equal("ilgpu-cpu", backend.Name);
        Assert.Contains("backend: ilgpu-cpu on", log.ToString());
    }

    [Fact]
    public void Unknown_name_is_a_user_error_naming_the_option()
    {
        var e = Assert.ThrowsAny<UserInputException>(() => BackendFactory.Create("tpu", 0, new StringWriter()));
        Assert.Contains("execution.backend", e.Message);
        Assert.Contains("tpu", e.Message);
        Assert.Contains("cuda", e.Message);
    }

    [Fact]
    public void Auto_without_a_cuda_device_chooses_cpu_and_says_why()
    {
        var log = new StringWriter();
        using var backend = BackendFactory.Create("auto", 1, log, () => 0);
        Assert.Equal("cpu", backend.Name);
        Assert.Contains("no CUDA device found, using cpu", log.ToString());
    }

    [Fact]
    public void Auto_falls_back_to_cpu_when_cuda_fails_to_start()
    {
        // The probe claims a device; where there is none, starting CUDA fails and auto must fall back.
        var log = new StringWriter();
        using var backend = BackendFactory.Create("auto", 1, log, () => 1);
        if (CudaAvailability.HasDevice)
            Assert.Equal("cuda", backend.Name);
        else
        {
            Assert.Equal("cpu", backend.Name);
            Assert.Contains("falling back to cpu", log.ToString());
        }
    }

    [Fact]
    public void Cuda_without_a_device_is_a_clear_user_error()
    {
        if (CudaAvailability.HasDevice)
        {
            using var backend = BackendFactory.Create("cuda", 0, new StringWriter());
            Assert.Equal("cuda", backend.Name);
            return;
        }
        var e = Assert.Throws<UserInputException>(() => BackendFactory.Create("cuda", 0, new StringWriter()));
        Assert.StartsWith("--backend cuda: no CUDA device found", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

public sealed class EnsembleMemoryPlanTests
{
    private static readonly ModelArchitecture Mnist = ModelArchitecture.Mlp(784, [128], 10);

    [Fact]
    public void Per_model_bytes_follow_the_documented_formula()
    {
        // P = 784·128 + 128 + 128·10 + 10 = 101,770; floats = 3P + n + B(D + 128 + 10) + 2·B·128 + B.
        var layout = new ParameterLayout(Mnist);
        Assert.Equal(101_770, layout.Count);
        long floats = 3 * 101_770L + 8000 + 64 * (784 + 128 + 10) + 2 * 64 * 128 + 64;
        Assert.Equal(4 * floats, EnsembleMemoryPlan.PerModelBytes(layout, 8000, 64));
        Assert.Equal(4 * (8000L * 784 + 8000 + 100L * 784 + 100 * 10 + 101_770), EnsembleMemoryPlan.SharedDataBytes(layout, 8000, 100));
    }

    [Fact]
    public void Chunk_is_what_fits_in_usable_memory()
    {
        var layout = new ParameterLayout(Mnist);
        long perModel = EnsembleMemoryPlan.PerModelBytes(layout, 8000, 64);
        long shared = EnsembleMemoryPlan.SharedDataBytes(layout, 8000, 100);
        var plan = EnsembleMemoryPlan.Create(Mnist, 8000, 100, 64, 10_000, shared + 37 * perModel + perModel / 2);
        Assert.Equal(37, plan.ModelsPerChunk);
        // An 80 GB card holds all 10,000 MNIST models at once (about 15.6 GB).
        Assert.Equal(10_000, EnsembleMemoryPlan.Create(Mnist, 8000, 100, 64, 10_000, 72L << 30).ModelsPerChunk);
        Assert.Equal(5, EnsembleMemoryPlan.Create(Mnist, 8000, 100, 64, 10_000, 72L << 30, maxModelsPerChunk: 5).ModelsPerChunk);
    }

    [Fact]
    public void Chunk_never_exceeds_the_grid_z_limit()
    {
        var tiny = ModelArchitecture.Mlp(2, [2], 2);
        Assert.Equal(EnsembleMemoryPlan.MaxGridZ, EnsembleMemoryPlan.Create(tiny, 10, 1, 4, 1_000_000, 64L << 30).ModelsPerChunk);
    }

    [Fact]
    public void Too_little_memory_for_one_model_is_a_clear_user_error()
    {
        var e = Assert.Throws<UserInputException>(() => EnsembleMemoryPlan.Create(Mnist, 8000, 100, 64, 10, 20L << 20));
        Assert.Contains("--backend", e.Message);
        Assert.Contains("784-128-10", e.Message);
    }
}

/// <summary>Facts that only mean something on a CUDA machine; skipped (with the reason) elsewhere.</summary>
public sealed class CudaDeviceTests
{
    [CudaFact]
    public void Cuda_backend_names_its_gpu_and_knows_its_fp32_peak()
    {
        using var backend = IlgpuEnsembleBackend.CreateCuda();
        Assert.Equal("cuda", backend.Name);
        Assert.Contains("SMs", backend.Device);
        Assert.True(backend.PeakFp32Gflops > 1000, $"peak {backend.PeakFp32Gflops} GFLOP/s");
    }

    [CudaFact]
    public void Auto_chooses_cuda_when_a_device_is_present()
    {
        var log = new StringWriter();
        using var backend = BackendFactory.Create("auto", 0, log);
        Assert.Equal("cuda", backend.Name);
        Assert.Contains("using cuda", log.ToString());
    }
}

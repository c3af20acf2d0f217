using ILGPU.Runtime.Cuda;
using NativeCert.Engine;
using NativeCert.Kernels;
using NativeCert.Cli.Options;
using NativeCert.Kernels.Engine;
using NativeCert.Spec;

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

    private static readonly CudaProbe NoDriver = new(null, 0, 0, "no CUDA driver library: none of libcuda.so, libcuda.so.1 could be loaded");
    // A driver that claims a device ILGPU cannot find here (this machine has no libcuda): ILGPU's own failure path.
    private static readonly CudaProbe PhantomDevice = new("/fake/libcuda.so.1", 13000, 1, null);

    [Fact]
    public void Auto_without_a_cuda_driver_chooses_cpu_and_prints_why()
    {
        var log = new StringWriter();
        using var backend = BackendFactory.Create("auto", 1, log, () => NoDriver);
        Assert.Equal("cpu", backend.Name);
        Assert.Contains("backend auto: no CUDA driver library: none of libcuda.so, libcuda.so.1 could be loaded; using cpu", log.ToString());
    }

    [Fact]
    public void Auto_falls_back_to_cpu_when_ilgpu_cannot_start_the_device_and_says_why()
    {
        if (CudaAvailability.HasDevice) return; // there the phantom is real
        var log = new StringWriter();
        using var backend = BackendFactory.Create("auto", 1, log, () => PhantomDevice);
        Assert.Equal("cpu", backend.Name);
        Assert.Contains("backend auto: cuda: ILGPU found no CUDA device although the driver (/fake/libcuda.so.1) reports 1; falling back to cpu", log.ToString());
    }

    [Fact]
    public void Cuda_without_a_driver_library_is_one_line_saying_so()
    {
        var e = Assert.Throws<SpecException>(() => BackendFactory.Create("cuda", 0, new StringWriter(), () => NoDriver));
        // The library names the field; the CLI shows it as the flag.
        Assert.Equal("execution.backend cuda: no CUDA driver library: none of libcuda.so, libcuda.so.1 could be loaded; use execution.backend cpu or auto", e.Message);
        Assert.Equal("--backend cuda: no CUDA driver library: none of libcuda.so, libcuda.so.1 could be loaded; use --backend cpu or auto", SpecFlags.Translate(e));
    }

    [Fact]
    public void Cuda_when_ilgpu_finds_no_device_is_one_line_naming_the_driver()
    {
        if (CudaAvailability.HasDevice) return;
        var e = Assert.Throws<SpecException>(() => BackendFactory.Create("cuda", 0, new StringWriter(), () => PhantomDevice));
        Assert.StartsWith("execution.backend cuda: ILGPU found no CUDA device although the driver (/fake/libcuda.so.1) reports 1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Cuda_on_this_machine_either_starts_or_says_why_in_one_line()
    {
        if (CudaAvailability.HasDevice)
        {
            using var backend = BackendFactory.Create("cuda", 0, new StringWriter());
            Assert.Equal("cuda", backend.Name);
            return;
        }
        var e = Assert.Throws<SpecException>(() => BackendFactory.Create("cuda", 0, new StringWriter()));
        Assert.StartsWith("--backend cuda: ", SpecFlags.Translate(e));
        Assert.Contains(CudaDriver.Probe().Failure!, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

/// <summary>The driver probe and the libcuda.so.1 resolver, on a faked driver (this machine has none).</summary>
public sealed class CudaDriverTests
{
    private sealed class FakeDriver(Func<string, bool> present, int init = 0, int count = 1, int version = 13000) : ICudaDriverLibrary
    {
        public List<string> Tried { get; } = [];
        public bool TryLoad(string name, out nint handle)
        {
            Tried.Add(name);
            handle = present(name) ? 42 : 0;
            return handle != 0;
        }
        public string? PathOf(nint handle, string name) => "/usr/lib/x86_64-linux-gnu/" + name;
        public int Init(nint handle) => init;
        public int DriverVersion(nint handle, out int v) { v = version; return 0; }
        public int DeviceCount(nint handle, out int n) { n = count; return 0; }
    }

    [Fact]
    public void Probe_without_any_driver_library_names_every_file_it_tried()
    {
        var driver = new FakeDriver(_ => false);
        var probe = CudaDriver.Probe(driver, CudaDriver.LinuxLibraryNames);
        Assert.False(probe.Usable);
        Assert.Equal(["libcuda.so", "libcuda.so.1"], driver.Tried);
        Assert.Equal("no CUDA driver library: none of libcuda.so, libcuda.so.1 could be loaded (no NVIDIA driver on this machine, or not on the loader path)", probe.Failure);
        Assert.Null(probe.LibraryPath);
    }

    [Fact]
    public void Probe_uses_libcuda_so_1_when_the_unversioned_name_is_absent()
    {
        var probe = CudaDriver.Probe(new FakeDriver(n => n == "libcuda.so.1", count: 2), CudaDriver.LinuxLibraryNames);
        Assert.True(probe.Usable);
        Assert.Equal(2, probe.DeviceCount);
        Assert.Equal(13000, probe.DriverVersion);
        Assert.Equal("/usr/lib/x86_64-linux-gnu/libcuda.so.1", probe.LibraryPath);
    }

    [Fact]
    public void Probe_reports_a_driver_that_fails_to_initialise_by_error_name()
    {
        var probe = CudaDriver.Probe(new FakeDriver(_ => true, init: 100), CudaDriver.LinuxLibraryNames);
        Assert.False(probe.Usable);
        Assert.Equal("the CUDA driver (/usr/lib/x86_64-linux-gnu/libcuda.so) failed to initialise: cuInit returned CUDA_ERROR_NO_DEVICE (100)", probe.Failure);
    }

    [Fact]
    public void Probe_reports_a_driver_with_no_device()
    {
        var probe = CudaDriver.Probe(new FakeDriver(_ => true, count: 0), CudaDriver.LinuxLibraryNames);
        Assert.False(probe.Usable);
        Assert.Equal("no CUDA device: the driver (/usr/lib/x86_64-linux-gnu/libcuda.so, version 13.0) reports 0 devices", probe.Failure);
    }

    [Fact]
    public void Real_probe_here_says_why_cuda_is_unusable_instead_of_returning_zero()
    {
        var probe = CudaDriver.Probe();
        if (probe.Usable) return; // a CUDA machine
        Assert.False(string.IsNullOrWhiteSpace(probe.Failure));
        Assert.DoesNotContain('\n', probe.Failure);
        if (probe.LibraryPath is null) Assert.StartsWith("no CUDA driver library", probe.Failure);
    }

    [Fact]
    public void Resolver_loads_libcuda_so_1_for_ilgpus_cuda_import_when_libcuda_so_is_absent()
    {
        var tried = new List<string>();
        nint Load(string name) { tried.Add(name); return name == "libcuda.so.1" ? 7 : 0; }
        Assert.Equal(7, CudaDriver.Resolve("cuda", Load));
        Assert.Equal(["libcuda.so", "libcuda.so.1"], tried);
        Assert.Equal(0, CudaDriver.Resolve("cuda", _ => 0)); // neither: the runtime's default search follows
        Assert.Equal(3, CudaDriver.Resolve("cuda", n => n == "libcuda.so" ? 3 : 9)); // the unversioned name first
        Assert.Equal(0, CudaDriver.Resolve("nvrtc", _ => 5)); // other imports are left alone
    }

    [Fact]
    public void Resolver_installs_once_and_ilgpu_still_creates_a_cuda_context()
    {
        CudaDriver.EnsureResolver();
        CudaDriver.EnsureResolver();
        using var context = IlgpuDevices.CreateCudaContext();
        Assert.Equal(CudaAvailability.HasDevice, context.GetCudaDevices().Count > 0);
    }
}

public sealed class EnsembleMemoryPlanTests
{
    private static readonly ModelArchitecture Mnist = ModelArchitecture.Mlp(784, [128], 10);

    [Fact]
    public void Per_model_bytes_follow_the_documented_formula()
    {
        // P = 784·128 + 128 + 128·10 + 10 = 101,770; floats = 3P + n + B(D + 128 + 10) + 2·B·128 + B + ⌈n / B⌉.
        var layout = new ParameterLayout(Mnist);
        Assert.Equal(101_770, layout.Count);
        long floats = 3 * 101_770L + 8000 + 64 * (784 + 128 + 10) + 2 * 64 * 128 + 64 + 125;
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
    public void Largest_chunk_keeps_every_index_2_to_the_16_below_2_to_the_31()
    {
        // An H200's memory holds far more MNIST models than a 32-bit index reaches: M·P is the bound
        // (784-128-10: P = 101,770, so M = 21,100 and M·P = 2,147,347,000 ≤ 2³¹ − 2¹⁶; 21,101 would be 2³¹ − 35,478).
        var layout = new ParameterLayout(Mnist);
        var plan = EnsembleMemoryPlan.Create(Mnist, 8000, 2000, 128, 1_000_000, 130L << 30);
        Assert.Equal(21_100, plan.ModelsPerChunk);
        long widest = Math.Max(layout.Count, 128L * 784);
        Assert.True(plan.ModelsPerChunk * widest <= (1L << 31) - (1L << 16));
        Assert.True((plan.ModelsPerChunk + 1) * widest > (1L << 31) - (1L << 16));
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
        var e = Assert.Throws<SpecException>(() => EnsembleMemoryPlan.Create(Mnist, 8000, 100, 64, 10, 20L << 20));
        Assert.StartsWith("execution.backend: the GPU has", e.Message);
        Assert.StartsWith("--backend: the GPU has", SpecFlags.Translate(e));
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

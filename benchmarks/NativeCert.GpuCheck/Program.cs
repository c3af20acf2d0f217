using System.Text.Json;
using System.Text.Json.Nodes;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeCert.Kernels.Engine;

namespace NativeCert.GpuCheck;

/// <summary>
/// <c>nativecert-gpucheck COMMAND [--accelerator cuda|cpu] [--tiny] [--out FILE]</c>: one JSON object on stdout
/// (or FILE), progress on stderr. Exit 0: every check passed; 1: a check failed (the JSON says which); 2: bad usage
/// or no such accelerator (one line on stderr).
/// <list type="bullet">
/// <item><c>info</c>: the CUDA driver probe, ILGPU's device properties, the FP32 peak.</item>
/// <item><c>ptx DIR</c>: every kernel's PTX (sm_90, ISA 8.3) as DIR/NAME.ptx, instruction counts as JSON.</item>
/// <item><c>check</c>: every kernel against the CPU engine at full size (784-128-10, batch 128, the largest chunk
/// the memory plan allows; models 0 and M−1 compared), NaN-poisoned outputs, noise bit for bit.</item>
/// <item><c>gemm</c>: each GEMM product and tile variant at M = 2,000 and the largest M, median of 10 after warm-up,
/// as a fraction of FP32 peak.</item>
/// <item><c>votes [--models 16]</c>: each model's predictions on the built-in MNIST test split, this accelerator
/// against the cpu backend; the differing count.</item>
/// <item><c>report DIR</c>: the one JSON of benchmarks/gpu/device-check.sh from its stages' outputs.</item>
/// </list>
/// <c>--tiny</c> shrinks every size so that ILGPU's CPU accelerator finishes in seconds (the dry run).
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        try
        {
            return Run(args, Console.Out, Console.Error);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"nativecert-gpucheck: {e.Message}");
            return 2;
        }
    }

    public static int Run(string[] args, TextWriter stdout, TextWriter log)
    {
        if (args.Length == 0) throw new UsageException("expected a command: info, ptx DIR, check, gemm, votes, report DIR");
        var options = new Options(args[1..]);
        string command = args[0];
        JsonObject result;
        bool passed = true;
        switch (command)
        {
            case "info":
                result = Info(options);
                break;
            case "ptx":
                result = PtxReport.Write(options.Positional ?? throw new UsageException("ptx: expected an output directory"), log);
                break;
            case "check":
                using (var device = Device.Open(options))
                    (result, passed) = KernelChecks.Run(device, options.Tiny, options.Int("--seed", Environment.TickCount), log);
                break;
            case "gemm":
                using (var device = Device.Open(options))
                    result = GemmSpeed.Run(device, options.Tiny, options.Int("--reps", 10), log);
                break;
            case "report":
                result = DeviceReport.Build(options.Positional ?? throw new UsageException("report: expected the device-check output directory"), options);
                passed = result["all_stages_passed"]!.GetValue<bool>();
                break;
            case "votes":
                using (var device = Device.Open(options))
                    (result, passed) = VoteComparison.Run(device, options.Tiny, options.Int("--models", 16), log);
                break;
            default:
                throw new UsageException($"unknown command '{command}'; expected info, ptx, check, gemm, votes or report");
        }
        result["passed"] = passed;
        string json = result.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (options.Out is { } path) File.WriteAllText(path, json + "\n");
        else stdout.WriteLine(json);
        return passed ? 0 : 1;
    }

    private static JsonObject Info(Options options)
    {
        var probe = CudaDriver.Probe();
        var o = new JsonObject
        {
            ["cuda_driver"] = new JsonObject
            {
                ["library"] = probe.LibraryPath,
                ["driver_version"] = CudaDriver.FormatVersion(probe.DriverVersion),
                ["device_count"] = probe.DeviceCount,
                ["failure"] = probe.Failure,
            },
        };
        if (options.Accelerator == "cuda" && !probe.Usable) return o;
        using var device = Device.Open(options);
        o["device"] = device.Describe();
        return o;
    }
}

/// <summary>A usage error: one line on stderr, exit 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The few options every command takes.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = [];
    public bool Tiny { get; }
    public string? Positional { get; }
    public string Accelerator => _values.GetValueOrDefault("--accelerator", "cuda");
    public string? Out => _values.GetValueOrDefault("--out");
    public string? Value(string name) => _values.GetValueOrDefault(name);

    public Options(string[] args)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--tiny") Tiny = true;
            else if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                if (i + 1 >= args.Length) throw new UsageException($"{args[i]}: expected a value");
                _values[args[i]] = args[++i];
            }
            else if (Positional is null) Positional = args[i];
            else throw new UsageException($"unexpected argument '{args[i]}'");
        }
        if (Accelerator is not ("cuda" or "cpu")) throw new UsageException($"--accelerator: expected cuda or cpu, got '{Accelerator}'");
    }

    public int Int(string name, int fallback) =>
        !_values.TryGetValue(name, out string? v) ? fallback
        : int.TryParse(v, out int n) && n > 0 ? n : throw new UsageException($"{name}: expected a positive integer, got '{v}'");
}

/// <summary>One ILGPU accelerator (the first CUDA GPU, or the 256-thread CPU accelerator) and its kernels.</summary>
internal sealed class Device : IDisposable
{
    public Context Context { get; }
    public Accelerator Accelerator { get; }
    public KernelSet Kernels { get; }
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;
    /// <summary>FP32 (non-tensor) peak in GFLOP/s; 0 on the CPU accelerator.</summary>
    public double PeakGflops => IlgpuDevices.PeakFp32Gflops(Accelerator);

    private Device(Context context, Accelerator accelerator)
    {
        Context = context;
        Accelerator = accelerator;
        Kernels = new KernelSet(accelerator);
    }

    public static Device Open(Options options)
    {
        if (options.Accelerator == "cpu")
        {
            var cpu = IlgpuDevices.CreateCpuContext();
            return new Device(cpu, IlgpuDevices.CpuDevice.CreateAccelerator(cpu));
        }
        var probe = CudaDriver.Probe();
        if (!probe.Usable) throw new UsageException($"--accelerator cuda: {probe.Failure}");
        var context = IlgpuDevices.CreateCudaContext();
        var devices = context.GetCudaDevices();
        if (devices.Count == 0)
        {
            context.Dispose();
            throw new UsageException($"--accelerator cuda: ILGPU found no CUDA device although the driver ({probe.LibraryPath}) reports {probe.DeviceCount}");
        }
        return new Device(context, devices[0].CreateAccelerator(context));
    }

    public JsonObject Describe()
    {
        var a = Accelerator;
        var o = new JsonObject
        {
            ["name"] = a.Name,
            ["type"] = a.AcceleratorType.ToString(),
            ["multiprocessors"] = a.NumMultiprocessors,
            ["memory_bytes"] = a.MemorySize,
            ["usable_bytes"] = IlgpuDevices.UsableMemoryBytes(a),
            ["warp_size"] = a.WarpSize,
            ["max_threads_per_group"] = a.MaxNumThreadsPerGroup,
            ["max_shared_memory_per_group"] = a.MaxSharedMemoryPerGroup,
            ["fp32_peak_gflops"] = Math.Round(PeakGflops, 1),
        };
        if (a is CudaAccelerator cuda)
        {
            o["architecture"] = cuda.Architecture.ToString();
            o["instruction_set"] = cuda.InstructionSet.ToString();
            o["clock_khz"] = cuda.ClockRate;
            o["driver_version"] = cuda.DriverVersion.ToString();
            o["l2_cache_bytes"] = cuda.L2CacheSize;
        }
        return o;
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        Context.Dispose();
    }
}

using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Kernels.Engine;

namespace NativeCert.Kernels;

/// <summary>
/// Resolves backend names (<see cref="Runs.RunExecution.Backend"/>) to ensemble backends: <c>cpu</c> (the SIMD engine), <c>cuda</c> (ILGPU on the
/// first CUDA GPU), <c>ilgpu-cpu</c> (the same kernels on ILGPU's CPU accelerator; slow, for tests) and <c>auto</c>
/// (cuda when a CUDA device is present and starts, else cpu, saying why). The choice is always written to the log.
/// </summary>
internal static class BackendFactory
{
    public const string Cpu = "cpu", Cuda = IlgpuEnsembleBackend.CudaName, IlgpuCpu = IlgpuEnsembleBackend.CpuAcceleratorName, Auto = "auto";

    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = [Auto, Cpu, Cuda, IlgpuCpu];

    /// <summary>
    /// Creates the backend named <paramref name="name"/> and writes one line saying which backend and device it is to
    /// <paramref name="log"/>.
    /// </summary>
    /// <param name="threads">Worker threads of the cpu backend; ≤ 0 means all logical processors. Ignored by GPU backends.</param>
    /// <exception cref="UserInputException">Unknown name, or <c>cuda</c> requested and no CUDA device can start (the
    /// message says why: no driver library, no device, the driver or ILGPU failed).</exception>
    public static IEnsembleBackend Create(string name, int threads, TextWriter log) =>
        Create(name, threads, log, CudaDriver.Probe);

    /// <summary><see cref="Create(string, int, TextWriter)"/> with the CUDA driver probe injected (for tests).</summary>
    internal static IEnsembleBackend Create(string name, int threads, TextWriter log, Func<CudaProbe> probeCuda)
    {
        ArgumentNullException.ThrowIfNull(log);
        IEnsembleBackend backend;
        switch (name?.Trim().ToLowerInvariant())
        {
            case Cpu:
                backend = new CpuEnsembleBackend(threads);
                break;
            case Cuda:
                backend = IlgpuEnsembleBackend.CreateCuda(probeCuda(), log: log);
                break;
            case IlgpuCpu:
                backend = IlgpuEnsembleBackend.CreateCpuAccelerator(log: log);
                break;
            case Auto:
                backend = CreateAuto(threads, log, probeCuda);
                break;
            default:
                throw new Spec.SpecException($"execution.backend: unknown backend '{name}'; expected one of {string.Join(", ", Names)}", "execution.backend");
        }
        log.WriteLine($"backend: {backend.Name} on {backend.Device}");
        return backend;
    }

    private static IEnsembleBackend CreateAuto(int threads, TextWriter log, Func<CudaProbe> probeCuda)
    {
        var probe = probeCuda();
        if (!probe.Usable)
        {
            log.WriteLine($"backend auto: {probe.Failure ?? "no CUDA device"}; using cpu");
            return new CpuEnsembleBackend(threads);
        }
        try
        {
            var cuda = IlgpuEnsembleBackend.CreateCuda(probe, log: log);
            log.WriteLine("backend auto: CUDA device found, using cuda");
            return cuda;
        }
        catch (UserInputException e)
        {
            // "cuda: why", without the field and the hint: auto already chose what to do instead.
            string why = e.Message.Replace(IlgpuEnsembleBackend.CpuHint, "").Replace(IlgpuEnsembleBackend.BackendField + " ", "");
            log.WriteLine($"backend auto: {why}; falling back to cpu");
            return new CpuEnsembleBackend(threads);
        }
    }
}

using NativeCert.Engine;
using NativeCert.Kernels;

namespace NativeCert.Cli;

/// <summary>The one place a <c>--backend</c> name becomes an engine: <see cref="BackendFactory"/> (cpu, cuda, ilgpu-cpu, auto).</summary>
public static class Backends
{
    /// <summary>Names accepted by <c>--backend</c>.</summary>
    public static readonly string[] Names = [.. BackendFactory.Names];

    /// <param name="name">Backend name: cpu, cuda, ilgpu-cpu or auto (cuda when a CUDA device starts, else cpu).</param>
    /// <param name="threads">CPU worker threads, ≤ 0 for all logical processors.</param>
    /// <param name="log">Where the chosen backend and device are reported (stderr in commands); null: nowhere.</param>
    public static IEnsembleBackend Create(string name, int threads, TextWriter? log = null) =>
        BackendFactory.Create(name, threads, log ?? TextWriter.Null);
}

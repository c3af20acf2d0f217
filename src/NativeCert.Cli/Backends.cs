using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Cli;

/// <summary>The one place a <c>--backend</c> name becomes an engine; other backends register here.</summary>
public static class Backends
{
    /// <summary>Names accepted by <c>--backend</c>.</summary>
    public static readonly string[] Names = ["cpu"];

    /// <param name="name">Backend name (<c>cpu</c>).</param>
    /// <param name="threads">CPU worker threads, ≤ 0 for all logical processors.</param>
    public static IEnsembleBackend Create(string name, int threads) => name switch
    {
        "cpu" => new CpuEnsembleBackend(threads),
        _ => throw new UserInputException($"--backend: unknown backend '{name}' (expected one of: {string.Join(", ", Names)})"),
    };
}

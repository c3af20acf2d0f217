namespace NativeCert.Engine.Cpu;

/// <summary>
/// A kernel's compile-time switch, passed as a type argument (<see cref="Yes"/> or <see cref="No"/>): the JIT compiles
/// each combination as its own method and drops the branches the flags rule out (CpuConvGemm's 24-wide forward on
/// both levels, CpuConvKernels.PoolRow8).
/// </summary>
internal interface IFlag
{
    static abstract bool On { get; }
}

internal struct Yes : IFlag
{
    public static bool On => true;
}

internal struct No : IFlag
{
    public static bool On => false;
}

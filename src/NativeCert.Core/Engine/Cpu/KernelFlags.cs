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

/// <summary>
/// A kernel's compile-time count, passed as a type argument (<see cref="Count8"/>, <see cref="Count16"/>,
/// <see cref="Count32"/>): the JIT folds it into every address and branch, so a row stride of that many floats is a
/// constant displacement (CpuConvGemm's AVX2 weight-gradient pass) and one body serves two block heights
/// (CpuGemm's AVX-512 column tail).
/// </summary>
internal interface ICount
{
    static abstract int Value { get; }
}

internal struct Count8 : ICount
{
    public static int Value => 8;
}

internal struct Count16 : ICount
{
    public static int Value => 16;
}

internal struct Count32 : ICount
{
    public static int Value => 32;
}

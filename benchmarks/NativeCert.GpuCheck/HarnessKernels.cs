using ILGPU;
using ILGPU.Runtime;
using NativeCert.Noise;

namespace NativeCert.GpuCheck;

/// <summary>
/// Device-side filling and counting for the checks: fresh random inputs drawn on the device (gigabytes at full
/// size; the host recomputes only the slices it compares, with the same function), NaN poison, NaN counts.
/// Grid-stride loops, so one launch of ≤ 2²⁶ threads covers any length.
/// </summary>
internal static class HarnessKernels
{
    /// <summary>Element <paramref name="e"/> of the random fill with <paramref name="seed"/>: uniform in [−1, 1), from Philox.</summary>
    public static float Value(long e, uint seed)
    {
        PhiloxBlock b = Philox4x32.Block((uint)(e >> 2), (uint)(e >> 34), seed, 0xC4ECu, 0x9E3779B9u, 0x7F4A7C15u);
        int lane = (int)(e & 3);
        uint x = lane == 0 ? b.X0 : lane == 1 ? b.X1 : lane == 2 ? b.X2 : b.X3;
        return (int)x * (1.0f / 2147483648.0f);
    }

    public static void UniformKernel(Index1D i, ArrayView<float> a, long threads, uint seed)
    {
        for (long e = i; e < a.Length; e += threads) a[e] = Value(e, seed);
    }

    public static void PoisonKernel(Index1D i, ArrayView<float> a, long threads)
    {
        for (long e = i; e < a.Length; e += threads) a[e] = float.NaN;
    }

    public static void CountNaNKernel(Index1D i, ArrayView<float> a, ArrayView<long> count, long threads)
    {
        long n = 0;
        for (long e = i; e < a.Length; e += threads)
            if (a[e] != a[e]) n++;
        if (n > 0) Atomic.Add(ref count[0], n);
    }
}

/// <summary>The harness kernels loaded on one accelerator.</summary>
internal sealed class Fill
{
    private readonly Accelerator _accelerator;
    private readonly Action<Index1D, ArrayView<float>, long, uint> _uniform;
    private readonly Action<Index1D, ArrayView<float>, long> _poison;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<long>, long> _countNaN;
    private readonly MemoryBuffer1D<long, Stride1D.Dense> _count;

    public Fill(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _uniform = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, long, uint>(HarnessKernels.UniformKernel);
        _poison = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, long>(HarnessKernels.PoisonKernel);
        _countNaN = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<long>, long>(HarnessKernels.CountNaNKernel);
        _count = accelerator.Allocate1D<long>(1);
    }

    private int Threads(long length) =>
        (int)Math.Max(1, Math.Min(length, _accelerator.AcceleratorType == AcceleratorType.Cuda ? 1L << 26 : 1024));

    public void Uniform(ArrayView<float> a, uint seed) { int t = Threads(a.Length); _uniform(t, a, t, seed); }
    public void Poison(ArrayView<float> a) { int t = Threads(a.Length); _poison(t, a, t); }

    public long CountNaN(ArrayView<float> a)
    {
        _count.MemSetToZero();
        int t = Threads(a.Length);
        _countNaN(t, a, _count.View, t);
        _accelerator.Synchronize();
        return _count.GetAsArray1D()[0];
    }

    /// <summary>Elements [offset, offset + count) of <paramref name="a"/> on the host.</summary>
    public static float[] Download(ArrayView<float> a, long offset, int count)
    {
        var host = new float[count];
        a.SubView(offset, count).CopyToCPU(host);
        return host;
    }

    /// <summary>The host's copy of the random fill, elements [offset, offset + count).</summary>
    public static float[] HostUniform(long offset, int count, uint seed)
    {
        var host = new float[count];
        for (int i = 0; i < count; i++) host[i] = HarnessKernels.Value(offset + i, seed);
        return host;
    }
}

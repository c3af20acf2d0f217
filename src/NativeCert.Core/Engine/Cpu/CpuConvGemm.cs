using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Convolution products that read the images directly instead of im2col columns (im2col folded into the kernel's
/// operand loads), for shapes where the general <see cref="CpuGemm"/> blocking wastes most of its work: a weight
/// gradient with 16 output channels (LeNet's conv1: dWᵀ is 25 × 16, so the GEMM's 8-row blocks run 32 rows for 25
/// and re-stream the columns once per block). Each element is still one FMA chain over (b, oy, ox) ascending, so the
/// result is bit for bit that of im2col + <see cref="CpuGemm.GemmAccumulate"/> (docs/engine.md, accumulation order).
/// </summary>
[SkipLocalsInit]
internal static unsafe class CpuConvGemm
{
    /// <summary>Rows of dWᵀ one pass keeps in registers: 13 accumulators + the dY vector, with room for the broadcasts.</summary>
    private const int RowsPerPass = 13;

    /// <summary>Whether <see cref="WeightGradient16"/> runs this shape at this ISA level (AVX-512, 16 output channels, no padding).</summary>
    public static bool HasWeightGradient16(int CO, int P, IsaLevel isa) =>
        CO == 16 && P == 0 && CpuIsa.Clamp(isa) >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// dWᵀ <c>(CI·K·K, 16)</c> (+)= Σ over the <paramref name="nb"/> images' outputs n = (b, oy, ox) ascending of
    /// input(b, ci, oy + ky, ox + kx) · dYᵀ[n, ·], the chain of each element continuing from <paramref name="dwT"/> unless
    /// <paramref name="first"/> (then from 0). <paramref name="input"/> points at the group's first image (strides
    /// <paramref name="s"/>), <paramref name="dyT"/> is the group's output gradient transposed <c>(nb·OH·OW, 16)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient16(float* dwT, float* input, ImageStrides s, float* dyT, int nb, int CI, int W, int OH, int OW, int K, bool first)
    {
        int CKK = CI * K * K;
        // Offset of column row (ci, ky, kx) from the image pixel of output (oy, ox): what im2col would have copied.
        int* offsets = stackalloc int[CKK];
        for (int ci = 0; ci < CI; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) offsets[(ci * K + ky) * K + kx] = ci * s.Channel + ky * W + kx;
        for (int r = 0; r < CKK; r += RowsPerPass)
            Pass(dwT + (nint)r * 16, offsets + r, Math.Min(RowsPerPass, CKK - r), input, s.Example, dyT, nb, W, OH, OW, first);
    }

    /// <summary>Up to 13 rows of dWᵀ over the whole group; rows past <paramref name="rows"/> alias the last row and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass(float* dwT, int* offsets, int rows, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
    {
        int last = rows - 1;
        nint o0 = offsets[0], o1 = offsets[Math.Min(1, last)], o2 = offsets[Math.Min(2, last)], o3 = offsets[Math.Min(3, last)],
            o4 = offsets[Math.Min(4, last)], o5 = offsets[Math.Min(5, last)], o6 = offsets[Math.Min(6, last)], o7 = offsets[Math.Min(7, last)],
            o8 = offsets[Math.Min(8, last)], o9 = offsets[Math.Min(9, last)], o10 = offsets[Math.Min(10, last)], o11 = offsets[Math.Min(11, last)],
            o12 = offsets[Math.Min(12, last)];
        var z = Vector512<float>.Zero;
        Vector512<float> a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z, a8 = z, a9 = z, a10 = z, a11 = z, a12 = z;
        if (!first)
        {
            // Rows past the last start from the last row's value: they are computed alongside and never stored.
            Vector512<float> L(int r) => Vector512.Load(dwT + (nint)Math.Min(r, last) * 16);
            a0 = L(0); a1 = L(1); a2 = L(2); a3 = L(3); a4 = L(4); a5 = L(5); a6 = L(6); a7 = L(7); a8 = L(8); a9 = L(9);
            a10 = L(10); a11 = L(11); a12 = L(12);
        }
        float* g = dyT;
        for (int b = 0; b < nb; b++)
            for (int oy = 0; oy < OH; oy++)
            {
                float* p = input + (nint)b * example + (nint)oy * W;
                for (int ox = 0; ox < OW; ox++, p++, g += 16)
                {
                    var d = Vector512.Load(g);
                    a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o0]), d, a0);
                    a1 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o1]), d, a1);
                    a2 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o2]), d, a2);
                    a3 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o3]), d, a3);
                    a4 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o4]), d, a4);
                    a5 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o5]), d, a5);
                    a6 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o6]), d, a6);
                    a7 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o7]), d, a7);
                    a8 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o8]), d, a8);
                    a9 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o9]), d, a9);
                    a10 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o10]), d, a10);
                    a11 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o11]), d, a11);
                    a12 = Vector512.FusedMultiplyAdd(Vector512.Create(p[o12]), d, a12);
                }
            }
        // Only the real rows are stored.
        if (rows > 12) a12.Store(dwT + 12 * 16);
        if (rows > 11) a11.Store(dwT + 11 * 16);
        if (rows > 10) a10.Store(dwT + 10 * 16);
        if (rows > 9) a9.Store(dwT + 9 * 16);
        if (rows > 8) a8.Store(dwT + 8 * 16);
        if (rows > 7) a7.Store(dwT + 7 * 16);
        if (rows > 6) a6.Store(dwT + 6 * 16);
        if (rows > 5) a5.Store(dwT + 5 * 16);
        if (rows > 4) a4.Store(dwT + 4 * 16);
        if (rows > 3) a3.Store(dwT + 3 * 16);
        if (rows > 2) a2.Store(dwT + 2 * 16);
        if (rows > 1) a1.Store(dwT + 16);
        a0.Store(dwT);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Convolution products fused with their im2col / col2im, for the shapes LeNet runs where the general
/// <see cref="CpuGemm"/> path spends its time on the column buffer rather than on FMAs:
/// <list type="bullet">
/// <item>a weight gradient with 16 or 32 output channels (LeNet's conv1: dWᵀ is 25 × 16, so the GEMM's 8-row blocks run
/// 32 rows for 25 and re-stream the columns once per block; conv2: 400 × 32) reads the images directly (im2col folded
/// into the operand loads); each element is still one FMA chain over (b, oy, ox) ascending, bit for bit im2col +
/// <see cref="CpuGemm.GemmAccumulate"/>;</item>
/// <item>a forward pass with 8×8 outputs (LeNet's conv2) reads each output's 25·CI inputs straight from the image (two
/// 8-float rows per vector of 16 outputs) instead of im2col columns: each output is still one FMA chain over
/// (ci, ky, kx) ascending from 0, then + bias, then ReLU, bit for bit im2col + <see cref="CpuGemm.Gemm"/> and the bias pass;</item>
/// <item>a forward pass with 24-wide output rows (LeNet's conv1, 24×24 outputs) likewise: two output rows are three
/// vectors (the middle one joins the first row's last 8 outputs and the second row's first 8);</item>
/// <item>an input gradient of 8×8 outputs (LeNet's conv2) computes the column gradients of one image, 4 column rows at a
/// time, in registers and adds them straight into dX (col2im folded into the GEMM's epilogue): each column gradient is
/// still one FMA chain over co ascending from 0, and each input gradient still receives its terms in (ci, ky, kx)
/// order (a tile covers whole images, so rows are added tile by tile, row by row), bit for bit Wᵀ·dY + col2im.</item>
/// </list>
/// AVX-512 only; the other levels (and other shapes) run the general path, which computes the same bits (docs/engine.md,
/// accumulation order).
/// </summary>
[SkipLocalsInit]
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// When false, every conv runs the general im2col + <see cref="CpuGemm"/> path (same bits): the 'before' side of
    /// `ab conv` and a cross-check in the tests. A knob, like <see cref="CpuConvKernels.ChunkFloats"/>.
    /// </summary>
    internal static bool Enabled = true;

    /// <summary>Rows of dWᵀ one pass keeps in registers: 13 accumulators + the dY vector, with room for the broadcasts.</summary>
    private const int RowsPerPass = 13;

    /// <summary>Whether <see cref="WeightGradient"/> runs this shape at this ISA level (AVX-512, 16 or 32 output channels, no padding).</summary>
    public static bool HasWeightGradient(int CO, int P, IsaLevel isa) =>
        Enabled && (CO == 16 || CO == 32) && P == 0 && CpuIsa.Clamp(isa) >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// dWᵀ <c>(CI·K·K, CO)</c>, CO = 16 or 32, (+)= Σ over the <paramref name="nb"/> images' outputs n = (b, oy, ox) ascending of
    /// input(b, ci, oy + ky, ox + kx) · dYᵀ[n, ·], the chain of each element continuing from <paramref name="dwT"/> unless
    /// <paramref name="first"/> (then from 0). <paramref name="input"/> points at the group's first image (strides
    /// <paramref name="s"/>), <paramref name="dyT"/> is the group's output gradient transposed <c>(nb·OH·OW, CO)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient(float* dwT, int CO, float* input, ImageStrides s, float* dyT, int nb, int CI, int W, int OH, int OW, int K, bool first)
    {
        int CKK = CI * K * K;
        int* offsets = stackalloc int[CKK];
        ColumnOffsets(offsets, s, CI, W, K);
        if (CO == 16 && CI == 1 && K == 5)
            Pass25(dwT, input, s.Example, dyT, nb, W, OH, OW, first);
        else if (CO == 16)
            for (int r = 0; r < CKK; r += RowsPerPass)
                Pass(dwT + (nint)r * 16, offsets + r, Math.Min(RowsPerPass, CKK - r), input, s.Example, dyT, nb, W, OH, OW, first);
        else if (K == 5)
            // Two (ci, ky) row groups of 5 kx per pass; an odd last group runs alone (its twin aliases it, not stored).
            for (int r = 0; r < CKK; r += 10)
                Pass32x10(dwT + (nint)r * 32, offsets[r], offsets[Math.Min(r + 5, CKK - 5)], r + 10 <= CKK, input, s.Example, dyT, nb, W, OH, OW, first);
        else
            for (int r = 0; r < CKK; r += 8)
                Pass32(dwT + (nint)r * 32, offsets + r, Math.Min(8, CKK - r), input, s.Example, dyT, nb, W, OH, OW, first);
    }

    /// <summary>
    /// All 25 rows of a 1-channel 5×5 kernel's dWᵀ (LeNet's conv1) in one pass over the group: 25 accumulators and the dY
    /// vector fill 26 of the 32 registers, each row reads its input through one of five row pointers at a constant
    /// offset (folded into the FMA as a broadcast operand), and dYᵀ is streamed once instead of once per 13 rows.
    /// The same chains as <see cref="Pass"/>: (b, oy, ox) ascending, from <paramref name="dwT"/> unless <paramref name="first"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass25(float* dwT, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a02 = z, a03 = z, a04 = z, a10 = z, a11 = z, a12 = z, a13 = z, a14 = z, a20 = z, a21 = z, a22 = z, a23 = z, a24 = z, a30 = z, a31 = z, a32 = z, a33 = z, a34 = z, a40 = z, a41 = z, a42 = z, a43 = z, a44 = z;
        if (!first)
        {
            a00 = Vector512.Load(dwT + 0);
            a01 = Vector512.Load(dwT + 16);
            a02 = Vector512.Load(dwT + 32);
            a03 = Vector512.Load(dwT + 48);
            a04 = Vector512.Load(dwT + 64);
            a10 = Vector512.Load(dwT + 80);
            a11 = Vector512.Load(dwT + 96);
            a12 = Vector512.Load(dwT + 112);
            a13 = Vector512.Load(dwT + 128);
            a14 = Vector512.Load(dwT + 144);
            a20 = Vector512.Load(dwT + 160);
            a21 = Vector512.Load(dwT + 176);
            a22 = Vector512.Load(dwT + 192);
            a23 = Vector512.Load(dwT + 208);
            a24 = Vector512.Load(dwT + 224);
            a30 = Vector512.Load(dwT + 240);
            a31 = Vector512.Load(dwT + 256);
            a32 = Vector512.Load(dwT + 272);
            a33 = Vector512.Load(dwT + 288);
            a34 = Vector512.Load(dwT + 304);
            a40 = Vector512.Load(dwT + 320);
            a41 = Vector512.Load(dwT + 336);
            a42 = Vector512.Load(dwT + 352);
            a43 = Vector512.Load(dwT + 368);
            a44 = Vector512.Load(dwT + 384);
        }
        float* g = dyT;
        nint w = W;
        for (int b = 0; b < nb; b++)
            for (int oy = 0; oy < OH; oy++)
            {
                float* p0 = input + (nint)b * example + (nint)oy * W, p1 = p0 + w, p2 = p1 + w, p3 = p2 + w, p4 = p3 + w;
                for (int ox = 0; ox < OW; ox++, p0++, p1++, p2++, p3++, p4++, g += 16)
                {
                    var d = Vector512.Load(g);
                    a00 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[0]), d, a00); a01 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[1]), d, a01); a02 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[2]), d, a02);
                    a03 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[3]), d, a03); a04 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[4]), d, a04);
                    a10 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[0]), d, a10); a11 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[1]), d, a11); a12 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[2]), d, a12);
                    a13 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[3]), d, a13); a14 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[4]), d, a14);
                    a20 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[0]), d, a20); a21 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[1]), d, a21); a22 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[2]), d, a22);
                    a23 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[3]), d, a23); a24 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[4]), d, a24);
                    a30 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[0]), d, a30); a31 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[1]), d, a31); a32 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[2]), d, a32);
                    a33 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[3]), d, a33); a34 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[4]), d, a34);
                    a40 = Vector512.FusedMultiplyAdd(Vector512.Create(p4[0]), d, a40); a41 = Vector512.FusedMultiplyAdd(Vector512.Create(p4[1]), d, a41); a42 = Vector512.FusedMultiplyAdd(Vector512.Create(p4[2]), d, a42);
                    a43 = Vector512.FusedMultiplyAdd(Vector512.Create(p4[3]), d, a43); a44 = Vector512.FusedMultiplyAdd(Vector512.Create(p4[4]), d, a44);
                }
            }
        a00.Store(dwT + 0);
        a01.Store(dwT + 16);
        a02.Store(dwT + 32);
        a03.Store(dwT + 48);
        a04.Store(dwT + 64);
        a10.Store(dwT + 80);
        a11.Store(dwT + 96);
        a12.Store(dwT + 112);
        a13.Store(dwT + 128);
        a14.Store(dwT + 144);
        a20.Store(dwT + 160);
        a21.Store(dwT + 176);
        a22.Store(dwT + 192);
        a23.Store(dwT + 208);
        a24.Store(dwT + 224);
        a30.Store(dwT + 240);
        a31.Store(dwT + 256);
        a32.Store(dwT + 272);
        a33.Store(dwT + 288);
        a34.Store(dwT + 304);
        a40.Store(dwT + 320);
        a41.Store(dwT + 336);
        a42.Store(dwT + 352);
        a43.Store(dwT + 368);
        a44.Store(dwT + 384);
    }

    /// <summary>
    /// 10 rows of a 32-column dWᵀ over the whole group: the 5 kx of row group (ci, ky) at input offset <paramref name="o0"/>
    /// and of the next at <paramref name="o1"/> (stored only when <paramref name="both"/>), 20 accumulators, every
    /// broadcast one of two row pointers plus a constant. The same chains as <see cref="Pass32"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass32x10(float* dwT, int o0, int o1, bool both, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z, a60 = z, a61 = z, a70 = z, a71 = z, a80 = z, a81 = z, a90 = z, a91 = z;
        if (!first)
        {
            a00 = Vector512.Load(dwT + 0); a01 = Vector512.Load(dwT + 0 + 16);
            a10 = Vector512.Load(dwT + 32); a11 = Vector512.Load(dwT + 32 + 16);
            a20 = Vector512.Load(dwT + 64); a21 = Vector512.Load(dwT + 64 + 16);
            a30 = Vector512.Load(dwT + 96); a31 = Vector512.Load(dwT + 96 + 16);
            a40 = Vector512.Load(dwT + 128); a41 = Vector512.Load(dwT + 128 + 16);
            a50 = Vector512.Load((both ? dwT + 160 : dwT + 0)); a51 = Vector512.Load((both ? dwT + 160 : dwT + 0) + 16);
            a60 = Vector512.Load((both ? dwT + 192 : dwT + 32)); a61 = Vector512.Load((both ? dwT + 192 : dwT + 32) + 16);
            a70 = Vector512.Load((both ? dwT + 224 : dwT + 64)); a71 = Vector512.Load((both ? dwT + 224 : dwT + 64) + 16);
            a80 = Vector512.Load((both ? dwT + 256 : dwT + 96)); a81 = Vector512.Load((both ? dwT + 256 : dwT + 96) + 16);
            a90 = Vector512.Load((both ? dwT + 288 : dwT + 128)); a91 = Vector512.Load((both ? dwT + 288 : dwT + 128) + 16);
        }
        float* g = dyT;
        for (int b = 0; b < nb; b++)
            for (int oy = 0; oy < OH; oy++)
            {
                float* row = input + (nint)b * example + (nint)oy * W, p = row + o0, q = row + o1;
                int ox = 0;
                // Rows of 8 outputs (LeNet's conv2) run unrolled: a loop of 8 steps ends in a mispredicted branch every
                // 8 × 20 FMAs.
                if (OW == 8)
                {
                    {
                        Vector512<float> d0 = Vector512.Load(g + 0), d1 = Vector512.Load(g + 16);
                        var x0 = Vector512.Create(p[0]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[1]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[2]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[3]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[4]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[0]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[1]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[2]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[3]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[4]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 32), d1 = Vector512.Load(g + 48);
                        var x0 = Vector512.Create(p[1]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[2]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[3]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[4]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[5]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[1]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[2]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[3]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[4]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[5]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 64), d1 = Vector512.Load(g + 80);
                        var x0 = Vector512.Create(p[2]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[3]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[4]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[5]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[6]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[2]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[3]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[4]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[5]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[6]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 96), d1 = Vector512.Load(g + 112);
                        var x0 = Vector512.Create(p[3]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[4]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[5]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[6]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[7]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[3]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[4]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[5]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[6]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[7]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 128), d1 = Vector512.Load(g + 144);
                        var x0 = Vector512.Create(p[4]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[5]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[6]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[7]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[8]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[4]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[5]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[6]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[7]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[8]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 160), d1 = Vector512.Load(g + 176);
                        var x0 = Vector512.Create(p[5]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[6]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[7]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[8]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[9]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[5]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[6]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[7]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[8]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[9]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 192), d1 = Vector512.Load(g + 208);
                        var x0 = Vector512.Create(p[6]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[7]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[8]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[9]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[10]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[6]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[7]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[8]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[9]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[10]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    {
                        Vector512<float> d0 = Vector512.Load(g + 224), d1 = Vector512.Load(g + 240);
                        var x0 = Vector512.Create(p[7]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                        var x1 = Vector512.Create(p[8]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                        var x2 = Vector512.Create(p[9]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                        var x3 = Vector512.Create(p[10]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                        var x4 = Vector512.Create(p[11]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                        var x5 = Vector512.Create(q[7]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                        var x6 = Vector512.Create(q[8]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                        var x7 = Vector512.Create(q[9]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                        var x8 = Vector512.Create(q[10]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                        var x9 = Vector512.Create(q[11]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                    }
                    g += 8 * 32;
                    ox = 8;
                }
                for (p += ox, q += ox; ox < OW; ox++, p++, q++, g += 32)
                {
                    Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16);
                    var x0 = Vector512.Create(p[0]); a00 = Vector512.FusedMultiplyAdd(x0, d0, a00); a01 = Vector512.FusedMultiplyAdd(x0, d1, a01);
                    var x1 = Vector512.Create(p[1]); a10 = Vector512.FusedMultiplyAdd(x1, d0, a10); a11 = Vector512.FusedMultiplyAdd(x1, d1, a11);
                    var x2 = Vector512.Create(p[2]); a20 = Vector512.FusedMultiplyAdd(x2, d0, a20); a21 = Vector512.FusedMultiplyAdd(x2, d1, a21);
                    var x3 = Vector512.Create(p[3]); a30 = Vector512.FusedMultiplyAdd(x3, d0, a30); a31 = Vector512.FusedMultiplyAdd(x3, d1, a31);
                    var x4 = Vector512.Create(p[4]); a40 = Vector512.FusedMultiplyAdd(x4, d0, a40); a41 = Vector512.FusedMultiplyAdd(x4, d1, a41);
                    var x5 = Vector512.Create(q[0]); a50 = Vector512.FusedMultiplyAdd(x5, d0, a50); a51 = Vector512.FusedMultiplyAdd(x5, d1, a51);
                    var x6 = Vector512.Create(q[1]); a60 = Vector512.FusedMultiplyAdd(x6, d0, a60); a61 = Vector512.FusedMultiplyAdd(x6, d1, a61);
                    var x7 = Vector512.Create(q[2]); a70 = Vector512.FusedMultiplyAdd(x7, d0, a70); a71 = Vector512.FusedMultiplyAdd(x7, d1, a71);
                    var x8 = Vector512.Create(q[3]); a80 = Vector512.FusedMultiplyAdd(x8, d0, a80); a81 = Vector512.FusedMultiplyAdd(x8, d1, a81);
                    var x9 = Vector512.Create(q[4]); a90 = Vector512.FusedMultiplyAdd(x9, d0, a90); a91 = Vector512.FusedMultiplyAdd(x9, d1, a91);
                }
            }
        a00.Store(dwT + 0); a01.Store(dwT + 16);
        a10.Store(dwT + 32); a11.Store(dwT + 48);
        a20.Store(dwT + 64); a21.Store(dwT + 80);
        a30.Store(dwT + 96); a31.Store(dwT + 112);
        a40.Store(dwT + 128); a41.Store(dwT + 144);
        if (!both) return;
        a50.Store(dwT + 160); a51.Store(dwT + 176);
        a60.Store(dwT + 192); a61.Store(dwT + 208);
        a70.Store(dwT + 224); a71.Store(dwT + 240);
        a80.Store(dwT + 256); a81.Store(dwT + 272);
        a90.Store(dwT + 288); a91.Store(dwT + 304);
    }

    /// <summary>Up to 8 rows of a 32-column dWᵀ (two vectors a row) over the whole group; rows past <paramref name="rows"/> alias the last row and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pass32(float* dwT, int* offsets, int rows, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
    {
        int last = rows - 1;
        nint o0 = offsets[0], o1 = offsets[Math.Min(1, last)], o2 = offsets[Math.Min(2, last)], o3 = offsets[Math.Min(3, last)],
            o4 = offsets[Math.Min(4, last)], o5 = offsets[Math.Min(5, last)], o6 = offsets[Math.Min(6, last)], o7 = offsets[Math.Min(7, last)];
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z,
            a40 = z, a41 = z, a50 = z, a51 = z, a60 = z, a61 = z, a70 = z, a71 = z;
        if (!first)
        {
            float* c(int r) => dwT + (nint)Math.Min(r, last) * 32;
            a00 = Vector512.Load(c(0)); a01 = Vector512.Load(c(0) + 16); a10 = Vector512.Load(c(1)); a11 = Vector512.Load(c(1) + 16);
            a20 = Vector512.Load(c(2)); a21 = Vector512.Load(c(2) + 16); a30 = Vector512.Load(c(3)); a31 = Vector512.Load(c(3) + 16);
            a40 = Vector512.Load(c(4)); a41 = Vector512.Load(c(4) + 16); a50 = Vector512.Load(c(5)); a51 = Vector512.Load(c(5) + 16);
            a60 = Vector512.Load(c(6)); a61 = Vector512.Load(c(6) + 16); a70 = Vector512.Load(c(7)); a71 = Vector512.Load(c(7) + 16);
        }
        float* g = dyT;
        for (int b = 0; b < nb; b++)
            for (int oy = 0; oy < OH; oy++)
            {
                float* p = input + (nint)b * example + (nint)oy * W;
                for (int ox = 0; ox < OW; ox++, p++, g += 32)
                {
                    Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16);
                    var x = Vector512.Create(p[o0]); a00 = Vector512.FusedMultiplyAdd(x, d0, a00); a01 = Vector512.FusedMultiplyAdd(x, d1, a01);
                    x = Vector512.Create(p[o1]); a10 = Vector512.FusedMultiplyAdd(x, d0, a10); a11 = Vector512.FusedMultiplyAdd(x, d1, a11);
                    x = Vector512.Create(p[o2]); a20 = Vector512.FusedMultiplyAdd(x, d0, a20); a21 = Vector512.FusedMultiplyAdd(x, d1, a21);
                    x = Vector512.Create(p[o3]); a30 = Vector512.FusedMultiplyAdd(x, d0, a30); a31 = Vector512.FusedMultiplyAdd(x, d1, a31);
                    x = Vector512.Create(p[o4]); a40 = Vector512.FusedMultiplyAdd(x, d0, a40); a41 = Vector512.FusedMultiplyAdd(x, d1, a41);
                    x = Vector512.Create(p[o5]); a50 = Vector512.FusedMultiplyAdd(x, d0, a50); a51 = Vector512.FusedMultiplyAdd(x, d1, a51);
                    x = Vector512.Create(p[o6]); a60 = Vector512.FusedMultiplyAdd(x, d0, a60); a61 = Vector512.FusedMultiplyAdd(x, d1, a61);
                    x = Vector512.Create(p[o7]); a70 = Vector512.FusedMultiplyAdd(x, d0, a70); a71 = Vector512.FusedMultiplyAdd(x, d1, a71);
                }
            }
        // Only the real rows are stored.
        if (rows > 7) { a70.Store(dwT + 7 * 32); a71.Store(dwT + 7 * 32 + 16); }
        if (rows > 6) { a60.Store(dwT + 6 * 32); a61.Store(dwT + 6 * 32 + 16); }
        if (rows > 5) { a50.Store(dwT + 5 * 32); a51.Store(dwT + 5 * 32 + 16); }
        if (rows > 4) { a40.Store(dwT + 4 * 32); a41.Store(dwT + 4 * 32 + 16); }
        if (rows > 3) { a30.Store(dwT + 3 * 32); a31.Store(dwT + 3 * 32 + 16); }
        if (rows > 2) { a20.Store(dwT + 2 * 32); a21.Store(dwT + 2 * 32 + 16); }
        if (rows > 1) { a10.Store(dwT + 32); a11.Store(dwT + 32 + 16); }
        a00.Store(dwT); a01.Store(dwT + 16);
    }

    /// <summary>
    /// offsets[(ci·K + ky)·K + kx] = where column row (ci, ky, kx) reads, from the image pixel of output (oy, ox) (no
    /// padding): what im2col would have copied there.
    /// </summary>
    private static void ColumnOffsets(int* offsets, ImageStrides s, int CI, int W, int K)
    {
        for (int ci = 0; ci < CI; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) offsets[(ci * K + ky) * K + kx] = ci * s.Channel + ky * W + kx;
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

    /// <summary>Whether <see cref="Forward8x8"/> and <see cref="InputGradient8x8"/> run this shape at this ISA level (AVX-512, 8×8 outputs, no padding).</summary>
    public static bool Has8x8(int OH, int OW, int P, IsaLevel isa) =>
        Enabled && OH == 8 && OW == 8 && P == 0 && CpuIsa.Clamp(isa) >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// dinput = col2im(Wᵀ · dY) for B images of 8×8 outputs, no padding: dinput is cleared, then for each image, column
    /// rows (ci, ky, kx) ascending, 4 at a time, each row's 64 column gradients (FMA chains over co from 0) are added into
    /// the image's input gradient. <paramref name="doutput"/> is <c>(CO, N)</c> with the batch's images at column
    /// b·64, <paramref name="weight"/> is <c>(CO, CI·K·K)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient8x8(float* dinput, ImageStrides s, float* doutput, int N, float* weight, int B, int CI, int H, int W, int CO, int K)
    {
        int CKK = CI * K * K;
        if (K != 5)
            for (int ci = 0; ci < CI; ci++)
                for (int b = 0; b < B; b++)
                    new Span<float>(dinput + (nint)ci * s.Channel + (nint)b * s.Example, H * W).Clear();
        // For K = 5 each image's dX is summed in a packed block (channels of 144 floats, cleared per image) and then
        // copied out whole: in place its channel planes are B·144 floats apart (a multiple of 4 KiB for LeNet), so the
        // 16 planes' rows fight over the same L1 sets on every read-modify-write.
        float* dxPacked = K == 5 ? AlignedScratch(ref t_dxPacked, ref t_dxPackedFloats, CI * 144) : null;
        int* offsets = stackalloc int[CKK];
        ColumnOffsets(offsets, s, CI, W, K);
        // The image's dY (CO rows of 64) is packed contiguously first: in place its rows are N floats apart, a large
        // power of two for LeNet's batch, so they would all fall in the same few L1 sets and every tile would miss.
        float[] packed = t_packed is { } p && p.Length >= CO * 64 ? p : (t_packed = new float[CO * 64]);
        // For K = 5 the weights are packed per (ci, ky) as (CO, 5), so a tile reads them through one advancing pointer.
        float* wPacked = K == 5 ? AlignedScratch(ref t_weightDx, ref t_weightDxFloats, CKK * CO) : null;
        if (K == 5)
            for (int r = 0; r < CI * 5; r++)
                for (int co = 0; co < CO; co++)
                    for (int kx = 0; kx < 5; kx++) wPacked[((nint)r * CO + co) * 5 + kx] = weight[(nint)co * CKK + r * 5 + kx];
        fixed (float* dyPacked = packed)
            for (int b = 0; b < B; b++)
            {
                for (int co = 0; co < CO; co++)
                {
                    float* src = doutput + (nint)co * N + (nint)b * 64, dst = dyPacked + co * 64;
                    Vector512.Load(src).Store(dst); Vector512.Load(src + 16).Store(dst + 16);
                    Vector512.Load(src + 32).Store(dst + 32); Vector512.Load(src + 48).Store(dst + 48);
                }
                if (K == 5)
                {
                    new Span<float>(dxPacked, CI * 144).Clear();
                    int lines = CO * 4, tiles = CI * 5, perTile = (lines + tiles - 1) / tiles, line = 0;
                    for (int ci = 0; ci < CI; ci++)
                        for (int ky = 0; ky < 5; ky++)
                        {
                            // The next image's dY is CO runs of 4 lines, planes a multiple of 4 KiB apart (no hardware
                            // prefetcher follows that many): fetch a share of them under each tile.
                            if (b + 1 < B)
                                for (int l = 0; l < perTile && line < lines; l++, line++)
                                    Sse.Prefetch0(doutput + (nint)(line >> 2) * N + (nint)(b + 1) * 64 + (line & 3) * 16);
                            InputGradientRows5(dxPacked + ci * 144 + ky * 12, wPacked + (nint)(ci * 5 + ky) * CO * 5, dyPacked, CO, s_col2imIndex, s_col2imMask);
                        }
                    for (int ci = 0; ci < CI; ci++) Copy(dinput + (nint)b * s.Example + (nint)ci * s.Channel, dxPacked + ci * 144, 144);
                }
                else
                    for (int r = 0; r < CKK; r += 4)
                        InputGradientTile(dinput + (nint)b * s.Example, offsets + r, Math.Min(4, CKK - r), weight + r, CKK, dyPacked, 64, CO, W);
            }
    }

    [ThreadStatic] private static float[]? t_packed;
    [ThreadStatic] private static float* t_weightDx;
    [ThreadStatic] private static float* t_dxPacked;
    [ThreadStatic] private static int t_dxPackedFloats;
    [ThreadStatic] private static int t_weightDxFloats;

    /// <summary>
    /// Lane tables of <see cref="InputGradientRows5"/>: for the three kinds of 16-float piece of an 8-row, 12-wide dX block
    /// (m = 0, 1, 2; pieces 3, 4, 5 repeat them two rows down) and kx = 0 … 4, which accumulator lane lands in each dX lane
    /// (16 + lane: the second source), and (mask) which dX lanes kx reaches at all.
    /// </summary>
    private static readonly int* s_col2imIndex = Col2ImTables(out s_col2imMask);
    private static readonly float* s_col2imMask;

    private static int* Col2ImTables(out float* mask)
    {
        var index = (int*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(15 * 16 * sizeof(int), 64);
        mask = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(5 * 16 * sizeof(float), 64);
        for (int m = 0; m < 3; m++)
        {
            int jA = m == 2 ? 1 : 0; // the accumulator (2 output rows) holding the piece's first row
            for (int kx = 0; kx < 5; kx++)
                for (int lane = 0; lane < 16; lane++)
                {
                    int f = 16 * m + lane, oy = f / 12, ox = f % 12 - kx;
                    bool reached = ox >= 0 && ox < 8;
                    // Unreached lanes read the zero vector (pieces 0 and 2) or are masked (piece 1, whose two sources are both rows).
                    index[(m * 5 + kx) * 16 + lane] = reached ? (oy / 2 == jA ? 0 : 16) + (oy % 2) * 8 + ox : 16;
                    if (m == 1) mask[kx * 16 + lane] = reached ? BitConverter.Int32BitsToSingle(-1) : 0f;
                }
        }
        return index;
    }

    /// <summary>
    /// The 5 column rows (ci, ky, kx = 0 … 4) of one image's Wᵀ·dY (64 columns each, FMA chains over co from 0), added
    /// into the 8 input-gradient rows they reach, <paramref name="dx"/> = dX(ci, ky, 0): these rows are 96 contiguous
    /// floats (W = 12), so the adds are six whole vectors, each receiving its kx = 0 … 4 terms in order (a lane a kx
    /// does not reach adds +0, which leaves dX's bits as they are: dX starts at +0 and never holds −0). The same sums
    /// in the same order as <see cref="InputGradientTile"/>, with no store-to-load overlap between neighbouring rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientRows5(float* dx, float* w, float* dy, int CO, int* index, float* mask)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z, s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z, s40 = z, s41 = z, s42 = z, s43 = z;
        // w is this (ci, ky)'s packed weights, (CO, 5): co steps of 4 unrolled, then the rest.
        int co = 0;
        for (; co + 4 <= CO; co += 4, dy += 4 * 64, w += 4 * 5)
        {
            {
                float* g = dy + 0, wk = w + 0;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 64, wk = w + 5;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 128, wk = w + 10;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 192, wk = w + 15;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
        }
        for (; co < CO; co++, dy += 64, w += 5)
        {
            float* g = dy, wk = w;
            Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
            var x0 = Vector512.Create(wk[0]);
            s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
            var x1 = Vector512.Create(wk[1]);
            s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
            var x2 = Vector512.Create(wk[2]);
            s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
            var x3 = Vector512.Create(wk[3]);
            s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
            var x4 = Vector512.Create(wk[4]);
            s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
        }
        Vector512<float> Piece(Vector512<float> a, int m, int kx, Vector512<float> b) =>
            Avx512F.PermuteVar16x32x2(a, Vector512.Load(index + (m * 5 + kx) * 16), b);
        (Vector512.Load(dx + 0) + Piece(s00, 0, 0, z) + Piece(s10, 0, 1, z) + Piece(s20, 0, 2, z) + Piece(s30, 0, 3, z) + Piece(s40, 0, 4, z)).Store(dx + 0);
        (Vector512.Load(dx + 16) + (Piece(s00, 1, 0, s01) & Vector512.Load(mask + 0)) + (Piece(s10, 1, 1, s11) & Vector512.Load(mask + 16)) + (Piece(s20, 1, 2, s21) & Vector512.Load(mask + 32)) + (Piece(s30, 1, 3, s31) & Vector512.Load(mask + 48)) + (Piece(s40, 1, 4, s41) & Vector512.Load(mask + 64))).Store(dx + 16);
        (Vector512.Load(dx + 32) + Piece(s01, 2, 0, z) + Piece(s11, 2, 1, z) + Piece(s21, 2, 2, z) + Piece(s31, 2, 3, z) + Piece(s41, 2, 4, z)).Store(dx + 32);
        (Vector512.Load(dx + 48) + Piece(s02, 0, 0, z) + Piece(s12, 0, 1, z) + Piece(s22, 0, 2, z) + Piece(s32, 0, 3, z) + Piece(s42, 0, 4, z)).Store(dx + 48);
        (Vector512.Load(dx + 64) + (Piece(s02, 1, 0, s03) & Vector512.Load(mask + 0)) + (Piece(s12, 1, 1, s13) & Vector512.Load(mask + 16)) + (Piece(s22, 1, 2, s23) & Vector512.Load(mask + 32)) + (Piece(s32, 1, 3, s33) & Vector512.Load(mask + 48)) + (Piece(s42, 1, 4, s43) & Vector512.Load(mask + 64))).Store(dx + 64);
        (Vector512.Load(dx + 80) + Piece(s03, 2, 0, z) + Piece(s13, 2, 1, z) + Piece(s23, 2, 2, z) + Piece(s33, 2, 3, z) + Piece(s43, 2, 4, z)).Store(dx + 80);
    }

    /// <summary>
    /// Up to 4 column rows × one image's 64 columns of Wᵀ·dY, added into dX row by row; rows past <paramref name="rows"/>
    /// alias the last row and are not added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientTile(float* dx, int* offsets, int rows, float* w, int CKK, float* dy, int N, int CO, int W)
    {
        int last = rows - 1;
        float* w0 = w, w1 = w + Math.Min(1, last), w2 = w + Math.Min(2, last), w3 = w + Math.Min(3, last);
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z,
            s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
        for (int co = 0; co < CO; co++)
        {
            float* g = dy + (nint)co * N;
            nint wk = (nint)co * CKK;
            Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
            var x = Vector512.Create(w0[wk]);
            s00 = Vector512.FusedMultiplyAdd(x, d0, s00); s01 = Vector512.FusedMultiplyAdd(x, d1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, d2, s02); s03 = Vector512.FusedMultiplyAdd(x, d3, s03);
            x = Vector512.Create(w1[wk]);
            s10 = Vector512.FusedMultiplyAdd(x, d0, s10); s11 = Vector512.FusedMultiplyAdd(x, d1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, d2, s12); s13 = Vector512.FusedMultiplyAdd(x, d3, s13);
            x = Vector512.Create(w2[wk]);
            s20 = Vector512.FusedMultiplyAdd(x, d0, s20); s21 = Vector512.FusedMultiplyAdd(x, d1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, d2, s22); s23 = Vector512.FusedMultiplyAdd(x, d3, s23);
            x = Vector512.Create(w3[wk]);
            s30 = Vector512.FusedMultiplyAdd(x, d0, s30); s31 = Vector512.FusedMultiplyAdd(x, d1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, d2, s32); s33 = Vector512.FusedMultiplyAdd(x, d3, s33);
        }
        // Row by row, in (ci, ky, kx) order: vector j holds output rows 2j and 2j + 1 (8 columns each).
        AddRow(dx + offsets[0], W, s00, s01, s02, s03);
        if (rows > 1) AddRow(dx + offsets[1], W, s10, s11, s12, s13);
        if (rows > 2) AddRow(dx + offsets[2], W, s20, s21, s22, s23);
        if (rows > 3) AddRow(dx + offsets[3], W, s30, s31, s32, s33);
    }

    /// <summary>dX rows 0 … 7 at <paramref name="d"/> (row stride <paramref name="W"/>) += the 8 × 8 column gradients in v0 … v3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow(float* d, int W, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        nint w = W;
        (Vector256.Load(d) + v0.GetLower()).Store(d);
        (Vector256.Load(d + w) + v0.GetUpper()).Store(d + w);
        (Vector256.Load(d + 2 * w) + v1.GetLower()).Store(d + 2 * w);
        (Vector256.Load(d + 3 * w) + v1.GetUpper()).Store(d + 3 * w);
        (Vector256.Load(d + 4 * w) + v2.GetLower()).Store(d + 4 * w);
        (Vector256.Load(d + 5 * w) + v2.GetUpper()).Store(d + 5 * w);
        (Vector256.Load(d + 6 * w) + v3.GetLower()).Store(d + 6 * w);
        (Vector256.Load(d + 7 * w) + v3.GetUpper()).Store(d + 7 * w);
    }

    /// <summary>
    /// output <c>(CO, B·64)</c> = ReLU?(conv(input) + bias) for B images of 8×8 outputs, no padding (see
    /// <see cref="Has8x8"/> for the shape test): 8 output channels × half an image (32 outputs) per tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward8x8(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int CO, int K, bool relu)
    {
        int CKK = CI * K * K;
        nint N = (nint)B * 64;
        int* offsets = stackalloc int[CKK];
        ColumnOffsets(offsets, s, CI, W, K);
        if (CO == 32 && K == 5)
        {
            // Weights transposed to (CKK, 32): one k step is two weight vectors against 8 broadcast inputs.
            float* wT = AlignedScratch(ref t_weightT, ref t_weightTFloats, CKK * 32);
            float* tile = stackalloc float[8 * 8 * 32];
            {
                CpuConvKernels.Transpose(wT, weight, CKK, 32, CKK, IsaLevel.Avx2);
                var bias0 = Vector512.Load(bias);
                var bias1 = Vector512.Load(bias + 16);
                // Each image is first copied channel after channel into one block: in place its channel planes lie
                // B·H·W floats apart (LeNet: 72 KiB, a multiple of 4 KiB), so the rows of all CI channels a k range
                // reads fall in the same few L1 sets.
                const int HW = 12 * 12;
                float[] packed = t_packedInput is { } pi && pi.Length >= CI * HW ? pi : (t_packedInput = new float[CI * HW]);
                fixed (float* image = packed)
                for (int b = 0; b < B; b++)
                {
                    for (int ci = 0; ci < CI; ci++) Copy(image + ci * HW, input + (nint)b * s.Example + (nint)ci * s.Channel, HW);
                    for (int oy = 0; oy < 8; oy++)
                        ForwardRow32(tile + oy * 256, image + oy * 12, CI, wT, bias0, bias1, relu);
                    // Channel block by channel block, so each channel's 64 outputs (4 lines) are written one after another.
                    for (int c0 = 0; c0 < 32; c0 += 8)
                        for (int oy = 0; oy < 8; oy++)
                            CpuConvKernels.Transpose8x8(output + c0 * N + (nint)b * 64 + oy * 8, (int)N, tile + oy * 256 + c0, 32);
                }
            }
            return;
        }
        for (int b = 0; b < B; b++)
            for (int half = 0; half < 2; half++)
                for (int co = 0; co < CO; co += 8)
                    ForwardTile(output + co * N + (nint)b * 64 + half * 32, N, weight + (nint)co * CKK, CKK, Math.Min(8, CO - co),
                        input + (nint)b * s.Example + (nint)half * 4 * W, offsets, W, bias + co, relu);
    }

    [ThreadStatic] private static float* t_weightT;
    [ThreadStatic] private static int t_weightTFloats;

    /// <summary>
    /// A thread's scratch of at least <paramref name="floats"/> floats on a 64-byte boundary, kept for the thread's
    /// life (it grows, never shrinks): a vector load from a managed array, 16 bytes past a boundary, spans two lines.
    /// </summary>
    private static float* AlignedScratch(ref float* buffer, ref int capacity, int floats)
    {
        if (capacity >= floats) return buffer;
        System.Runtime.InteropServices.NativeMemory.AlignedFree(buffer);
        buffer = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)floats * sizeof(float), 64);
        capacity = floats;
        return buffer;
    }

    /// <summary>
    /// The weights <c>(CO, CKK)</c> packed per group of <paramref name="group"/> channels as <c>(CKK, group)</c>, into the
    /// thread's scratch <paramref name="buffer"/>: a k step's broadcasts then come from one pointer at constant offsets.
    /// A last group's channels past CO repeat channel CO − 1 (computed alongside, never stored).
    /// </summary>
    private static float* PackChannelGroups(ref float* buffer, ref int capacity, float* weight, int CO, int CKK, int group)
    {
        int groups = (CO + group - 1) / group;
        float* packed = AlignedScratch(ref buffer, ref capacity, groups * CKK * group);
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < CKK; k++)
                for (int i = 0; i < group; i++) packed[((nint)g * CKK + k) * group + i] = weight[(nint)Math.Min(g * group + i, CO - 1) * CKK + k];
        return packed;
    }
    [ThreadStatic] private static float[]? t_packedInput;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* dst, float* src, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) Vector512.Load(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>32 outputs at <paramref name="t"/> = ReLU?(v + bias) (0 unless the sum is &gt; 0, as CpuConvKernels.AddBias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreBiasRelu(float* t, Vector512<float> v0, Vector512<float> v1, Vector512<float> bias0, Vector512<float> bias1, bool relu)
    {
        var z = Vector512<float>.Zero;
        v0 += bias0; v1 += bias1;
        if (relu)
        {
            v0 = Relu(v0);
            v1 = Relu(v1);
        }
        v0.Store(t); v1.Store(t + 16);
    }


    /// <summary>
    /// One 8-wide output row × 32 channels of a 5×5 conv with 8×8 outputs from a packed image (rows of 12, channels of
    /// 144 floats), pixel-major into <paramref name="tile"/> (8 × 32 floats: the caller transposes it into the
    /// channel-major output): each output one FMA chain over (ci, ky, kx) ascending from 0, then + bias, then ReLU, as
    /// <see cref="ForwardTile"/>. The inputs are the broadcast operands and <paramref name="wT"/> (CKK, 32) the vectors:
    /// a k step is 2 loads and 8 broadcasts for 16 FMAs, and a channel's 25 steps are unrolled, so every address is one
    /// of two pointers plus a constant (integer work in this loop competes with the FMAs for their ports: a division
    /// per (ci, ky) cost about 7% of the peak).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRow32(float* tile, float* x, int CI, float* wT, Vector512<float> bias0, Vector512<float> bias1, bool relu)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z, a60 = z, a61 = z, a70 = z, a71 = z;
        float* w = wT;
        for (float* p = x, end = x + CI * 144; p < end; p += 144, w += 25 * 32)
        {
            {
                Vector512<float> w0 = Vector512.Load(w + 0), w1 = Vector512.Load(w + 16);
                var x0 = Vector512.Create(p[0]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[1]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[2]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[3]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[4]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[5]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[6]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[7]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 32), w1 = Vector512.Load(w + 48);
                var x0 = Vector512.Create(p[1]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[2]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[3]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[4]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[5]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[6]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[7]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[8]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 64), w1 = Vector512.Load(w + 80);
                var x0 = Vector512.Create(p[2]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[3]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[4]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[5]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[6]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[7]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[8]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[9]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 96), w1 = Vector512.Load(w + 112);
                var x0 = Vector512.Create(p[3]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[4]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[5]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[6]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[7]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[8]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[9]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[10]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 128), w1 = Vector512.Load(w + 144);
                var x0 = Vector512.Create(p[4]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[5]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[6]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[7]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[8]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[9]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[10]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[11]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 160), w1 = Vector512.Load(w + 176);
                var x0 = Vector512.Create(p[12]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[13]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[14]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[15]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[16]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[17]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[18]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[19]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 192), w1 = Vector512.Load(w + 208);
                var x0 = Vector512.Create(p[13]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[14]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[15]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[16]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[17]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[18]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[19]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[20]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 224), w1 = Vector512.Load(w + 240);
                var x0 = Vector512.Create(p[14]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[15]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[16]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[17]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[18]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[19]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[20]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[21]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 256), w1 = Vector512.Load(w + 272);
                var x0 = Vector512.Create(p[15]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[16]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[17]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[18]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[19]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[20]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[21]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[22]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 288), w1 = Vector512.Load(w + 304);
                var x0 = Vector512.Create(p[16]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[17]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[18]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[19]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[20]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[21]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[22]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[23]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 320), w1 = Vector512.Load(w + 336);
                var x0 = Vector512.Create(p[24]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[25]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[26]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[27]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[28]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[29]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[30]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[31]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 352), w1 = Vector512.Load(w + 368);
                var x0 = Vector512.Create(p[25]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[26]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[27]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[28]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[29]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[30]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[31]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[32]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 384), w1 = Vector512.Load(w + 400);
                var x0 = Vector512.Create(p[26]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[27]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[28]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[29]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[30]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[31]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[32]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[33]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 416), w1 = Vector512.Load(w + 432);
                var x0 = Vector512.Create(p[27]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[28]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[29]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[30]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[31]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[32]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[33]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[34]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 448), w1 = Vector512.Load(w + 464);
                var x0 = Vector512.Create(p[28]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[29]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[30]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[31]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[32]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[33]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[34]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[35]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 480), w1 = Vector512.Load(w + 496);
                var x0 = Vector512.Create(p[36]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[37]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[38]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[39]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[40]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[41]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[42]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[43]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 512), w1 = Vector512.Load(w + 528);
                var x0 = Vector512.Create(p[37]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[38]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[39]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[40]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[41]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[42]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[43]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[44]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 544), w1 = Vector512.Load(w + 560);
                var x0 = Vector512.Create(p[38]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[39]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[40]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[41]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[42]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[43]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[44]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[45]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 576), w1 = Vector512.Load(w + 592);
                var x0 = Vector512.Create(p[39]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[40]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[41]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[42]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[43]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[44]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[45]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[46]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 608), w1 = Vector512.Load(w + 624);
                var x0 = Vector512.Create(p[40]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[41]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[42]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[43]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[44]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[45]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[46]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[47]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 640), w1 = Vector512.Load(w + 656);
                var x0 = Vector512.Create(p[48]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[49]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[50]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[51]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[52]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[53]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[54]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[55]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 672), w1 = Vector512.Load(w + 688);
                var x0 = Vector512.Create(p[49]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[50]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[51]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[52]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[53]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[54]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[55]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[56]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 704), w1 = Vector512.Load(w + 720);
                var x0 = Vector512.Create(p[50]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[51]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[52]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[53]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[54]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[55]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[56]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[57]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 736), w1 = Vector512.Load(w + 752);
                var x0 = Vector512.Create(p[51]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[52]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[53]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[54]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[55]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[56]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[57]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[58]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
            {
                Vector512<float> w0 = Vector512.Load(w + 768), w1 = Vector512.Load(w + 784);
                var x0 = Vector512.Create(p[52]); a00 = Vector512.FusedMultiplyAdd(x0, w0, a00); a01 = Vector512.FusedMultiplyAdd(x0, w1, a01);
                var x1 = Vector512.Create(p[53]); a10 = Vector512.FusedMultiplyAdd(x1, w0, a10); a11 = Vector512.FusedMultiplyAdd(x1, w1, a11);
                var x2 = Vector512.Create(p[54]); a20 = Vector512.FusedMultiplyAdd(x2, w0, a20); a21 = Vector512.FusedMultiplyAdd(x2, w1, a21);
                var x3 = Vector512.Create(p[55]); a30 = Vector512.FusedMultiplyAdd(x3, w0, a30); a31 = Vector512.FusedMultiplyAdd(x3, w1, a31);
                var x4 = Vector512.Create(p[56]); a40 = Vector512.FusedMultiplyAdd(x4, w0, a40); a41 = Vector512.FusedMultiplyAdd(x4, w1, a41);
                var x5 = Vector512.Create(p[57]); a50 = Vector512.FusedMultiplyAdd(x5, w0, a50); a51 = Vector512.FusedMultiplyAdd(x5, w1, a51);
                var x6 = Vector512.Create(p[58]); a60 = Vector512.FusedMultiplyAdd(x6, w0, a60); a61 = Vector512.FusedMultiplyAdd(x6, w1, a61);
                var x7 = Vector512.Create(p[59]); a70 = Vector512.FusedMultiplyAdd(x7, w0, a70); a71 = Vector512.FusedMultiplyAdd(x7, w1, a71);
            }
        }
        StoreBiasRelu(tile + 0, a00, a01, bias0, bias1, relu);
        StoreBiasRelu(tile + 32, a10, a11, bias0, bias1, relu);
        StoreBiasRelu(tile + 64, a20, a21, bias0, bias1, relu);
        StoreBiasRelu(tile + 96, a30, a31, bias0, bias1, relu);
        StoreBiasRelu(tile + 128, a40, a41, bias0, bias1, relu);
        StoreBiasRelu(tile + 160, a50, a51, bias0, bias1, relu);
        StoreBiasRelu(tile + 192, a60, a61, bias0, bias1, relu);
        StoreBiasRelu(tile + 224, a70, a71, bias0, bias1, relu);
    }

    /// <summary>Up to 8 output channels × output rows 0 … 3 (of 8 columns) from <paramref name="x"/>; rows past <paramref name="rows"/> alias the last and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTile(float* y, nint N, float* w, int CKK, int rows, float* x, int* offsets, int W, float* bias, bool relu)
    {
        nint last = rows - 1, lw = CKK, w1r = W, w2r = 2 * W, w3r = 3 * W;
        float* w0 = w, w1 = w + Math.Min(1, last) * lw, w2 = w + Math.Min(2, last) * lw, w3 = w + Math.Min(3, last) * lw,
            w4 = w + Math.Min(4, last) * lw, w5 = w + Math.Min(5, last) * lw, w6 = w + Math.Min(6, last) * lw, w7 = w + Math.Min(7, last) * lw;
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z,
            s40 = z, s41 = z, s50 = z, s51 = z, s60 = z, s61 = z, s70 = z, s71 = z;
        for (int k = 0; k < CKK; k++)
        {
            float* p = x + offsets[k];
            var b0 = Join(p, p + w1r); // outputs of rows 0, 1
            var b1 = Join(p + w2r, p + w3r); // rows 2, 3
            var a = Vector512.Create(w0[k]); s00 = Vector512.FusedMultiplyAdd(a, b0, s00); s01 = Vector512.FusedMultiplyAdd(a, b1, s01);
            a = Vector512.Create(w1[k]); s10 = Vector512.FusedMultiplyAdd(a, b0, s10); s11 = Vector512.FusedMultiplyAdd(a, b1, s11);
            a = Vector512.Create(w2[k]); s20 = Vector512.FusedMultiplyAdd(a, b0, s20); s21 = Vector512.FusedMultiplyAdd(a, b1, s21);
            a = Vector512.Create(w3[k]); s30 = Vector512.FusedMultiplyAdd(a, b0, s30); s31 = Vector512.FusedMultiplyAdd(a, b1, s31);
            a = Vector512.Create(w4[k]); s40 = Vector512.FusedMultiplyAdd(a, b0, s40); s41 = Vector512.FusedMultiplyAdd(a, b1, s41);
            a = Vector512.Create(w5[k]); s50 = Vector512.FusedMultiplyAdd(a, b0, s50); s51 = Vector512.FusedMultiplyAdd(a, b1, s51);
            a = Vector512.Create(w6[k]); s60 = Vector512.FusedMultiplyAdd(a, b0, s60); s61 = Vector512.FusedMultiplyAdd(a, b1, s61);
            a = Vector512.Create(w7[k]); s70 = Vector512.FusedMultiplyAdd(a, b0, s70); s71 = Vector512.FusedMultiplyAdd(a, b1, s71);
        }
        // + bias, then ReLU (0 unless the sum is > 0), as CpuConvKernels.AddBias.
        void Store(float* row, float b, Vector512<float> v0, Vector512<float> v1)
        {
            var bv = Vector512.Create(b);
            v0 += bv; v1 += bv;
            if (relu)
            {
                v0 = Relu(v0);
                v1 = Relu(v1);
            }
            v0.Store(row); v1.Store(row + 16);
        }
        Store(y, bias[0], s00, s01);
        if (rows > 1) Store(y + N, bias[1], s10, s11);
        if (rows > 2) Store(y + 2 * N, bias[2], s20, s21);
        if (rows > 3) Store(y + 3 * N, bias[3], s30, s31);
        if (rows > 4) Store(y + 4 * N, bias[4], s40, s41);
        if (rows > 5) Store(y + 5 * N, bias[5], s50, s51);
        if (rows > 6) Store(y + 6 * N, bias[6], s60, s61);
        if (rows > 7) Store(y + 7 * N, bias[7], s70, s71);
    }

    /// <summary>Whether <see cref="Forward24"/> runs this shape at this ISA level (AVX-512, 24-wide output rows in pairs, no padding).</summary>
    public static bool HasForward24(int OH, int OW, int K, int P, IsaLevel isa) =>
        Enabled && OW == 24 && OH % 2 == 0 && K == 5 && P == 0 && CpuIsa.Clamp(isa) >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;

    /// <summary>
    /// output <c>(CO, B·OH·24)</c> = ReLU?(conv(input) + bias) for B images of 24-wide output rows (OH even), no padding:
    /// 8 output channels × two output rows (48 outputs, three vectors) per tile, each output one FMA chain over
    /// (ci, ky, kx) ascending from 0, then + bias, then ReLU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward24(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int OH, int CO, int K, bool relu)
    {
        int CKK = CI * K * K, OHW = OH * 24, groups = (CO + 7) / 8;
        nint N = (nint)B * OHW;
        // Weights packed per group of 8 channels as (CKK, 8): a k step's 8 broadcasts come from one pointer at constant
        // offsets. A group's channels past CO repeat its last channel (computed alongside, never stored).
        float* packed = PackChannelGroups(ref t_weight24, ref t_weight24Floats, weight, CO, CKK, 8);
        // Group by group within an image: only a group's 8 output planes are being written at a time (the planes lie
        // a multiple of 4 KiB apart for LeNet, so all 16 at once would overfill their L1 sets).
        for (int b = 0; b < B; b++)
            for (int g = 0; g < groups; g++)
                for (int oy = 0; oy < OH; oy += 2)
                    Forward24Tile(output + g * 8 * N + (nint)b * OHW + oy * 24, N, packed + (nint)g * CKK * 8, Math.Min(8, CO - g * 8),
                        input + (nint)b * s.Example + (nint)oy * W, CI, s.Channel, W, bias + g * 8, relu);
    }

    [ThreadStatic] private static float* t_weight24;
    [ThreadStatic] private static int t_weight24Floats;

    /// <summary>Up to 8 output channels × two 24-wide output rows from <paramref name="x"/>; rows past <paramref name="rows"/> alias the last and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward24Tile(float* y, nint N, float* wq, int rows, float* x, int CI, nint channel, int W, float* bias, bool relu)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z, s30 = z, s31 = z, s32 = z,
            s40 = z, s41 = z, s42 = z, s50 = z, s51 = z, s52 = z, s60 = z, s61 = z, s62 = z, s70 = z, s71 = z, s72 = z;
        // k = (ci, ky, kx) ascending: a row pointer per (ci, ky), kx steps move it by one float and the packed weights by
        // 8 (no offset table, no index: a k step that first loads its input offset ran well below one that does not).
        // The next input row has a pointer of its own: an insert whose memory operand is indexed (p + W) splits in two.
        // (The 5 kx steps unrolled measured the same, 54–61 % against 57–60 %.)
        for (int ci = 0; ci < CI; ci++)
        for (int ky = 0; ky < 5; ky++)
        for (float* p = x + ci * channel + (nint)ky * W, q = p + W, end = p + 5; p < end; p++, q++, wq += 8)
        {
            var b0 = Vector512.Load(p);           // row 0, outputs 0 … 15
            var b1 = Join(p + 16, q);             // row 0, 16 … 23; row 1, 0 … 7
            var b2 = Vector512.Load(q + 8);       // row 1, outputs 8 … 23
            var a0 = Vector512.Create(wq[0]); s00 = Vector512.FusedMultiplyAdd(a0, b0, s00); s01 = Vector512.FusedMultiplyAdd(a0, b1, s01); s02 = Vector512.FusedMultiplyAdd(a0, b2, s02);
            var a1 = Vector512.Create(wq[1]); s10 = Vector512.FusedMultiplyAdd(a1, b0, s10); s11 = Vector512.FusedMultiplyAdd(a1, b1, s11); s12 = Vector512.FusedMultiplyAdd(a1, b2, s12);
            var a2 = Vector512.Create(wq[2]); s20 = Vector512.FusedMultiplyAdd(a2, b0, s20); s21 = Vector512.FusedMultiplyAdd(a2, b1, s21); s22 = Vector512.FusedMultiplyAdd(a2, b2, s22);
            var a3 = Vector512.Create(wq[3]); s30 = Vector512.FusedMultiplyAdd(a3, b0, s30); s31 = Vector512.FusedMultiplyAdd(a3, b1, s31); s32 = Vector512.FusedMultiplyAdd(a3, b2, s32);
            var a4 = Vector512.Create(wq[4]); s40 = Vector512.FusedMultiplyAdd(a4, b0, s40); s41 = Vector512.FusedMultiplyAdd(a4, b1, s41); s42 = Vector512.FusedMultiplyAdd(a4, b2, s42);
            var a5 = Vector512.Create(wq[5]); s50 = Vector512.FusedMultiplyAdd(a5, b0, s50); s51 = Vector512.FusedMultiplyAdd(a5, b1, s51); s52 = Vector512.FusedMultiplyAdd(a5, b2, s52);
            var a6 = Vector512.Create(wq[6]); s60 = Vector512.FusedMultiplyAdd(a6, b0, s60); s61 = Vector512.FusedMultiplyAdd(a6, b1, s61); s62 = Vector512.FusedMultiplyAdd(a6, b2, s62);
            var a7 = Vector512.Create(wq[7]); s70 = Vector512.FusedMultiplyAdd(a7, b0, s70); s71 = Vector512.FusedMultiplyAdd(a7, b1, s71); s72 = Vector512.FusedMultiplyAdd(a7, b2, s72);
        }
        Store3(y, bias[0], s00, s01, s02, relu);
        if (rows > 1) Store3(y + N, bias[1], s10, s11, s12, relu);
        if (rows > 2) Store3(y + 2 * N, bias[2], s20, s21, s22, relu);
        if (rows > 3) Store3(y + 3 * N, bias[3], s30, s31, s32, relu);
        if (rows > 4) Store3(y + 4 * N, bias[4], s40, s41, s42, relu);
        if (rows > 5) Store3(y + 5 * N, bias[5], s50, s51, s52, relu);
        if (rows > 6) Store3(y + 6 * N, bias[6], s60, s61, s62, relu);
        if (rows > 7) Store3(y + 7 * N, bias[7], s70, s71, s72, relu);
    }

    /// <summary>
    /// The 8 floats at <paramref name="lo"/> then the 8 at <paramref name="hi"/>, as one load and one insert
    /// (<c>Vector512.Create(Vector256, Vector256)</c> goes through a stack slot on .NET 10, which chains every k step through memory).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Join(float* lo, float* hi) =>
        System.Runtime.Intrinsics.X86.Avx512F.InsertVector256(Vector256.Load(lo).ToVector512Unsafe(), Vector256.Load(hi), 1);

    /// <summary>
    /// v where v &gt; 0, else +0 (−0, +0 and NaN give +0), as <c>ConditionalSelect(v &gt; 0, v, 0)</c> and
    /// CpuConvKernels.AddBias, in one instruction: vmaxps returns its second operand when the two compare equal or
    /// either is NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Relu(Vector512<float> v) => Avx512F.Max(v, Vector512<float>.Zero);

    /// <summary>48 outputs at <paramref name="y"/> = ReLU?(v + bias) (0 unless the sum is &gt; 0, as CpuConvKernels.AddBias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3(float* y, float bias, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool relu)
    {
        var b = Vector512.Create(bias);
        var z = Vector512<float>.Zero;
        v0 += b; v1 += b; v2 += b;
        if (relu)
        {
            v0 = Relu(v0);
            v1 = Relu(v1);
            v2 = Relu(v2);
        }
        v0.Store(y); v1.Store(y + 16); v2.Store(y + 32);
    }
}

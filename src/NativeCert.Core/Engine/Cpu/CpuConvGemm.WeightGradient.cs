using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>The AVX-512 fused weight gradients (see CpuConvGemm.cs).</summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>Rows of dWᵀ one pass keeps in registers: 13 accumulators + the dY vector, with room for the broadcasts.</summary>
    private const int RowsPerPass = 13;

    /// <summary>
    /// dWᵀ <c>(CI·K·K, CO)</c>, CO = 16 or 32, (+)= Σ over the <paramref name="nb"/> images' outputs n = (b, oy, ox) ascending of
    /// input(b, ci, oy + ky, ox + kx) · dYᵀ[n, ·], the chain of each element continuing from <paramref name="dwT"/> unless
    /// <paramref name="first"/> (then from 0). <paramref name="input"/> points at the group's first image (strides
    /// <paramref name="s"/>), <paramref name="dyT"/> is the group's output gradient transposed <c>(nb·OH·OW, CO)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradient512(float* dwT, int CO, float* input, ImageStrides s, float* dyT, int nb, int CI, int W, int OH, int OW, int K, bool first)
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

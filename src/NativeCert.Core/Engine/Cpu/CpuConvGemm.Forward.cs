using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>The AVX-512 fused forward passes (see CpuConvGemm.cs).</summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// output <c>(CO, B·64)</c> = ReLU?(conv(input) + bias) for B images of 8×8 outputs, no padding (AVX-512, any K):
    /// 32 channels with K = 5 by <see cref="ForwardRow32"/>, other shapes 8 output channels × half an image (32 outputs)
    /// per tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward8x8(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int CO, int K, bool relu)
    {
        int CKK = CI * K * K;
        nint N = (nint)B * 64;
        if (CO == 32 && K == 5)
        {
            // Weights transposed to (CKK, 32): one k step is two weight vectors against 8 broadcast inputs.
            float* wT = AlignedScratch(ref t_weightT, CKK * 32);
            CpuKernels.Transpose(wT, weight, CKK, 32, CKK, IsaLevel.Avx2);
            var bias0 = Vector512.Load(bias);
            var bias1 = Vector512.Load(bias + 16);
            float* tile = stackalloc float[8 * 8 * 32];
            // Each image is first copied channel after channel into one block: in place its channel planes lie B·H·W
            // floats apart (LeNet: 72 KiB, a multiple of 4 KiB), so the rows of all CI channels a k range reads fall in
            // the same few L1 sets.
            const int HW = 12 * 12;
            float* image = AlignedScratch(ref t_packedInput, CI * HW);
            for (int b = 0; b < B; b++)
            {
                CopyRows(image, HW, input + (nint)b * s.Example, s.Channel, CI, HW);
                for (int oy = 0; oy < 8; oy++)
                    ForwardRow32(tile + oy * 256, image + oy * 12, CI, wT, bias0, bias1, relu);
                // Channel block by channel block, so each channel's 64 outputs (4 lines) are written one after another.
                for (int c0 = 0; c0 < 32; c0 += 8)
                    for (int oy = 0; oy < 8; oy++)
                        CpuKernels.Transpose8x8(output + c0 * N + (nint)b * 64 + oy * 8, (int)N, tile + oy * 256 + c0, 32);
            }
            return;
        }
        int* offsets = stackalloc int[CKK];
        ColumnOffsets(offsets, s, CI, W, K);
        for (int b = 0; b < B; b++)
            for (int half = 0; half < 2; half++)
                for (int co = 0; co < CO; co += 8)
                    ForwardTile(output + co * N + (nint)b * 64 + half * 32, N, weight + (nint)co * CKK, CKK, Math.Min(8, CO - co),
                        input + (nint)b * s.Example + (nint)half * 4 * W, offsets, W, bias + co, relu);
    }

    [ThreadStatic] private static float[]? t_weightT;
    [ThreadStatic] private static float[]? t_packedInput;

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
    /// a k step is 2 loads and 8 broadcasts for 16 FMAs, and a (ci, ky)'s 5 steps are unrolled, so every address is one
    /// of two pointers plus a constant (integer work in this loop competes with the FMAs for their ports: a division
    /// per (ci, ky) cost about 7% of the peak). A channel's 25 steps unrolled (4 KB of loop body) took 1.00–1.07× the
    /// time of this loop, median 1.04 (the two paired in one process, `ab conv avx512 kernels`, seven runs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardRow32(float* tile, float* x, int CI, float* wT, Vector512<float> bias0, Vector512<float> bias1, bool relu)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z, a60 = z, a61 = z, a70 = z, a71 = z;
        float* w = wT;
        for (float* c = x, end = x + CI * 144; c < end; c += 144)
        for (float* p = c, rowsEnd = c + 60; p < rowsEnd; p += 12, w += 5 * 32)
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

    /// <summary>
    /// output <c>(CO, B·OH·24)</c> = ReLU?(conv(input) + bias) for B images of 24-wide output rows (OH even), no padding:
    /// 8 output channels × two output rows (48 outputs, three vectors) per tile, each output one FMA chain over
    /// (ci, ky, kx) ascending from 0, then + bias, then ReLU. With <paramref name="pooled"/> (a ReLU required), each tile's
    /// two rows are also max-pooled 2×2 in registers into <paramref name="pooled"/> <c>(CO, B, OH/2, 12)</c>, the values of
    /// <see cref="CpuConvKernels.MaxPool2dForward"/>, so the pool's own pass (a read of the whole output, 4.7 MB for
    /// LeNet's conv1) is not needed; with <paramref name="codes"/>, also each window's <see cref="CpuConvKernels.PoolCode"/>.
    /// A null <paramref name="output"/> (with a pool) skips the conv's own output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward24(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int OH, int CO, bool relu,
        float* pooled = null, byte* codes = null)
    {
        if (pooled != null && !relu) throw new ArgumentException("the pooled forward needs the ReLU (its maxima are taken over values ≥ +0)", nameof(relu));
        if (pooled == null && (output == null || codes != null)) throw new ArgumentException("codes without a pooled output, or no output at all", nameof(pooled));
        // Each combination of outputs is its own compiled loop (the flags are type arguments), so a tile's epilogue tests
        // no pointers: the null checks and conditional moves of one loop for all cost about 7 % of conv1's trained forward.
        if (pooled == null) Forward24<Yes, No, No>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, null, null);
        else if (output == null && codes != null) Forward24<No, Yes, Yes>(null, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, codes);
        else if (output == null) Forward24<No, Yes, No>(null, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, null);
        else if (codes != null) Forward24<Yes, Yes, Yes>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, codes);
        else Forward24<Yes, Yes, No>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, null);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward24<TOutput, TPool, TCodes>(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int OH, int CO,
        bool relu, float* pooled, byte* codes)
        where TOutput : struct, IFlag where TPool : struct, IFlag where TCodes : struct, IFlag
    {
        nint NP = (nint)B * (OH / 2) * 12;
        int CKK = CI * 25, OHW = OH * 24, groups = (CO + 7) / 8;
        nint N = (nint)B * OHW;
        // Weights packed per group of 8 channels as (CKK, 8): a k step's 8 broadcasts come from one pointer at constant
        // offsets. A group's channels past CO repeat its last channel (computed alongside, never stored).
        float* packed = PackChannelGroups(ref t_weight24, weight, CO, CKK, 8);
        // Group by group within an image: only a group's 8 output planes are being written at a time (the planes lie
        // a multiple of 4 KiB apart for LeNet, so all 16 at once would overfill their L1 sets).
        for (int b = 0; b < B; b++)
            for (int g = 0; g < groups; g++)
                for (int oy = 0; oy < OH; oy += 2)
                {
                    nint at = g * 8 * NP + (nint)b * (OH / 2) * 12 + oy / 2 * 12;
                    Forward24Tile<TOutput, TPool, TCodes>(output + g * 8 * N + (nint)b * OHW + oy * 24, N, packed + (nint)g * CKK * 8, Math.Min(8, CO - g * 8),
                        input + (nint)b * s.Example + (nint)oy * W, CI, s.Channel, W, bias + g * 8, relu, pooled + at, codes + at, NP);
                }
    }

    [ThreadStatic] private static float[]? t_weight24;

    /// <summary>
    /// Up to 8 output channels × two 24-wide output rows from <paramref name="x"/>; rows past <paramref name="rows"/> alias
    /// the last and are not stored. Which of <paramref name="y"/>, <paramref name="pooled"/> and <paramref name="codes"/>
    /// it writes is fixed by the flags (the others are not touched).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward24Tile<TOutput, TPool, TCodes>(float* y, nint N, float* wq, int rows, float* x, int CI, nint channel, int W, float* bias, bool relu,
        float* pooled, byte* codes, nint NP)
        where TOutput : struct, IFlag where TPool : struct, IFlag where TCodes : struct, IFlag
    {
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s10 = z, s11 = z, s12 = z, s20 = z, s21 = z, s22 = z, s30 = z, s31 = z, s32 = z,
            s40 = z, s41 = z, s42 = z, s50 = z, s51 = z, s52 = z, s60 = z, s61 = z, s62 = z, s70 = z, s71 = z, s72 = z;
        // k = (ci, ky, kx) ascending: a row pointer per (ci, ky), kx steps move it by one float and the packed weights by
        // 8 (no offset table, no index: a k step that first loads its input offset ran well below one that does not).
        // The next input row has a pointer of its own: an insert whose memory operand is indexed (p + W) splits in two.
        // (The 5 kx steps unrolled measured the same, 54–61 % against 57–60 %.) The (ci, ky) rows by a stepped pointer,
        // not an address from ci and ky per row: 0.95–1.01× the time, median 0.97 (`ab conv avx512 kernels`, paired).
        nint row = W;
        for (int ci = 0; ci < CI; ci++)
        for (float* r = x + ci * channel, rowsEnd = r + 5 * row; r < rowsEnd; r += row)
        for (float* p = r, q = r + row, end = r + 5; p < end; p++, q++, wq += 8)
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
        Store3<TOutput, TPool, TCodes>(y, bias[0], s00, s01, s02, relu, pooled, codes);
        if (rows > 1) Store3<TOutput, TPool, TCodes>(y + N, bias[1], s10, s11, s12, relu, pooled + NP, codes + NP);
        if (rows > 2) Store3<TOutput, TPool, TCodes>(y + 2 * N, bias[2], s20, s21, s22, relu, pooled + 2 * NP, codes + 2 * NP);
        if (rows > 3) Store3<TOutput, TPool, TCodes>(y + 3 * N, bias[3], s30, s31, s32, relu, pooled + 3 * NP, codes + 3 * NP);
        if (rows > 4) Store3<TOutput, TPool, TCodes>(y + 4 * N, bias[4], s40, s41, s42, relu, pooled + 4 * NP, codes + 4 * NP);
        if (rows > 5) Store3<TOutput, TPool, TCodes>(y + 5 * N, bias[5], s50, s51, s52, relu, pooled + 5 * NP, codes + 5 * NP);
        if (rows > 6) Store3<TOutput, TPool, TCodes>(y + 6 * N, bias[6], s60, s61, s62, relu, pooled + 6 * NP, codes + 6 * NP);
        if (rows > 7) Store3<TOutput, TPool, TCodes>(y + 7 * N, bias[7], s70, s71, s72, relu, pooled + 7 * NP, codes + 7 * NP);
    }

    /// <summary>
    /// 48 outputs (two 24-wide rows: v0 and v1's low half, then v1's high half and v2) = ReLU?(v + bias), stored at
    /// <paramref name="y"/> when <typeparamref name="TOutput"/>; when <typeparamref name="TPool"/>, their 12 2×2 maxima at
    /// <paramref name="pooled"/>, and when <typeparamref name="TCodes"/> each window's <see cref="CpuConvKernels.PoolCode"/>.
    /// After the ReLU every value is a float ≥ +0 (never −0 or NaN), so the window's compare-and-select of
    /// CpuConvKernels.MaxPool2dForward (replace the best only when strictly greater) picks exactly the maximum, which
    /// vmaxps gives, and its last replacement is the first position holding that maximum: the first of the window's
    /// equality compares that holds (0 if none of the first three).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3<TOutput, TPool, TCodes>(float* y, float bias, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool relu,
        float* pooled, byte* codes)
        where TOutput : struct, IFlag where TPool : struct, IFlag where TCodes : struct, IFlag
    {
        var b = Vector512.Create(bias);
        v0 += b; v1 += b; v2 += b;
        if (TOutput.On)
        {
            if (relu)
            {
                v0 = Relu(v0);
                v1 = Relu(v1);
                v2 = Relu(v2);
            }
            v0.Store(y); v1.Store(y + 16); v2.Store(y + 32);
        }
        if (!TPool.On) return;
        // Without the conv's output the window is pooled before the ReLU (the pooled path always has one) and the maximum
        // ReLU'd after: max and ReLU commute, and where the maximum is > 0 the values equal to it are the same before and
        // after the ReLU, so the first position holding it is too; where it is not, every ReLU'd value is +0 and the
        // code is 0 (position 0, not positive), which the select below gives either way.
        var te = Avx512F.PermuteVar16x32x2(v0, PoolTopEven, v1);
        var to = Avx512F.PermuteVar16x32x2(v0, PoolTopEven + Vector512<int>.One, v1);
        var be = Avx512F.PermuteVar16x32x2(v1, PoolBottomEven, v2);
        var bo = Avx512F.PermuteVar16x32x2(v1, PoolBottomEven + Vector512<int>.One, v2);
        var best = Avx512F.Max(Avx512F.Max(te, to), Avx512F.Max(be, bo));
        Avx512F.MaskStore(pooled, Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0).AsSingle(), TOutput.On ? best : Relu(best));
        if (!TCodes.On) return;
        // The first position holding the maximum (3 unless one of the first three does), + 4 when it is > 0, else 0.
        var at = Vector512.ConditionalSelect(Vector512.Equals(be, best).AsInt32(), Vector512.Create(2), Vector512.Create(3));
        at = Vector512.ConditionalSelect(Vector512.Equals(to, best).AsInt32(), Vector512<int>.One, at);
        at = Vector512.ConditionalSelect(Vector512.Equals(te, best).AsInt32(), Vector512<int>.Zero, at);
        at = Vector512.ConditionalSelect(Vector512.GreaterThan(best, Vector512<float>.Zero).AsInt32(), at | Vector512.Create(4), Vector512<int>.Zero);
        Avx512BW.VL.MaskStore(codes, Vector128.Create(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, (byte)0),
            Avx512F.ConvertToVector128Byte(at));
    }

    // Lanes of the even columns of the top row (v0: columns 0 … 15, v1 lanes 0 … 7: 16 … 23) and of the bottom row
    // (v1 lanes 8 … 15: columns 0 … 7, v2: 8 … 23), as indices into (first, second) source; + 1 gives the odd columns.
    // Lanes 12 … 15 are not stored.
    private static readonly Vector512<int> PoolTopEven = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 0, 0, 0, 0);
    private static readonly Vector512<int> PoolBottomEven = Vector512.Create(8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 0, 0, 0, 0);

    /// <summary>
    /// The 8 floats at <paramref name="lo"/> then the 8 at <paramref name="hi"/>, as one load and one insert
    /// (<c>Vector512.Create(Vector256, Vector256)</c> goes through a stack slot on .NET 10, which chains every k step through memory).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Join(float* lo, float* hi) =>
        System.Runtime.Intrinsics.X86.Avx512F.InsertVector256(Vector256.Load(lo).ToVector512Unsafe(), Vector256.Load(hi), 1);
}

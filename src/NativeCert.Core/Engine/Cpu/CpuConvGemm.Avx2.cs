using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// The AVX2 fused conv kernels (16 YMM registers): LeNet's conv2 forward (8×8 outputs, a 256-bit vector is one output
/// row, so no row is split across vectors and nothing is transposed) and the weight gradient of 5×5 convs with a
/// multiple of 16 output channels (conv1 and conv2), both reading the images directly as the AVX-512 kernels do. Every
/// accumulation order is the general path's (docs/engine.md), so the bits are the same on every level.
/// </summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// output <c>(CO, B·64)</c> = ReLU?(conv(input) + bias) for B images of 8×8 outputs, K = 5, no padding (W = 12):
    /// 4 output channels × output rows 0–2, 3–5 and 6–7 per image (tiles of 3, 3 and 2 rows), each output one FMA chain
    /// over (ci, ky, kx) ascending from 0, then + bias, then ReLU. The weights are packed per group of 4 channels as
    /// (CKK, 4), so a k step of a 3-row tile is 3 row loads and 4 broadcasts through one pointer for 12 FMAs: 12 chains
    /// (15 of the 16 YMM registers) where tiles of 2 rows kept 8, just the FMA latency × ports, and loaded 0.75 operands
    /// per FMA against 0.58 (`ab conv avx2 kernels`, the two paired in one process: 0.93–0.95× the time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward8x8Avx2(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int CO, bool relu)
    {
        int CKK = CI * 25, groups = (CO + 3) / 4;
        nint N = (nint)B * 64;
        float* packed = PackChannelGroups(ref t_weight4, weight, CO, CKK, 4);
        for (int b = 0; b < B; b++)
            for (int g = 0; g < groups; g++)
            {
                float* y = output + g * 4 * N + (nint)b * 64, wg = packed + (nint)g * CKK * 4, xb = input + (nint)b * s.Example;
                int rows = Math.Min(4, CO - g * 4);
                Forward8x8Avx2Tile3(y, N, wg, rows, xb, CI, s.Channel, bias + g * 4, relu);
                Forward8x8Avx2Tile3(y + 24, N, wg, rows, xb + 36, CI, s.Channel, bias + g * 4, relu);
                Forward8x8Avx2Tile(y + 48, N, wg, rows, xb + 72, CI, s.Channel, bias + g * 4, relu);
            }
    }

    [ThreadStatic] private static float[]? t_weight4;

    /// <summary>Up to 4 output channels × output rows oy … oy + 2 (8 columns each): 12 accumulators, 3 row loads and 4 broadcasts per 12 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward8x8Avx2Tile3(float* y, nint N, float* wq, int rows, float* x, int CI, nint channel, float* bias, bool relu)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z, a20 = z, a21 = z, a22 = z, a30 = z, a31 = z, a32 = z;
        for (int ci = 0; ci < CI; ci++)
            for (float* p = x + ci * channel, rowsEnd = p + 5 * 12; p < rowsEnd; p += 12, wq += 5 * 4)
            {
                {
                    Vector256<float> x0 = Vector256.Load(p + 0), x1 = Vector256.Load(p + 12), x2 = Vector256.Load(p + 24);
                    var w0 = Vector256.Create(wq[0]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    w0 = Vector256.Create(wq[1]); a10 = Fma.MultiplyAdd(w0, x0, a10); a11 = Fma.MultiplyAdd(w0, x1, a11); a12 = Fma.MultiplyAdd(w0, x2, a12);
                    w0 = Vector256.Create(wq[2]); a20 = Fma.MultiplyAdd(w0, x0, a20); a21 = Fma.MultiplyAdd(w0, x1, a21); a22 = Fma.MultiplyAdd(w0, x2, a22);
                    w0 = Vector256.Create(wq[3]); a30 = Fma.MultiplyAdd(w0, x0, a30); a31 = Fma.MultiplyAdd(w0, x1, a31); a32 = Fma.MultiplyAdd(w0, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 1), x1 = Vector256.Load(p + 13), x2 = Vector256.Load(p + 25);
                    var w0 = Vector256.Create(wq[4]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    w0 = Vector256.Create(wq[5]); a10 = Fma.MultiplyAdd(w0, x0, a10); a11 = Fma.MultiplyAdd(w0, x1, a11); a12 = Fma.MultiplyAdd(w0, x2, a12);
                    w0 = Vector256.Create(wq[6]); a20 = Fma.MultiplyAdd(w0, x0, a20); a21 = Fma.MultiplyAdd(w0, x1, a21); a22 = Fma.MultiplyAdd(w0, x2, a22);
                    w0 = Vector256.Create(wq[7]); a30 = Fma.MultiplyAdd(w0, x0, a30); a31 = Fma.MultiplyAdd(w0, x1, a31); a32 = Fma.MultiplyAdd(w0, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 2), x1 = Vector256.Load(p + 14), x2 = Vector256.Load(p + 26);
                    var w0 = Vector256.Create(wq[8]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    w0 = Vector256.Create(wq[9]); a10 = Fma.MultiplyAdd(w0, x0, a10); a11 = Fma.MultiplyAdd(w0, x1, a11); a12 = Fma.MultiplyAdd(w0, x2, a12);
                    w0 = Vector256.Create(wq[10]); a20 = Fma.MultiplyAdd(w0, x0, a20); a21 = Fma.MultiplyAdd(w0, x1, a21); a22 = Fma.MultiplyAdd(w0, x2, a22);
                    w0 = Vector256.Create(wq[11]); a30 = Fma.MultiplyAdd(w0, x0, a30); a31 = Fma.MultiplyAdd(w0, x1, a31); a32 = Fma.MultiplyAdd(w0, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 3), x1 = Vector256.Load(p + 15), x2 = Vector256.Load(p + 27);
                    var w0 = Vector256.Create(wq[12]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    w0 = Vector256.Create(wq[13]); a10 = Fma.MultiplyAdd(w0, x0, a10); a11 = Fma.MultiplyAdd(w0, x1, a11); a12 = Fma.MultiplyAdd(w0, x2, a12);
                    w0 = Vector256.Create(wq[14]); a20 = Fma.MultiplyAdd(w0, x0, a20); a21 = Fma.MultiplyAdd(w0, x1, a21); a22 = Fma.MultiplyAdd(w0, x2, a22);
                    w0 = Vector256.Create(wq[15]); a30 = Fma.MultiplyAdd(w0, x0, a30); a31 = Fma.MultiplyAdd(w0, x1, a31); a32 = Fma.MultiplyAdd(w0, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 4), x1 = Vector256.Load(p + 16), x2 = Vector256.Load(p + 28);
                    var w0 = Vector256.Create(wq[16]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    w0 = Vector256.Create(wq[17]); a10 = Fma.MultiplyAdd(w0, x0, a10); a11 = Fma.MultiplyAdd(w0, x1, a11); a12 = Fma.MultiplyAdd(w0, x2, a12);
                    w0 = Vector256.Create(wq[18]); a20 = Fma.MultiplyAdd(w0, x0, a20); a21 = Fma.MultiplyAdd(w0, x1, a21); a22 = Fma.MultiplyAdd(w0, x2, a22);
                    w0 = Vector256.Create(wq[19]); a30 = Fma.MultiplyAdd(w0, x0, a30); a31 = Fma.MultiplyAdd(w0, x1, a31); a32 = Fma.MultiplyAdd(w0, x2, a32);
                }
            }
        StoreRows8(y, bias[0], a00, a01, relu); StoreRow8(y + 16, bias[0], a02, relu);
        if (rows > 1) { StoreRows8(y + 1 * N, bias[1], a10, a11, relu); StoreRow8(y + 1 * N + 16, bias[1], a12, relu); }
        if (rows > 2) { StoreRows8(y + 2 * N, bias[2], a20, a21, relu); StoreRow8(y + 2 * N + 16, bias[2], a22, relu); }
        if (rows > 3) { StoreRows8(y + 3 * N, bias[3], a30, a31, relu); StoreRow8(y + 3 * N + 16, bias[3], a32, relu); }
    }

    /// <summary>One 8-wide output row at <paramref name="y"/> = ReLU?(v + bias), as <see cref="StoreRows8"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow8(float* y, float bias, Vector256<float> v, bool relu)
    {
        v += Vector256.Create(bias);
        if (relu) v = Avx.Max(v, Vector256<float>.Zero);
        v.Store(y);
    }

    /// <summary>Up to 4 output channels × output rows oy, oy + 1 (8 columns each); channels past <paramref name="rows"/> alias the last and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward8x8Avx2Tile(float* y, nint N, float* wq, int rows, float* x, int CI, nint channel, float* bias, bool relu)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
        for (int ci = 0; ci < CI; ci++)
            for (float* p = x + ci * channel, rowsEnd = p + 5 * 12; p < rowsEnd; p += 12, wq += 5 * 4)
            {
                float* q = p + 12;
                {
                    Vector256<float> x0 = Vector256.Load(p + 0), x1 = Vector256.Load(q + 0);
                    var w0 = Vector256.Create(wq[0]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01);
                    var w1 = Vector256.Create(wq[1]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11);
                    var w2 = Vector256.Create(wq[2]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21);
                    var w3 = Vector256.Create(wq[3]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 1), x1 = Vector256.Load(q + 1);
                    var w0 = Vector256.Create(wq[4]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01);
                    var w1 = Vector256.Create(wq[5]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11);
                    var w2 = Vector256.Create(wq[6]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21);
                    var w3 = Vector256.Create(wq[7]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 2), x1 = Vector256.Load(q + 2);
                    var w0 = Vector256.Create(wq[8]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01);
                    var w1 = Vector256.Create(wq[9]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11);
                    var w2 = Vector256.Create(wq[10]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21);
                    var w3 = Vector256.Create(wq[11]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 3), x1 = Vector256.Load(q + 3);
                    var w0 = Vector256.Create(wq[12]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01);
                    var w1 = Vector256.Create(wq[13]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11);
                    var w2 = Vector256.Create(wq[14]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21);
                    var w3 = Vector256.Create(wq[15]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 4), x1 = Vector256.Load(q + 4);
                    var w0 = Vector256.Create(wq[16]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01);
                    var w1 = Vector256.Create(wq[17]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11);
                    var w2 = Vector256.Create(wq[18]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21);
                    var w3 = Vector256.Create(wq[19]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31);
                }
            }
        StoreRows8(y, bias[0], a00, a01, relu);
        if (rows > 1) StoreRows8(y + 1 * N, bias[1], a10, a11, relu);
        if (rows > 2) StoreRows8(y + 2 * N, bias[2], a20, a21, relu);
        if (rows > 3) StoreRows8(y + 3 * N, bias[3], a30, a31, relu);
    }

    /// <summary>Two 8-wide output rows at <paramref name="y"/> = ReLU?(v + bias): 0 unless the sum is &gt; 0 (vmaxps returns its second operand, +0, for ±0 and NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRows8(float* y, float bias, Vector256<float> v0, Vector256<float> v1, bool relu)
    {
        StoreRow8(y, bias, v0, relu);
        StoreRow8(y + 8, bias, v1, relu);
    }

    /// <summary>
    /// dWᵀ <c>(CI·25, CO)</c> (+)= Σ over the <paramref name="nb"/> images' outputs n = (b, oy, ox) ascending of
    /// input(b, ci, oy + ky, ox + kx) · dYᵀ[n, ·], as <see cref="WeightGradient"/>: one pass per (ci, ky) row group and
    /// 16 output channels, 5 rows × 2 vectors of accumulators, each broadcast the row pointer plus a constant.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void WeightGradientAvx2(float* dwT, int CO, float* input, ImageStrides s, float* dyT, int nb, int CI, int W, int OH, int OW, bool first)
    {
        for (int ci = 0; ci < CI; ci++)
            for (int ky = 0; ky < 5; ky++)
                for (int h = 0; h < CO; h += 16)
                    PassAvx2(dwT + (nint)((ci * 5 + ky) * 5) * CO + h, CO, input + (nint)ci * s.Channel + (nint)ky * W, s.Example, dyT + h, nb, W, OH, OW, first);
    }

    /// <summary>
    /// One pass of <see cref="WeightGradientAvx2"/>: dWᵀ rows (ci, ky, kx = 0 … 4) × 16 channels (10 accumulators) over the
    /// group's outputs. Rows of a multiple of 8 outputs with 16 or 32 channels (LeNet's conv1 and conv2) go through
    /// <see cref="PassAvx2Rows8{TChannels}"/>; other shapes through the loop below, one output a step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PassAvx2(float* dwT, int CO, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
    {
        if (OW % 8 == 0 && CO == 32) { PassAvx2Rows8<Count32>(dwT, input, example, dyT, nb, W, OH, OW, first); return; }
        if (OW % 8 == 0 && CO == 16) { PassAvx2Rows8<Count16>(dwT, input, example, dyT, nb, W, OH, OW, first); return; }
        var z = Vector256<float>.Zero;
        Vector256<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z;
        nint co = CO;
        if (!first)
        {
            a00 = Vector256.Load(dwT + 0 * co); a01 = Vector256.Load(dwT + 0 * co + 8);
            a10 = Vector256.Load(dwT + 1 * co); a11 = Vector256.Load(dwT + 1 * co + 8);
            a20 = Vector256.Load(dwT + 2 * co); a21 = Vector256.Load(dwT + 2 * co + 8);
            a30 = Vector256.Load(dwT + 3 * co); a31 = Vector256.Load(dwT + 3 * co + 8);
            a40 = Vector256.Load(dwT + 4 * co); a41 = Vector256.Load(dwT + 4 * co + 8);
        }
        float* g = dyT;
        for (int b = 0; b < nb; b++)
            for (int oy = 0; oy < OH; oy++)
                for (float* p = input + (nint)b * example + (nint)oy * W, end = p + OW; p < end; p++, g += co)
                {
                    Vector256<float> d0 = Vector256.Load(g), d1 = Vector256.Load(g + 8);
                    var x0 = Vector256.Create(p[0]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                    var x1 = Vector256.Create(p[1]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                    var x2 = Vector256.Create(p[2]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                    var x3 = Vector256.Create(p[3]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                    var x4 = Vector256.Create(p[4]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                }
        a00.Store(dwT + 0 * co); a01.Store(dwT + 0 * co + 8);
        a10.Store(dwT + 1 * co); a11.Store(dwT + 1 * co + 8);
        a20.Store(dwT + 2 * co); a21.Store(dwT + 2 * co + 8);
        a30.Store(dwT + 3 * co); a31.Store(dwT + 3 * co + 8);
        a40.Store(dwT + 4 * co); a41.Store(dwT + 4 * co + 8);
    }

    /// <summary>
    /// <see cref="PassAvx2"/> for rows of a multiple of 8 outputs and <typeparamref name="TChannels"/> channels in dYᵀ:
    /// 8 outputs a step, unrolled, so every load and broadcast is a row pointer plus a constant (the channel count is a
    /// type argument, a compile-time constant). One output a step spent 3 scalar µops per 10 FMAs on its pointers and
    /// compare, and on AVX2 the FMA ports are also scalar ALU ports (`ab conv avx2 kernels`, paired in one process with
    /// <c>DOTNET_EnableAVX512=0</c>: 0.83–0.87× the time for conv1, 0.85–0.90× for conv2). The same chains in the same
    /// order: n = (b, oy, ox) ascending.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PassAvx2Rows8<TChannels>(float* dwT, float* input, int example, float* dyT, int nb, int W, int OH, int OW, bool first)
        where TChannels : struct, ICount
    {
        int C = TChannels.Value;
        var z = Vector256<float>.Zero;
        Vector256<float> a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z, a40 = z, a41 = z;
        if (!first)
        {
            a00 = Vector256.Load(dwT + 0 * C); a01 = Vector256.Load(dwT + 0 * C + 8);
            a10 = Vector256.Load(dwT + 1 * C); a11 = Vector256.Load(dwT + 1 * C + 8);
            a20 = Vector256.Load(dwT + 2 * C); a21 = Vector256.Load(dwT + 2 * C + 8);
            a30 = Vector256.Load(dwT + 3 * C); a31 = Vector256.Load(dwT + 3 * C + 8);
            a40 = Vector256.Load(dwT + 4 * C); a41 = Vector256.Load(dwT + 4 * C + 8);
        }
        float* g = dyT;
        nint rowStride = W;
        for (int b = 0; b < nb; b++)
            for (float* row = input + (nint)b * example, rowsEnd = row + OH * rowStride; row < rowsEnd; row += rowStride)
                for (float* p = row, end = row + OW; p < end; p += 8, g += 8 * C)
                {
                    {
                        Vector256<float> d0 = Vector256.Load(g), d1 = Vector256.Load(g + 8);
                        var x0 = Vector256.Create(p[0]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[1]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[2]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[3]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[4]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 1 * C), d1 = Vector256.Load(g + 1 * C + 8);
                        var x0 = Vector256.Create(p[1]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[2]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[3]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[4]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[5]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 2 * C), d1 = Vector256.Load(g + 2 * C + 8);
                        var x0 = Vector256.Create(p[2]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[3]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[4]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[5]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[6]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 3 * C), d1 = Vector256.Load(g + 3 * C + 8);
                        var x0 = Vector256.Create(p[3]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[4]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[5]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[6]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[7]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 4 * C), d1 = Vector256.Load(g + 4 * C + 8);
                        var x0 = Vector256.Create(p[4]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[5]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[6]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[7]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[8]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 5 * C), d1 = Vector256.Load(g + 5 * C + 8);
                        var x0 = Vector256.Create(p[5]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[6]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[7]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[8]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[9]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 6 * C), d1 = Vector256.Load(g + 6 * C + 8);
                        var x0 = Vector256.Create(p[6]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[7]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[8]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[9]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[10]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                    {
                        Vector256<float> d0 = Vector256.Load(g + 7 * C), d1 = Vector256.Load(g + 7 * C + 8);
                        var x0 = Vector256.Create(p[7]); a00 = Fma.MultiplyAdd(x0, d0, a00); a01 = Fma.MultiplyAdd(x0, d1, a01);
                        var x1 = Vector256.Create(p[8]); a10 = Fma.MultiplyAdd(x1, d0, a10); a11 = Fma.MultiplyAdd(x1, d1, a11);
                        var x2 = Vector256.Create(p[9]); a20 = Fma.MultiplyAdd(x2, d0, a20); a21 = Fma.MultiplyAdd(x2, d1, a21);
                        var x3 = Vector256.Create(p[10]); a30 = Fma.MultiplyAdd(x3, d0, a30); a31 = Fma.MultiplyAdd(x3, d1, a31);
                        var x4 = Vector256.Create(p[11]); a40 = Fma.MultiplyAdd(x4, d0, a40); a41 = Fma.MultiplyAdd(x4, d1, a41);
                    }
                }
        a00.Store(dwT + 0 * C); a01.Store(dwT + 0 * C + 8);
        a10.Store(dwT + 1 * C); a11.Store(dwT + 1 * C + 8);
        a20.Store(dwT + 2 * C); a21.Store(dwT + 2 * C + 8);
        a30.Store(dwT + 3 * C); a31.Store(dwT + 3 * C + 8);
        a40.Store(dwT + 4 * C); a41.Store(dwT + 4 * C + 8);
    }

    /// <summary>
    /// dinput = col2im(Wᵀ · dY) for B images of 8×8 outputs, K = 5, no padding (H = W = 12), on AVX2: per image, each
    /// column row (ci, ky, kx) in order, its 64 column gradients (8 vectors, FMA chains over co from 0) are added into
    /// the image's dX rows, summed in a packed block (channels of 144 floats) and copied out, as the AVX-512 kernel;
    /// channels two at a time (<see cref="InputGradientRowsPairAvx2"/>), an odd last one alone.
    /// A column row's adds touch the previous row's just-stored dX shifted by one float only after its own 8·CO FMAs,
    /// so no load waits on an overlapping store.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient8x8Avx2(float* dinput, ImageStrides s, float* doutput, int N, float* weight, int B, int CI, int CO)
    {
        int CKK = CI * 25;
        float* wP = AlignedScratch(ref t_weightRows, CKK * CO);
        CpuKernels.Transpose(wP, weight, CKK, CO, CKK, IsaLevel.Avx2); // (CKK, CO): a column row's weights, one per co
        float* dy = AlignedScratch(ref t_dyImage, CO * 64);
        float* block = AlignedScratch(ref t_dxBlock, CI * 144);
        for (int b = 0; b < B; b++)
        {
            CopyRows(dy, 64, doutput + (nint)b * 64, N, CO, 64);
            new Span<float>(block, CI * 144).Clear();
            int ci = 0;
            for (; ci + 2 <= CI; ci += 2)
                for (int ky = 0; ky < 5; ky++)
                    for (int kx = 0; kx < 5; kx++)
                    {
                        float* dx = block + ci * 144 + ky * 12 + kx, w = wP + (nint)((ci * 5 + ky) * 5 + kx) * CO;
                        InputGradientRowsPairAvx2(dx, w, w + 25 * CO, dy, CO);
                        InputGradientRowsPairAvx2(dx + 48, w, w + 25 * CO, dy + 32, CO);
                    }
            for (; ci < CI; ci++)
                for (int ky = 0; ky < 5; ky++)
                    for (int kx = 0; kx < 5; kx++)
                        InputGradientRowAvx2(block + ci * 144 + ky * 12 + kx, wP + (nint)((ci * 5 + ky) * 5 + kx) * CO, dy, CO);
            CopyRows(dinput + (nint)b * s.Example, s.Channel, block, 144, CI, 144);
        }
    }

    [ThreadStatic] private static float[]? t_weightRows;
    /// <summary>
    /// Half (4 of the 8 rows, <paramref name="dy"/> at the half's first column) of the same column row (ci, ky, kx) of two
    /// neighbouring channels ci and ci + 1 (<paramref name="w0"/>, <paramref name="w1"/>), added into dX rows at
    /// <paramref name="dx"/> and 144 floats on. The two channels share each dY load: 6 loads per 8 FMAs where one
    /// column row at a time takes 9, which held it at 71 % of Zen 3's peak (load-bound); channel pairs ran 0.80–0.83×
    /// the time (`ab conv avx2 kernels`, a scratch toggle, paired, three runs). A dX element still receives its
    /// (ky, kx) terms in the same order: the two channels' elements are distinct, and the two halves touch distinct rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputGradientRowsPairAvx2(float* dx, float* w0, float* w1, float* dy, int CO)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> s0 = z, s1 = z, s2 = z, s3 = z, t0 = z, t1 = z, t2 = z, t3 = z;
        for (float* end = w0 + CO; w0 < end; w0++, w1++, dy += 64)
        {
            var x = Vector256.Create(*w0);
            var y = Vector256.Create(*w1);
            var d = Vector256.Load(dy + 0); s0 = Fma.MultiplyAdd(x, d, s0); t0 = Fma.MultiplyAdd(y, d, t0);
            d = Vector256.Load(dy + 8); s1 = Fma.MultiplyAdd(x, d, s1); t1 = Fma.MultiplyAdd(y, d, t1);
            d = Vector256.Load(dy + 16); s2 = Fma.MultiplyAdd(x, d, s2); t2 = Fma.MultiplyAdd(y, d, t2);
            d = Vector256.Load(dy + 24); s3 = Fma.MultiplyAdd(x, d, s3); t3 = Fma.MultiplyAdd(y, d, t3);
        }
        (Vector256.Load(dx + 0) + s0).Store(dx + 0);
        (Vector256.Load(dx + 12) + s1).Store(dx + 12);
        (Vector256.Load(dx + 24) + s2).Store(dx + 24);
        (Vector256.Load(dx + 36) + s3).Store(dx + 36);
        float* dx1 = dx + 144;
        (Vector256.Load(dx1 + 0) + t0).Store(dx1 + 0);
        (Vector256.Load(dx1 + 12) + t1).Store(dx1 + 12);
        (Vector256.Load(dx1 + 24) + t2).Store(dx1 + 24);
        (Vector256.Load(dx1 + 36) + t3).Store(dx1 + 36);
    }

    /// <summary>
    /// One column row's 64 gradients (rows of 8 = 8 vectors) = Σ over co ascending of w[co] · dY[co], added into dX rows
    /// 0 … 7 at <paramref name="dx"/> (stride 12). Inlined into its caller's kx loop: a call per 8·CO FMAs cost about 2 %
    /// (`ab conv avx2 kernels`, paired: 0.97–0.98× the time inlined).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputGradientRowAvx2(float* dx, float* w, float* dy, int CO)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> s0 = z, s1 = z, s2 = z, s3 = z, s4 = z, s5 = z, s6 = z, s7 = z;
        for (float* end = w + CO; w < end; w++, dy += 64)
        {
            var x = Vector256.Create(*w);
            s0 = Fma.MultiplyAdd(x, Vector256.Load(dy + 0), s0); s1 = Fma.MultiplyAdd(x, Vector256.Load(dy + 8), s1);
            s2 = Fma.MultiplyAdd(x, Vector256.Load(dy + 16), s2); s3 = Fma.MultiplyAdd(x, Vector256.Load(dy + 24), s3);
            s4 = Fma.MultiplyAdd(x, Vector256.Load(dy + 32), s4); s5 = Fma.MultiplyAdd(x, Vector256.Load(dy + 40), s5);
            s6 = Fma.MultiplyAdd(x, Vector256.Load(dy + 48), s6); s7 = Fma.MultiplyAdd(x, Vector256.Load(dy + 56), s7);
        }
        (Vector256.Load(dx + 0) + s0).Store(dx + 0);
        (Vector256.Load(dx + 12) + s1).Store(dx + 12);
        (Vector256.Load(dx + 24) + s2).Store(dx + 24);
        (Vector256.Load(dx + 36) + s3).Store(dx + 36);
        (Vector256.Load(dx + 48) + s4).Store(dx + 48);
        (Vector256.Load(dx + 60) + s5).Store(dx + 60);
        (Vector256.Load(dx + 72) + s6).Store(dx + 72);
        (Vector256.Load(dx + 84) + s7).Store(dx + 84);
    }

    /// <summary>
    /// output <c>(CO, B·OH·24)</c> = ReLU?(conv(input) + bias) for B images of 24-wide output rows, K = 5, no padding, on
    /// AVX2: 4 output channels × one output row (3 vectors) per tile, each output one FMA chain over (ci, ky, kx)
    /// ascending from 0, then + bias, then ReLU; weights packed per group of 4 channels as (CKK, 4). With
    /// <paramref name="pooled"/> (OH even), each pair of rows just stored (still in L1) is max-pooled 2×2 into
    /// <paramref name="pooled"/> <c>(CO, B, OH/2, 12)</c> by the pool's own row step (<see cref="CpuConvKernels.PoolRow8{TReluOutput, TCodes}"/>, for ReLU'd rows),
    /// instead of a later pass over the whole output.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward24Avx2(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int OH, int CO, bool relu,
        float* pooled = null, byte* codes = null)
    {
        if (pooled != null && !relu) throw new ArgumentException("the pooled forward needs the ReLU (its maxima are taken over values ≥ +0)", nameof(relu));
        if (pooled == null && codes != null) throw new ArgumentException("codes without a pooled output", nameof(codes));
        // The pool and its codes are type arguments, as in the AVX-512 kernel: the row pair's pass tests no pointers.
        if (pooled == null) Forward24Avx2<No, No>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, null, null);
        else if (codes == null) Forward24Avx2<Yes, No>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, null);
        else Forward24Avx2<Yes, Yes>(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, codes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward24Avx2<TPool, TCodes>(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W, int OH, int CO,
        bool relu, float* pooled, byte* codes)
        where TPool : struct, IFlag where TCodes : struct, IFlag
    {
        int CKK = CI * 25, OHW = OH * 24, groups = (CO + 3) / 4;
        nint N = (nint)B * OHW, NP = (nint)B * (OH / 2) * 12;
        float* packed = PackChannelGroups(ref t_weight4, weight, CO, CKK, 4);
        // Without an output (only the pooled one is wanted) a tile's rows go to a scratch of 4 channels × 2 rows.
        float* pair = stackalloc float[4 * 48];
        nint channel = output == null ? 48 : N;
        for (int b = 0; b < B; b++)
            for (int g = 0; g < groups; g++)
            {
                int rows = Math.Min(4, CO - g * 4);
                for (int oy = 0; oy < OH; oy++)
                {
                    float* y = output == null ? pair + oy % 2 * 24 : output + g * 4 * N + (nint)b * OHW + oy * 24;
                    Forward24Avx2Tile(y, channel, packed + (nint)g * CKK * 4, rows, input + (nint)b * s.Example + (nint)oy * W, CI, s.Channel, W, bias + g * 4, relu);
                    if (!TPool.On || oy % 2 == 0) continue;
                    nint at = g * 4 * NP + (nint)b * (OH / 2) * 12 + oy / 2 * 12;
                    for (int r = 0; r < rows; r++, at += NP)
                        CpuConvKernels.PoolRow8<Yes, TCodes>(pooled + at, y + r * channel - 24, y + r * channel, 12, codes + at);
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward24Avx2Tile(float* y, nint N, float* wq, int rows, float* x, int CI, nint channel, int W, float* bias, bool relu)
    {
        var z = Vector256<float>.Zero;
        Vector256<float> a00 = z, a01 = z, a02 = z, a10 = z, a11 = z, a12 = z, a20 = z, a21 = z, a22 = z, a30 = z, a31 = z, a32 = z;
        // The (ci, ky) rows by a stepped pointer: computing each row's address from ci and ky (a multiply and
        // sign extensions per 60 FMAs) cost 7–9 % (`ab conv avx2 kernels`, paired: 0.91–0.93× the time).
        nint row = W;
        for (int ci = 0; ci < CI; ci++)
            for (float* p = x + ci * channel, rowsEnd = p + 5 * row; p < rowsEnd; p += row, wq += 5 * 4)
            {
                {
                    Vector256<float> x0 = Vector256.Load(p + 0), x1 = Vector256.Load(p + 8), x2 = Vector256.Load(p + 16);
                    var w0 = Vector256.Create(wq[0]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    var w1 = Vector256.Create(wq[1]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11); a12 = Fma.MultiplyAdd(w1, x2, a12);
                    var w2 = Vector256.Create(wq[2]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21); a22 = Fma.MultiplyAdd(w2, x2, a22);
                    var w3 = Vector256.Create(wq[3]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31); a32 = Fma.MultiplyAdd(w3, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 1), x1 = Vector256.Load(p + 9), x2 = Vector256.Load(p + 17);
                    var w0 = Vector256.Create(wq[4]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    var w1 = Vector256.Create(wq[5]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11); a12 = Fma.MultiplyAdd(w1, x2, a12);
                    var w2 = Vector256.Create(wq[6]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21); a22 = Fma.MultiplyAdd(w2, x2, a22);
                    var w3 = Vector256.Create(wq[7]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31); a32 = Fma.MultiplyAdd(w3, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 2), x1 = Vector256.Load(p + 10), x2 = Vector256.Load(p + 18);
                    var w0 = Vector256.Create(wq[8]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    var w1 = Vector256.Create(wq[9]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11); a12 = Fma.MultiplyAdd(w1, x2, a12);
                    var w2 = Vector256.Create(wq[10]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21); a22 = Fma.MultiplyAdd(w2, x2, a22);
                    var w3 = Vector256.Create(wq[11]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31); a32 = Fma.MultiplyAdd(w3, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 3), x1 = Vector256.Load(p + 11), x2 = Vector256.Load(p + 19);
                    var w0 = Vector256.Create(wq[12]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    var w1 = Vector256.Create(wq[13]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11); a12 = Fma.MultiplyAdd(w1, x2, a12);
                    var w2 = Vector256.Create(wq[14]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21); a22 = Fma.MultiplyAdd(w2, x2, a22);
                    var w3 = Vector256.Create(wq[15]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31); a32 = Fma.MultiplyAdd(w3, x2, a32);
                }
                {
                    Vector256<float> x0 = Vector256.Load(p + 4), x1 = Vector256.Load(p + 12), x2 = Vector256.Load(p + 20);
                    var w0 = Vector256.Create(wq[16]); a00 = Fma.MultiplyAdd(w0, x0, a00); a01 = Fma.MultiplyAdd(w0, x1, a01); a02 = Fma.MultiplyAdd(w0, x2, a02);
                    var w1 = Vector256.Create(wq[17]); a10 = Fma.MultiplyAdd(w1, x0, a10); a11 = Fma.MultiplyAdd(w1, x1, a11); a12 = Fma.MultiplyAdd(w1, x2, a12);
                    var w2 = Vector256.Create(wq[18]); a20 = Fma.MultiplyAdd(w2, x0, a20); a21 = Fma.MultiplyAdd(w2, x1, a21); a22 = Fma.MultiplyAdd(w2, x2, a22);
                    var w3 = Vector256.Create(wq[19]); a30 = Fma.MultiplyAdd(w3, x0, a30); a31 = Fma.MultiplyAdd(w3, x1, a31); a32 = Fma.MultiplyAdd(w3, x2, a32);
                }
            }
        StoreRow24(y, bias[0], a00, a01, a02, relu);
        if (rows > 1) StoreRow24(y + 1 * N, bias[1], a10, a11, a12, relu);
        if (rows > 2) StoreRow24(y + 2 * N, bias[2], a20, a21, a22, relu);
        if (rows > 3) StoreRow24(y + 3 * N, bias[3], a30, a31, a32, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow24(float* y, float bias, Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, bool relu)
    {
        var b = Vector256.Create(bias);
        v0 += b; v1 += b; v2 += b;
        if (relu) { v0 = Avx.Max(v0, Vector256<float>.Zero); v1 = Avx.Max(v1, Vector256<float>.Zero); v2 = Avx.Max(v2, Vector256<float>.Zero); }
        v0.Store(y); v1.Store(y + 8); v2.Store(y + 16);
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>The AVX-512 and AVX2 dYᵀ of a 2×2 max pool's backward from its window codes (see CpuConvGemm.cs).</summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// Whether <see cref="PoolBackwardFromCodes"/> takes <paramref name="CO"/> channels and outputs <paramref name="OW"/>
    /// wide at <paramref name="isa"/>: AVX-512 any multiple of 16 channels, AVX2 multiples of 8 with ≥ 8 windows a row.
    /// </summary>
    internal static bool HasPoolBackwardFromCodes(int CO, int OW, IsaLevel isa) => FusedLevel(isa) switch
    {
        IsaLevel.Avx512 => CO % 16 == 0,
        IsaLevel.Avx2 => CO % 8 == 0 && OW / 2 >= 8,
        _ => false,
    };

    /// <summary>
    /// dYᵀ of a 2×2 max pool's backward from its window codes and its bias lanes <c>(16, CO)</c>, by
    /// <see cref="PoolBackwardFromCodes512"/> or <see cref="PoolBackwardFromCodesAvx2"/> (the same values; where
    /// <see cref="HasPoolBackwardFromCodes"/>).
    /// </summary>
    internal static void PoolBackwardFromCodes(float* dyT, float* lanesT, int CO, float* dpool, byte* codes, nint channel, int b0, int nb,
        int OH, int OW, bool reluMask, IsaLevel isa)
    {
        if (FusedLevel(isa) == IsaLevel.Avx512) PoolBackwardFromCodes512(dyT, lanesT, CO, dpool, codes, channel, b0, nb, OH, OW, reluMask);
        else PoolBackwardFromCodesAvx2(dyT, lanesT, CO, dpool, codes, channel, b0, nb, OH, OW, reluMask);
    }

    /// <summary>
    /// dYᵀ <c>(nb·OH·OW, CO)</c> of a 2×2 max pool's backward from its window codes (OH, OW even; CO a multiple of 16),
    /// the values CpuConvKernels.PoolBackwardFromCodes writes (the window's gradient at the position its code names, or
    /// +0 with <paramref name="reluMask"/> when the maximum was not &gt; 0, and +0 at the other three), and every row's
    /// bias terms into <paramref name="lanesT"/> <c>(16, CO)</c>: lane (position mod 16) of each channel, rows in
    /// ascending order, which is <see cref="CpuConvKernels.LaneSums"/>'s order with the lanes and channels swapped.
    /// A pooled row of 16 channels × up to 16 windows is read as 16 rows of gradients and 16 of codes, each block
    /// transposed in registers (a window's 16 channels are then one vector and one 16-byte code vector), and each
    /// window writes its four dYᵀ rows as masked moves of one vector: the channel-major dY tile and its transpose
    /// (4× the data of the inputs) are not built. <paramref name="dpool"/> and <paramref name="codes"/> are at image
    /// <paramref name="b0"/> (its index in the batch, for the lanes), channel planes <paramref name="channel"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolBackwardFromCodes512(float* dyT, float* lanesT, int CO, float* dpool, byte* codes, nint channel, int b0, int nb,
        int OH, int OW, bool reluMask)
    {
        int PH = OH / 2, PW = OW / 2, PHW = PH * PW, OHW = OH * OW, rows = 2 * OW;
        var g = stackalloc Vector512<float>[16];
        var k = stackalloc Vector128<byte>[16];
        // An image's 16 planes of gradients and codes, copied next to each other first: in place they lie B·PH·PW
        // floats apart (LeNet: 72 KiB, a multiple of 4 KiB), so a pooled row's 16 loads fell into one L1 set and missed.
        float* gBlock = AlignedScratch(ref t_poolGradients, 16 * PHW + 16);
        byte* kBlock = (byte*)AlignedScratch(ref t_poolCodes, (16 * PHW + 64) / 4);
        // The ReLU mask keeps a gradient whose code has bit 2 set; without it, (code & 0) == 0 keeps every one.
        var positive = Vector512.Create(reluMask ? 4 : 0);
        var three = Vector512.Create(3);
        var two = Vector512.Create(2);
        for (int b = 0; b < nb; b++)
            for (int cb = 0; cb < CO; cb += 16)
            {
                for (int c = 0; c < 16; c++)
                {
                    nint at = (cb + c) * channel + (nint)b * PHW;
                    new ReadOnlySpan<float>(dpool + at, PHW).CopyTo(new Span<float>(gBlock + c * PHW, PHW));
                    new ReadOnlySpan<byte>(codes + at, PHW).CopyTo(new Span<byte>(kBlock + c * PHW, PHW));
                }
                for (int py = 0; py < PH; py++)
                {
                    float* pair = dyT + ((nint)b * OHW + 2 * py * OW) * CO + cb; // the row pair's first dYᵀ row
                    for (int px0 = 0; px0 < PW; px0 += 16)
                    {
                        int count = Math.Min(16, PW - px0);
                        var floats = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
                        var bytes = Vector128.LessThan(Vector128<byte>.Indices, Vector128.Create((byte)count));
                        float* gc = gBlock + py * PW + px0;
                        byte* kc = kBlock + py * PW + px0;
                        for (int c = 0; c < 16; c++, gc += PHW, kc += PHW)
                        {
                            g[c] = Avx512F.MaskLoad(gc, floats, Vector512<float>.Zero);
                            k[c] = Avx512BW.VL.MaskLoad(kc, bytes, Vector128<byte>.Zero);
                        }
                        Transpose16x16(g);
                        Transpose16x16(k);
                        float* top = pair + (nint)2 * px0 * CO, bottom = top + (nint)OW * CO;
                        for (int px = 0; px < count; px++, top += 2 * CO, bottom += 2 * CO)
                        {
                            var code = Avx512F.ConvertToVector512Int32(k[px]);
                            var v = Vector512.ConditionalSelect(Vector512.Equals(code & positive, positive).AsSingle(), g[px], Vector512<float>.Zero);
                            var where = code & three;
                            Vector512.ConditionalSelect(Vector512.Equals(where, Vector512<int>.Zero).AsSingle(), v, Vector512<float>.Zero).Store(top);
                            Vector512.ConditionalSelect(Vector512.Equals(where, Vector512<int>.One).AsSingle(), v, Vector512<float>.Zero).Store(top + CO);
                            Vector512.ConditionalSelect(Vector512.Equals(where, two).AsSingle(), v, Vector512<float>.Zero).Store(bottom);
                            Vector512.ConditionalSelect(Vector512.Equals(where, three).AsSingle(), v, Vector512<float>.Zero).Store(bottom + CO);
                        }
                    }
                    // The row pair's rows into their lanes (position in the batch mod 16), each lane's rows in ascending order.
                    long first = (long)(b0 + b) * OHW + 2 * py * OW;
                    if ((first & 15) == 0 && rows % 16 == 0) AddRowsToLanes(lanesT + cb, pair, CO, rows);
                    else
                    {
                        float* r = pair;
                        for (int i = 0; i < rows; i++, r += CO)
                        {
                            float* lane = lanesT + (int)((first + i) & 15) * CO + cb;
                            (Vector512.Load(lane) + Vector512.Load(r)).Store(lane);
                        }
                    }
                }
            }
    }

    [ThreadStatic] private static float[]? t_poolGradients, t_poolCodes;

    /// <summary>
    /// <see cref="PoolBackwardFromCodes512"/> on AVX2 (CO a multiple of 8, at least 8 windows a row): an image's 8 planes
    /// of codes widened to 32 bits next to each other, then 8 channels × 8 windows at a time of them and of the
    /// gradients (read in place: 8 planes share an L1 set without thrashing it, and copying them measured 1.04× the
    /// time) transposed through <see cref="CpuKernels.Transpose8x8"/> into window-major blocks; a row's last block
    /// starts at its last 8 windows (it may redo some: the same stores). Each window's four dYᵀ rows are its vector
    /// ANDed with four compares; the lanes are added 8 at a time (16 YMM registers).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolBackwardFromCodesAvx2(float* dyT, float* lanesT, int CO, float* dpool, byte* codes, nint channel, int b0, int nb,
        int OH, int OW, bool reluMask)
    {
        int PH = OH / 2, PW = OW / 2, PHW = PH * PW, OHW = OH * OW, rows = 2 * OW;
        int* kBlock = (int*)AlignedScratch(ref t_poolCodes, 8 * PHW + 16);
        float* gT = stackalloc float[64];
        int* kT = stackalloc int[64];
        var positive = Vector256.Create(reluMask ? 4 : 0);
        var three = Vector256.Create(3);
        var two = Vector256.Create(2);
        for (int b = 0; b < nb; b++)
            for (int cb = 0; cb < CO; cb += 8)
            {
                for (int c = 0; c < 8; c++)
                {
                    nint at = (cb + c) * channel + (nint)b * PHW;
                    byte* k = codes + at;
                    int* w = kBlock + c * PHW;
                    int i = 0;
                    for (; i + 8 <= PHW; i += 8) Avx2.ConvertToVector256Int32(k + i).Store(w + i);
                    for (; i < PHW; i++) w[i] = k[i];
                }
                for (int py = 0; py < PH; py++)
                {
                    float* pair = dyT + ((nint)b * OHW + 2 * py * OW) * CO + cb; // the row pair's first dYᵀ row
                    for (int px0 = 0; ; px0 += 8)
                    {
                        px0 = Math.Min(px0, PW - 8);
                        CpuKernels.Transpose8x8(gT, 8, dpool + cb * channel + (nint)b * PHW + py * PW + px0, (int)channel);
                        CpuKernels.Transpose8x8((float*)kT, 8, (float*)(kBlock + py * PW + px0), PHW);
                        float* top = pair + (nint)2 * px0 * CO, bottom = top + (nint)OW * CO;
                        for (int px = 0; px < 8; px++, top += 2 * CO, bottom += 2 * CO)
                        {
                            var code = Vector256.Load(kT + 8 * px);
                            var v = Vector256.Load(gT + 8 * px) & Vector256.Equals(code & positive, positive).AsSingle();
                            var where = code & three;
                            (v & Vector256.Equals(where, Vector256<int>.Zero).AsSingle()).Store(top);
                            (v & Vector256.Equals(where, Vector256<int>.One).AsSingle()).Store(top + CO);
                            (v & Vector256.Equals(where, two).AsSingle()).Store(bottom);
                            (v & Vector256.Equals(where, three).AsSingle()).Store(bottom + CO);
                        }
                        if (px0 + 8 >= PW) break;
                    }
                    long first = (long)(b0 + b) * OHW + 2 * py * OW;
                    if ((first & 15) == 0 && rows % 16 == 0)
                    {
                        AddRowsToLanes8(lanesT + cb, pair, CO, rows);
                        AddRowsToLanes8(lanesT + 8 * CO + cb, pair + 8 * CO, CO, rows);
                    }
                    else
                    {
                        float* r = pair;
                        for (int i = 0; i < rows; i++, r += CO)
                        {
                            float* lane = lanesT + (int)((first + i) & 15) * CO + cb;
                            (Vector256.Load(lane) + Vector256.Load(r)).Store(lane);
                        }
                    }
                }
            }
    }

    /// <summary>
    /// Lanes 0 … 7 (or 8 … 15, with <paramref name="lanes"/> and <paramref name="rows"/> both 8 rows on) of
    /// <see cref="AddRowsToLanes"/> with 256-bit vectors: lane j += rows(16 i + j) in ascending i, for the
    /// <paramref name="count"/> rows (a multiple of 16) <paramref name="stride"/> floats apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRowsToLanes8(float* lanes, float* rows, int stride, int count)
    {
        nint s = stride;
        Vector256<float> s0 = Vector256.Load(lanes), s1 = Vector256.Load(lanes + s), s2 = Vector256.Load(lanes + 2 * s), s3 = Vector256.Load(lanes + 3 * s),
            s4 = Vector256.Load(lanes + 4 * s), s5 = Vector256.Load(lanes + 5 * s), s6 = Vector256.Load(lanes + 6 * s), s7 = Vector256.Load(lanes + 7 * s);
        for (float* p = rows, end = rows + count * s; p < end; p += 16 * s)
        {
            float* q = p;
            s0 += Vector256.Load(q); q += s; s1 += Vector256.Load(q); q += s; s2 += Vector256.Load(q); q += s; s3 += Vector256.Load(q); q += s;
            s4 += Vector256.Load(q); q += s; s5 += Vector256.Load(q); q += s; s6 += Vector256.Load(q); q += s; s7 += Vector256.Load(q);
        }
        s0.Store(lanes); s1.Store(lanes + s); s2.Store(lanes + 2 * s); s3.Store(lanes + 3 * s);
        s4.Store(lanes + 4 * s); s5.Store(lanes + 5 * s); s6.Store(lanes + 6 * s); s7.Store(lanes + 7 * s);
    }

    /// <summary>
    /// lanes(i mod 16) += rows(i) for the <paramref name="count"/> (a multiple of 16) vectors <paramref name="rows"/>
    /// <paramref name="stride"/> floats apart, in ascending i: the 16 lanes (also <paramref name="stride"/> apart) in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRowsToLanes(float* lanes, float* rows, int stride, int count)
    {
        nint s = stride;
        Vector512<float> s0 = Vector512.Load(lanes), s1 = Vector512.Load(lanes + s), s2 = Vector512.Load(lanes + 2 * s), s3 = Vector512.Load(lanes + 3 * s),
            s4 = Vector512.Load(lanes + 4 * s), s5 = Vector512.Load(lanes + 5 * s), s6 = Vector512.Load(lanes + 6 * s), s7 = Vector512.Load(lanes + 7 * s),
            s8 = Vector512.Load(lanes + 8 * s), s9 = Vector512.Load(lanes + 9 * s), s10 = Vector512.Load(lanes + 10 * s), s11 = Vector512.Load(lanes + 11 * s),
            s12 = Vector512.Load(lanes + 12 * s), s13 = Vector512.Load(lanes + 13 * s), s14 = Vector512.Load(lanes + 14 * s), s15 = Vector512.Load(lanes + 15 * s);
        for (float* p = rows, end = rows + count * s; p < end;)
        {
            s0 += Vector512.Load(p); p += s; s1 += Vector512.Load(p); p += s; s2 += Vector512.Load(p); p += s; s3 += Vector512.Load(p); p += s;
            s4 += Vector512.Load(p); p += s; s5 += Vector512.Load(p); p += s; s6 += Vector512.Load(p); p += s; s7 += Vector512.Load(p); p += s;
            s8 += Vector512.Load(p); p += s; s9 += Vector512.Load(p); p += s; s10 += Vector512.Load(p); p += s; s11 += Vector512.Load(p); p += s;
            s12 += Vector512.Load(p); p += s; s13 += Vector512.Load(p); p += s; s14 += Vector512.Load(p); p += s; s15 += Vector512.Load(p); p += s;
        }
        s0.Store(lanes); s1.Store(lanes + s); s2.Store(lanes + 2 * s); s3.Store(lanes + 3 * s);
        s4.Store(lanes + 4 * s); s5.Store(lanes + 5 * s); s6.Store(lanes + 6 * s); s7.Store(lanes + 7 * s);
        s8.Store(lanes + 8 * s); s9.Store(lanes + 9 * s); s10.Store(lanes + 10 * s); s11.Store(lanes + 11 * s);
        s12.Store(lanes + 12 * s); s13.Store(lanes + 13 * s); s14.Store(lanes + 14 * s); s15.Store(lanes + 15 * s);
    }

    /// <summary>The 16×16 floats at <paramref name="r"/> (16 vectors, rows) transposed in place (4 rounds of 16 shuffles).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16(Vector512<float>* r)
    {
        // Round 1: pairs of rows interleaved by float; round 2: by float pair; then 128-bit lanes regrouped twice.
        Vector512<float> t0 = Avx512F.UnpackLow(r[0], r[1]), t1 = Avx512F.UnpackHigh(r[0], r[1]),
            t2 = Avx512F.UnpackLow(r[2], r[3]), t3 = Avx512F.UnpackHigh(r[2], r[3]),
            t4 = Avx512F.UnpackLow(r[4], r[5]), t5 = Avx512F.UnpackHigh(r[4], r[5]),
            t6 = Avx512F.UnpackLow(r[6], r[7]), t7 = Avx512F.UnpackHigh(r[6], r[7]),
            t8 = Avx512F.UnpackLow(r[8], r[9]), t9 = Avx512F.UnpackHigh(r[8], r[9]),
            t10 = Avx512F.UnpackLow(r[10], r[11]), t11 = Avx512F.UnpackHigh(r[10], r[11]),
            t12 = Avx512F.UnpackLow(r[12], r[13]), t13 = Avx512F.UnpackHigh(r[12], r[13]),
            t14 = Avx512F.UnpackLow(r[14], r[15]), t15 = Avx512F.UnpackHigh(r[14], r[15]);
        // u[4R + q]: in 128-bit lane j, column 4j + q of rows 4R … 4R + 3.
        Vector512<float> u0 = Lo(t0, t2), u1 = Hi(t0, t2), u2 = Lo(t1, t3), u3 = Hi(t1, t3),
            u4 = Lo(t4, t6), u5 = Hi(t4, t6), u6 = Lo(t5, t7), u7 = Hi(t5, t7),
            u8 = Lo(t8, t10), u9 = Hi(t8, t10), u10 = Lo(t9, t11), u11 = Hi(t9, t11),
            u12 = Lo(t12, t14), u13 = Hi(t12, t14), u14 = Lo(t13, t15), u15 = Hi(t13, t15);
        Column(r, 0, u0, u4, u8, u12);
        Column(r, 1, u1, u5, u9, u13);
        Column(r, 2, u2, u6, u10, u14);
        Column(r, 3, u3, u7, u11, u15);

        static Vector512<float> Lo(Vector512<float> a, Vector512<float> b) => Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle();
        static Vector512<float> Hi(Vector512<float> a, Vector512<float> b) => Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle();
    }

    /// <summary>Columns q, 4 + q, 8 + q, 12 + q from the four row groups' vectors of column offset q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column(Vector512<float>* r, int q, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        Vector512<float> abEven = Avx512F.Shuffle4x128(a, b, 0x88), abOdd = Avx512F.Shuffle4x128(a, b, 0xDD),
            cdEven = Avx512F.Shuffle4x128(c, d, 0x88), cdOdd = Avx512F.Shuffle4x128(c, d, 0xDD);
        r[q] = Avx512F.Shuffle4x128(abEven, cdEven, 0x88);
        r[8 + q] = Avx512F.Shuffle4x128(abEven, cdEven, 0xDD);
        r[4 + q] = Avx512F.Shuffle4x128(abOdd, cdOdd, 0x88);
        r[12 + q] = Avx512F.Shuffle4x128(abOdd, cdOdd, 0xDD);
    }

    /// <summary>The 16×16 bytes at <paramref name="r"/> (16 vectors, rows) transposed in place (4 rounds of 16 unpacks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16(Vector128<byte>* r)
    {
        // Round 1 by byte: a(2p) holds columns 0 … 7 of rows 2p, 2p + 1 (two bytes a column), a(2p + 1) columns 8 … 15.
        Vector128<byte> a0 = Sse2.UnpackLow(r[0], r[1]), a1 = Sse2.UnpackHigh(r[0], r[1]), a2 = Sse2.UnpackLow(r[2], r[3]), a3 = Sse2.UnpackHigh(r[2], r[3]),
            a4 = Sse2.UnpackLow(r[4], r[5]), a5 = Sse2.UnpackHigh(r[4], r[5]), a6 = Sse2.UnpackLow(r[6], r[7]), a7 = Sse2.UnpackHigh(r[6], r[7]),
            a8 = Sse2.UnpackLow(r[8], r[9]), a9 = Sse2.UnpackHigh(r[8], r[9]), a10 = Sse2.UnpackLow(r[10], r[11]), a11 = Sse2.UnpackHigh(r[10], r[11]),
            a12 = Sse2.UnpackLow(r[12], r[13]), a13 = Sse2.UnpackHigh(r[12], r[13]), a14 = Sse2.UnpackLow(r[14], r[15]), a15 = Sse2.UnpackHigh(r[14], r[15]);
        // Round 2 by 16 bits: b(4Q + G) holds columns 4G … 4G + 3 of rows 4Q … 4Q + 3 (four bytes a column).
        Vector128<byte> b0 = L16(a0, a2), b1 = H16(a0, a2), b2 = L16(a1, a3), b3 = H16(a1, a3),
            b4 = L16(a4, a6), b5 = H16(a4, a6), b6 = L16(a5, a7), b7 = H16(a5, a7),
            b8 = L16(a8, a10), b9 = H16(a8, a10), b10 = L16(a9, a11), b11 = H16(a9, a11),
            b12 = L16(a12, a14), b13 = H16(a12, a14), b14 = L16(a13, a15), b15 = H16(a13, a15);
        // Round 3 by 32 bits: c(8H + 2G) holds columns 4G, 4G + 1 of rows 8H … 8H + 7, c(8H + 2G + 1) columns 4G + 2, 4G + 3.
        Vector128<byte> c0 = L32(b0, b4), c1 = H32(b0, b4), c2 = L32(b1, b5), c3 = H32(b1, b5),
            c4 = L32(b2, b6), c5 = H32(b2, b6), c6 = L32(b3, b7), c7 = H32(b3, b7),
            c8 = L32(b8, b12), c9 = H32(b8, b12), c10 = L32(b9, b13), c11 = H32(b9, b13),
            c12 = L32(b10, b14), c13 = H32(b10, b14), c14 = L32(b11, b15), c15 = H32(b11, b15);
        // Round 4 by 64 bits: rows 0 … 7 of a column from c(k), rows 8 … 15 from c(8 + k).
        r[0] = L64(c0, c8); r[1] = H64(c0, c8); r[2] = L64(c1, c9); r[3] = H64(c1, c9);
        r[4] = L64(c2, c10); r[5] = H64(c2, c10); r[6] = L64(c3, c11); r[7] = H64(c3, c11);
        r[8] = L64(c4, c12); r[9] = H64(c4, c12); r[10] = L64(c5, c13); r[11] = H64(c5, c13);
        r[12] = L64(c6, c14); r[13] = H64(c6, c14); r[14] = L64(c7, c15); r[15] = H64(c7, c15);

        static Vector128<byte> L16(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackLow(x.AsInt16(), y.AsInt16()).AsByte();
        static Vector128<byte> H16(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackHigh(x.AsInt16(), y.AsInt16()).AsByte();
        static Vector128<byte> L32(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackLow(x.AsInt32(), y.AsInt32()).AsByte();
        static Vector128<byte> H32(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackHigh(x.AsInt32(), y.AsInt32()).AsByte();
        static Vector128<byte> L64(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackLow(x.AsInt64(), y.AsInt64()).AsByte();
        static Vector128<byte> H64(Vector128<byte> x, Vector128<byte> y) => Sse2.UnpackHigh(x.AsInt64(), y.AsInt64()).AsByte();
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using NativeCert.Noise;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Vectorized Philox4x32-10 + Box–Muller producing the Gaussians of docs/engine.md: 16 Philox blocks (64
/// Gaussians) per AVX-512 chunk, two chunks' rounds interleaved where a row has room for both, 8 blocks per AVX2
/// step, 1 per scalar step. The scalar step runs the one shared body
/// (<see cref="Philox4x32.Block"/>, <see cref="PolynomialBoxMuller"/>) that the ILGPU kernels compile too; the
/// AVX branches transcribe it lane-parallel. The raw Philox words are bit-identical to
/// <see cref="Philox4x32"/>. ln, sin and cos are our own polynomials (Cephes logf/sinf/cosf coefficients) built
/// only from correctly rounded operations (+, ×, FMA, √, int↔float), evaluated in the same order in every branch,
/// so the three ISA branches give bit-identical Gaussians; against the scalar reference
/// (<see cref="BoxMuller"/>, MathF) they differ by float rounding (a few 1e-7 absolute).
/// u1 = ((float)x0 + 1)·2⁻³² with the uint → float conversion rounded to nearest at every level (vcvtudq2ps,
/// two exact 16-bit halves on AVX2, the scalar cast), so u1 is bit-identical to <see cref="BoxMuller.Uniform1"/>.
/// The angle is reduced exactly in integers: with k = x1 &gt;&gt; 8, θ = 2π k/2²⁴ = q·π/2 + 2π d/2²⁴, q = round(k/2²²), |d| ≤ 2²¹.
/// </summary>
[SkipLocalsInit]
internal static unsafe class CpuNoise
{
    private const float Sqrth = 0.707106781186547524f;
    private const float AngleScale = PolynomialBoxMuller.AngleScale;

    /// <summary>z[i] = standard normal number i of row <paramref name="row"/> of a stream (all i &lt; z.Length).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Gaussians(Span<float> z, ulong seed, NoiseStream stream, uint model, uint row, IsaLevel isa)
    {
        var (k0, k1) = NoiseKey.FromSeed(seed);
        uint s = (uint)stream;
        int n = z.Length, i = 0;
        float* tmp = stackalloc float[64];
        fixed (float* dst = z)
        {
            switch (CpuIsa.Clamp(isa))
            {
                case IsaLevel.Avx512:
                    for (; i + 128 <= n; i += 128) Chunk512x2(dst + i, (uint)(i >> 2), row, model, s, k0, k1);
                    for (; i + 64 <= n; i += 64) Chunk512(dst + i, (uint)(i >> 2), row, model, s, k0, k1);
                    if (i < n) { Chunk512(tmp, (uint)(i >> 2), row, model, s, k0, k1); Copy(dst + i, tmp, n - i); }
                    break;
                case IsaLevel.Avx2:
                    for (; i + 32 <= n; i += 32) Chunk256(dst + i, (uint)(i >> 2), row, model, s, k0, k1);
                    if (i < n) { Chunk256(tmp, (uint)(i >> 2), row, model, s, k0, k1); Copy(dst + i, tmp, n - i); }
                    break;
                default:
                    for (; i + 4 <= n; i += 4) ChunkScalar(dst + i, (uint)(i >> 2), row, model, s, k0, k1);
                    if (i < n) { ChunkScalar(tmp, (uint)(i >> 2), row, model, s, k0, k1); Copy(dst + i, tmp, n - i); }
                    break;
            }
        }
    }

    /// <summary>noisy[f] = x[f] + σ·z(stream, model, row, f) (one FMA); σ in input units. noisy may not alias x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NoisyRow(Span<float> noisy, ReadOnlySpan<float> x, float sigma, ulong seed, NoiseStream stream, uint model, uint row, IsaLevel isa)
    {
        int n = x.Length;
        if (sigma == 0f) { x.CopyTo(noisy); return; } // x + 0·z = x exactly (z is finite)
        Gaussians(noisy[..n], seed, stream, model, row, isa);
        int i = 0;
        fixed (float* y = noisy, xs = x)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
            {
                var s = Vector512.Create(sigma);
                for (; i + 16 <= n; i += 16) Vector512.FusedMultiplyAdd(s, Vector512.Load(y + i), Vector512.Load(xs + i)).Store(y + i);
            }
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
            {
                var s = Vector256.Create(sigma);
                for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(s, Vector256.Load(y + i), Vector256.Load(xs + i)).Store(y + i);
            }
            for (; i < n; i++) y[i] = MathF.FusedMultiplyAdd(sigma, y[i], xs[i]);
        }
    }

    /// <summary>He-normal init per docs/engine.md (flat index p keys the WeightInit stream); biases 0.</summary>
    public static void HeInit(Span<float> parameters, ParameterLayout layout, ulong seed, uint model, IsaLevel isa)
    {
        parameters.Clear();
        // Gaussians of a row are indexed from 0, so draw the prefix up to the end of each weight matrix and scale.
        int end = layout.WeightOffset(layout.Layers - 1) + layout.In(layout.Layers - 1) * layout.Out(layout.Layers - 1);
        var z = new float[end];
        Gaussians(z, seed, NoiseStream.WeightInit, model, 0, isa);
        for (int l = 0; l < layout.Layers; l++)
        {
            float scale = MathF.Sqrt(2f / layout.In(l));
            int start = layout.WeightOffset(l), count = layout.In(l) * layout.Out(l);
            for (int p = start; p < start + count; p++) parameters[p] = z[p] * scale;
        }
    }

    private static void Copy(float* dst, float* src, int n)
    {
        for (int i = 0; i < n; i++) dst[i] = src[i];
    }

    /// <summary>Test hook: u1[i] of word x0[i] as branch <paramref name="isa"/> computes it.</summary>
    internal static void Uniforms1(Span<float> u1, ReadOnlySpan<uint> x0, IsaLevel isa)
    {
        var result = new float[16];
        for (int i = 0; i < x0.Length; i++)
        {
            switch (CpuIsa.Clamp(isa))
            {
                case IsaLevel.Avx512:
                    Uniform1_512(Vector512.Create(x0[i])).CopyTo(result);
                    break;
                case IsaLevel.Avx2:
                    Uniform1_256(Vector256.Create(x0[i])).CopyTo(result);
                    break;
                default:
                    result[0] = BoxMuller.Uniform1(x0[i]);
                    break;
            }
            u1[i] = result[0];
        }
    }

    /// <summary>Test hook: (z[2i], z[2i+1]) = Box–Muller of the word pair (words[2i], words[2i+1]) as branch <paramref name="isa"/> computes it.</summary>
    internal static void TransformPairs(Span<float> z, ReadOnlySpan<uint> words, IsaLevel isa)
    {
        var a = new uint[16];
        var b = new uint[16];
        for (int i = 0; i < words.Length / 2; i++)
        {
            // The pair sits in one lane of otherwise varied lanes, so lane-crossing mistakes would show.
            for (int lane = 0; lane < 16; lane++) (a[lane], b[lane]) = (words[2 * i] + (uint)lane * 0x01000193u, words[2 * i + 1] ^ (uint)lane);
            int at = i % 8;
            (a[at], b[at]) = (words[2 * i], words[2 * i + 1]);
            switch (CpuIsa.Clamp(isa))
            {
                case IsaLevel.Avx512:
                    {
                        var (z0, z1) = Transform512(Vector512.Create(a), Vector512.Create(b));
                        (z[2 * i], z[2 * i + 1]) = (z0[at], z1[at]);
                        break;
                    }
                case IsaLevel.Avx2:
                    {
                        var (z0, z1) = Transform256(Vector256.Create(a.AsSpan(0, 8)), Vector256.Create(b.AsSpan(0, 8)));
                        (z[2 * i], z[2 * i + 1]) = (z0[at], z1[at]);
                        break;
                    }
                default:
                    (z[2 * i], z[2 * i + 1]) = TransformScalar(words[2 * i], words[2 * i + 1]);
                    break;
            }
        }
    }

    // ------------------------------------------------------------ scalar branch (1 block = 4 Gaussians)

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ChunkScalar(float* dst, uint block, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var (x0, x1, x2, x3) = Philox4x32.Generate(block, row, model, stream, k0, k1);
        (dst[0], dst[1]) = TransformScalar(x0, x1);
        (dst[2], dst[3]) = TransformScalar(x2, x3);
    }

    /// <summary>Box–Muller of one lane pair: the shared body (<see cref="PolynomialBoxMuller"/>), which the SIMD branches transcribe.</summary>
    internal static (float Z0, float Z1) TransformScalar(uint xa, uint xb)
    {
        PolynomialBoxMuller.Transform<DotNetFma>(xa, xb, out float z0, out float z1);
        return (z0, z1);
    }

    // ------------------------------------------------------------ AVX-512 branch (16 blocks = 64 Gaussians)

    // Lane p holds block 4·(p%4) + p/4, so that after Box–Muller the in-lane 4×4 transpose (unpack ps, unpack pd)
    // leaves the four output vectors in memory order with no cross-lane shuffle.
    private static readonly Vector512<uint> LaneBlock512 = Vector512.Create(0u, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);

    /// <summary>Ten Philox4x32 rounds on 16 counters at once (one per lane), in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Philox512(ref Vector512<uint> c0, ref Vector512<uint> c1, ref Vector512<uint> c2, ref Vector512<uint> c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            Round512(ref c0, ref c1, ref c2, ref c3, Vector512.Create(k0), Vector512.Create(k1));
            k0 += Philox4x32.W0; k1 += Philox4x32.W1;
        }
    }

    /// <summary>One Philox4x32 round on 16 counters, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Round512(ref Vector512<uint> c0, ref Vector512<uint> c1, ref Vector512<uint> c2, ref Vector512<uint> c3, Vector512<uint> k0, Vector512<uint> k1)
    {
        var (hi0, lo0) = MulHiLo512(c0, Vector512.Create(Philox4x32.M0));
        var (hi1, lo1) = MulHiLo512(c2, Vector512.Create(Philox4x32.M1));
        var n0 = hi1 ^ c1 ^ k0;
        var n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    }

    /// <summary>The 32×32→64 products c·m lane by lane, split into high and low words: even lanes, and (after a 64-bit shift) odd lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<uint> Hi, Vector512<uint> Lo) MulHiLo512(Vector512<uint> c, Vector512<uint> m)
    {
        var oddLanes = Vector512.Create(0xFFFFFFFF00000000UL).AsUInt32();
        var even = Avx512F.Multiply(c, m);
        var odd = Avx512F.Multiply(Vector512.ShiftRightLogical(c.AsUInt64(), 32).AsUInt32(), m);
        return (Vector512.ConditionalSelect(oddLanes, odd.AsUInt32(), Vector512.ShiftRightLogical(even, 32).AsUInt32()),
            Vector512.ConditionalSelect(oddLanes, Vector512.ShiftLeft(odd, 32).AsUInt32(), even.AsUInt32()));
    }

    /// <summary>Test hook: the raw Philox words of blocks [block0, block0+16) as the AVX-512 branch computes them, <c>(16, 4)</c>.</summary>
    internal static void RawWords512(Span<uint> words, uint block0, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var c0 = Vector512.Create(block0) + Vector512.Create(0u, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        var (c1, c2, c3) = (Vector512.Create(row), Vector512.Create(model), Vector512.Create(stream));
        Philox512(ref c0, ref c1, ref c2, ref c3, k0, k1);
        for (int i = 0; i < 16; i++) (words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]) = (c0[i], c1[i], c2[i], c3[i]);
    }

    /// <summary>
    /// Two chunks (blocks [block0, block0+32), 128 Gaussians) with their Philox rounds interleaved: each round is a
    /// chain of multiplies, shifts and selects, and two independent chains fill the vector units one chain leaves idle.
    /// 0.87–0.92× the time of two <see cref="Chunk512"/> calls for an 8,000 × 784 noisy copy (Zen 5, a scratch toggle in
    /// `ab`, paired, the copies checked equal); the same operations on every lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512x2(float* dst, uint block0, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var c0 = Vector512.Create(block0) + LaneBlock512;
        var d0 = Vector512.Create(block0 + 16) + LaneBlock512;
        var c1 = Vector512.Create(row); var d1 = c1;
        var c2 = Vector512.Create(model); var d2 = c2;
        var c3 = Vector512.Create(stream); var d3 = c3;
        for (int round = 0; round < 10; round++)
        {
            var (kk0, kk1) = (Vector512.Create(k0), Vector512.Create(k1));
            Round512(ref c0, ref c1, ref c2, ref c3, kk0, kk1);
            Round512(ref d0, ref d1, ref d2, ref d3, kk0, kk1);
            k0 += Philox4x32.W0; k1 += Philox4x32.W1;
        }
        Store512(dst, c0, c1, c2, c3);
        Store512(dst + 64, d0, d1, d2, d3);
    }

    /// <summary>The 64 Gaussians of one chunk's Philox words (16 blocks, one a lane): Box–Muller, then blocks in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* dst, Vector512<uint> c0, Vector512<uint> c1, Vector512<uint> c2, Vector512<uint> c3)
    {
        var (z0, z1) = Transform512(c0, c1);
        var (z2, z3) = Transform512(c2, c3);
        var t0 = Avx512F.UnpackLow(z0, z1);
        var t1 = Avx512F.UnpackHigh(z0, z1);
        var t2 = Avx512F.UnpackLow(z2, z3);
        var t3 = Avx512F.UnpackHigh(z2, z3);
        Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle().Store(dst);
        Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle().Store(dst + 16);
        Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle().Store(dst + 32);
        Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle().Store(dst + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk512(float* dst, uint block0, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var c0 = Vector512.Create(block0) + LaneBlock512;
        var c1 = Vector512.Create(row);
        var c2 = Vector512.Create(model);
        var c3 = Vector512.Create(stream);
        Philox512(ref c0, ref c1, ref c2, ref c3, k0, k1);
        Store512(dst, c0, c1, c2, c3);
    }

    /// <summary>
    /// u1 = ((float)x + 1)·2⁻³², bit-identical to <see cref="BoxMuller.Uniform1"/>: vcvtudq2ps rounds to nearest
    /// even (MXCSR default) exactly like the scalar uint → float cast; the add rounds once; 2⁻³² scales exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Uniform1_512(Vector512<uint> x) =>
        (Avx512F.ConvertToVector512Single(x) + Vector512<float>.One) * Vector512.Create(BoxMuller.Inv32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Z0, Vector512<float> Z1) Transform512(Vector512<uint> xa, Vector512<uint> xb)
    {
        var u1 = Uniform1_512(xa);
        var radius = Vector512.Sqrt(Vector512.Create(-2f) * Log512(u1));
        var k = Vector512.ShiftRightLogical(xb, 8).AsInt32();
        var q = Vector512.ShiftRightArithmetic(k + Vector512.Create(1 << 21), 22);
        var x = Vector512.ConvertToSingle(k - Vector512.ShiftLeft(q, 22)) * Vector512.Create(AngleScale);
        var z = x * x;
        var sinx = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.Create(-1.9515295891E-4f), z, Vector512.Create(8.3321608736E-3f)), z, Vector512.Create(-1.6666654611E-1f)) * z, x, x);
        var cosx = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.Create(2.443315711809948E-5f), z, Vector512.Create(-1.388731625493765E-3f)), z, Vector512.Create(4.166664568298827E-2f)) * z, z, Vector512.FusedMultiplyAdd(Vector512.Create(-0.5f), z, Vector512<float>.One));
        var swap = Vector512.Equals(q & Vector512<int>.One, Vector512<int>.One).AsSingle();
        var c = Vector512.ConditionalSelect(swap, sinx, cosx);
        var s = Vector512.ConditionalSelect(swap, cosx, sinx);
        var signBit = Vector512.Create(unchecked((int)0x80000000));
        var cSign = Vector512.ShiftLeft((q + Vector512<int>.One) & Vector512.Create(2), 30) & signBit; // bit 1 → sign bit
        var sSign = Vector512.ShiftLeft(q & Vector512.Create(2), 30) & signBit;
        c = (c.AsInt32() ^ cSign).AsSingle();
        s = (s.AsInt32() ^ sSign).AsSingle();
        return (radius * c, radius * s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Log512(Vector512<float> u)
    {
        var bits = u.AsInt32();
        var e = Vector512.ShiftRightArithmetic(bits, 23) - Vector512.Create(126);
        var m = ((bits & Vector512.Create(0x007FFFFF)) | Vector512.Create(0x3F000000)).AsSingle();
        var small = Vector512.LessThan(m, Vector512.Create(Sqrth));
        e += small.AsInt32(); // −1 where small
        var x = Vector512.ConditionalSelect(small, (m + m) - Vector512<float>.One, m - Vector512<float>.One);
        var z = x * x;
        var p = Vector512.Create(7.0376836292E-2f);
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(-1.1514610310E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(1.1676998740E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(-1.2420140846E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(1.4249322787E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(-1.6668057665E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(2.0000714765E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(-2.4999993993E-1f));
        p = Vector512.FusedMultiplyAdd(p, x, Vector512.Create(3.3333331174E-1f));
        var y = p * x * z;
        var fe = Vector512.ConvertToSingle(e);
        y = Vector512.FusedMultiplyAdd(fe, Vector512.Create(-2.12194440e-4f), y);
        y = Vector512.FusedMultiplyAdd(Vector512.Create(-0.5f), z, y);
        var r = x + y;
        return Vector512.FusedMultiplyAdd(fe, Vector512.Create(0.693359375f), r);
    }

    // ------------------------------------------------------------ AVX2 branch (8 blocks = 32 Gaussians)

    private static readonly Vector256<uint> LaneBlock256 = Vector256.Create(0u, 2, 4, 6, 1, 3, 5, 7);

    /// <summary>Ten Philox4x32 rounds on 8 counters at once, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Philox256(ref Vector256<uint> c0, ref Vector256<uint> c1, ref Vector256<uint> c2, ref Vector256<uint> c3, uint k0, uint k1)
    {
        var m0 = Vector256.Create(Philox4x32.M0);
        var m1 = Vector256.Create(Philox4x32.M1);
        var oddLanes = Vector256.Create(0xFFFFFFFF00000000UL).AsUInt32();
        for (int round = 0; round < 10; round++)
        {
            var p0e = Avx2.Multiply(c0, m0);
            var p0o = Avx2.Multiply(Vector256.ShiftRightLogical(c0.AsUInt64(), 32).AsUInt32(), m0);
            var p1e = Avx2.Multiply(c2, m1);
            var p1o = Avx2.Multiply(Vector256.ShiftRightLogical(c2.AsUInt64(), 32).AsUInt32(), m1);
            var hi0 = Vector256.ConditionalSelect(oddLanes, p0o.AsUInt32(), Vector256.ShiftRightLogical(p0e, 32).AsUInt32());
            var lo0 = Vector256.ConditionalSelect(oddLanes, Vector256.ShiftLeft(p0o, 32).AsUInt32(), p0e.AsUInt32());
            var hi1 = Vector256.ConditionalSelect(oddLanes, p1o.AsUInt32(), Vector256.ShiftRightLogical(p1e, 32).AsUInt32());
            var lo1 = Vector256.ConditionalSelect(oddLanes, Vector256.ShiftLeft(p1o, 32).AsUInt32(), p1e.AsUInt32());
            var n0 = hi1 ^ c1 ^ Vector256.Create(k0);
            var n2 = hi0 ^ c3 ^ Vector256.Create(k1);
            c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
            k0 += Philox4x32.W0; k1 += Philox4x32.W1;
        }
    }

    /// <summary>Test hook: the raw Philox words of blocks [block0, block0+8) as the AVX2 branch computes them, <c>(8, 4)</c>.</summary>
    internal static void RawWords256(Span<uint> words, uint block0, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var c0 = Vector256.Create(block0) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var (c1, c2, c3) = (Vector256.Create(row), Vector256.Create(model), Vector256.Create(stream));
        Philox256(ref c0, ref c1, ref c2, ref c3, k0, k1);
        for (int i = 0; i < 8; i++) (words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]) = (c0[i], c1[i], c2[i], c3[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Chunk256(float* dst, uint block0, uint row, uint model, uint stream, uint k0, uint k1)
    {
        var c0 = Vector256.Create(block0) + LaneBlock256;
        var c1 = Vector256.Create(row);
        var c2 = Vector256.Create(model);
        var c3 = Vector256.Create(stream);
        Philox256(ref c0, ref c1, ref c2, ref c3, k0, k1);
        var (z0, z1) = Transform256(c0, c1);
        var (z2, z3) = Transform256(c2, c3);
        var t0 = Avx.UnpackLow(z0, z1);
        var t1 = Avx.UnpackHigh(z0, z1);
        var t2 = Avx.UnpackLow(z2, z3);
        var t3 = Avx.UnpackHigh(z2, z3);
        Avx.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle().Store(dst);
        Avx.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle().Store(dst + 8);
        Avx.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle().Store(dst + 16);
        Avx.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle().Store(dst + 24);
    }

    /// <summary>
    /// u1 = ((float)x + 1)·2⁻³², bit-identical to <see cref="BoxMuller.Uniform1"/>. AVX2 has no unsigned
    /// conversion, and we do not rely on how the runtime emulates one: x = hi·2¹⁶ + lo with hi, lo &lt; 2¹⁶, both
    /// exact as floats (signed conversion) and hi·2¹⁶ exact, so the one add is the single correctly rounded
    /// conversion, the same as the scalar cast and vcvtudq2ps.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Uniform1_256(Vector256<uint> x)
    {
        var hi = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(x, 16).AsInt32()) * Vector256.Create(65536f);
        var lo = Vector256.ConvertToSingle((x & Vector256.Create(0xFFFFu)).AsInt32());
        return ((hi + lo) + Vector256<float>.One) * Vector256.Create(BoxMuller.Inv32);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Z0, Vector256<float> Z1) Transform256(Vector256<uint> xa, Vector256<uint> xb)
    {
        var u1 = Uniform1_256(xa);
        var radius = Vector256.Sqrt(Vector256.Create(-2f) * Log256(u1));
        var k = Vector256.ShiftRightLogical(xb, 8).AsInt32();
        var q = Vector256.ShiftRightArithmetic(k + Vector256.Create(1 << 21), 22);
        var x = Vector256.ConvertToSingle(k - Vector256.ShiftLeft(q, 22)) * Vector256.Create(AngleScale);
        var z = x * x;
        var sinx = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.Create(-1.9515295891E-4f), z, Vector256.Create(8.3321608736E-3f)), z, Vector256.Create(-1.6666654611E-1f)) * z, x, x);
        var cosx = Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.FusedMultiplyAdd(Vector256.Create(2.443315711809948E-5f), z, Vector256.Create(-1.388731625493765E-3f)), z, Vector256.Create(4.166664568298827E-2f)) * z, z, Vector256.FusedMultiplyAdd(Vector256.Create(-0.5f), z, Vector256<float>.One));
        var swap = Vector256.Equals(q & Vector256<int>.One, Vector256<int>.One).AsSingle();
        var c = Vector256.ConditionalSelect(swap, sinx, cosx);
        var s = Vector256.ConditionalSelect(swap, cosx, sinx);
        var signBit = Vector256.Create(unchecked((int)0x80000000));
        var cSign = Vector256.ShiftLeft((q + Vector256<int>.One) & Vector256.Create(2), 30) & signBit;
        var sSign = Vector256.ShiftLeft(q & Vector256.Create(2), 30) & signBit;
        c = (c.AsInt32() ^ cSign).AsSingle();
        s = (s.AsInt32() ^ sSign).AsSingle();
        return (radius * c, radius * s);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Log256(Vector256<float> u)
    {
        var bits = u.AsInt32();
        var e = Vector256.ShiftRightArithmetic(bits, 23) - Vector256.Create(126);
        var m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F000000)).AsSingle();
        var small = Vector256.LessThan(m, Vector256.Create(Sqrth));
        e += small.AsInt32();
        var x = Vector256.ConditionalSelect(small, (m + m) - Vector256<float>.One, m - Vector256<float>.One);
        var z = x * x;
        var p = Vector256.Create(7.0376836292E-2f);
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(-1.1514610310E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(1.1676998740E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(-1.2420140846E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(1.4249322787E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(-1.6668057665E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(2.0000714765E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(-2.4999993993E-1f));
        p = Vector256.FusedMultiplyAdd(p, x, Vector256.Create(3.3333331174E-1f));
        var y = p * x * z;
        var fe = Vector256.ConvertToSingle(e);
        y = Vector256.FusedMultiplyAdd(fe, Vector256.Create(-2.12194440e-4f), y);
        y = Vector256.FusedMultiplyAdd(Vector256.Create(-0.5f), z, y);
        var r = x + y;
        return Vector256.FusedMultiplyAdd(fe, Vector256.Create(0.693359375f), r);
    }
}

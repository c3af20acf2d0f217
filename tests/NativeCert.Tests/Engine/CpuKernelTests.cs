using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Noise;

namespace NativeCert.Tests.Engine;

/// <summary>SIMD kernels against the scalar reference, with each wide path switched off in turn, on odd sizes.</summary>
public class CpuKernelTests
{
    // object[] rows: xUnit needs a public data member, and IsaLevel is internal to the engine.
    public static IEnumerable<object[]> Levels => new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar }.Select(level => new object[] { level });

    private static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            float d = Math.Abs(expected[i] - actual[i]) / (1f + Math.Abs(expected[i]));
            if (!(d <= worst)) { worst = d; at = i; }
        }
        Assert.True(worst <= tolerance, $"{what}: largest difference {worst:g3} at {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)})");
    }

    [Theory]
    [MemberData(nameof(Levels))]
    internal void MatmulForwardAndBackwardMatchReferenceOnOddSizes(IsaLevel isa)
    {
        // (B, IN, OUT): tails everywhere; 150 columns = two full 64-wide AVX-512 blocks + a masked tail.
        // (130, 8, 128): dW's 8 rows are one full and one 2-row block of the 6-row kernels.
        // (23, 31, 10): a 10-class layer, AVX2's two-vector column tail with a ragged last 5-row block.
        foreach (var (B, IN, OUT) in new[] { (37, 45, 19), (1, 3, 1), (6, 33, 150), (9, 17, 64), (5, 8, 7), (130, 8, 128), (23, 31, 10) })
        {
            var x = EngineTestData.RandomArray(B * IN, 1);
            var w = EngineTestData.RandomArray(IN * OUT, 2);
            var bias = EngineTestData.RandomArray(OUT, 3);
            var dy = EngineTestData.RandomArray(B * OUT, 4);
            foreach (bool relu in new[] { false, true })
            {
                var expected = new float[B * OUT];
                ReferenceMlp.MatmulForward(expected, x, w, bias, B, IN, OUT);
                if (relu) ReferenceMlp.ReluForward(expected, expected, B * OUT);
                var actual = new float[B * OUT];
                CpuKernels.MatmulForward(actual, x, w, bias, B, IN, OUT, relu, isa);
                AssertClose(expected, actual, 2e-6f, $"forward {B}x{IN}x{OUT} relu={relu} {isa}");
            }

            var (dxRef, dwRef, dbRef) = (new float[B * IN], new float[IN * OUT], new float[OUT]);
            ReferenceMlp.MatmulBackward(dxRef, dwRef, dbRef, dy, x, w, B, IN, OUT);
            var (dx, dw, db) = (new float[B * IN], new float[IN * OUT], new float[OUT]);
            var scratch = new float[IN * OUT];
            CpuKernels.MatmulBackward(dx, dw, db, dy, x, w, scratch, B, IN, OUT, isa);
            AssertClose(dxRef, dx, 2e-6f, $"dinput {B}x{IN}x{OUT} {isa}");
            AssertClose(dwRef, dw, 2e-6f, $"dweight {B}x{IN}x{OUT} {isa}");
            AssertClose(dbRef, db, 2e-6f, $"dbias {B}x{IN}x{OUT} {isa}");

            // First layer: no dinput, and the other gradients are unchanged.
            var (dw2, db2) = (new float[IN * OUT], new float[OUT]);
            CpuKernels.MatmulBackward(default, dw2, db2, dy, x, w, default, B, IN, OUT, isa);
            Assert.Equal(dw, dw2);
        }
    }

    [Fact]
    public unsafe void GemmIsBitIdenticalForEveryRowTailKChunkAndLayoutOfA()
    {
        // M = 1..13 covers every row tail of the 6-row blocks (and of the 8/4/1-row and 5-row column-tail kernels), 16,
        // 24 and 31 the 16-row column-tail blocks and what follows them;
        // N = 150 two full AVX-512 panels + a masked tail (6 columns past AVX2's panels: its one-vector tail), N = 138
        // 10 columns past both levels' panels (AVX2's two-vector tail); K chunks of 5, 64 and 256 (the default) must reproduce the unchunked
        // FMA chains bit for bit; A row-major (aK = 1) and transposed (aRow = 1), as the MLP's two GEMMs use it; Bm
        // rows 1024 floats apart (a convolution's column slice) take the packed-panel path when M > 6, rows 640 apart
        // (a multiple of 128 floats, not of 512) the AVX2 path's when M ≥ 64 (M = 64, 70). K = 301 (odd, past the
        // 256 rows a packed panel holds, so an unchunked call is cut there too) for a few row counts.
        var (chunk512, chunk256) = (CpuGemm.KChunk512, CpuGemm.KChunk256);
        try
        {
            foreach (int K in new[] { 70, 301 })
            foreach (int N in new[] { 150, 138 })
            foreach (int ldb in new[] { N, 640, 1024 })
            {
                var bias = EngineTestData.RandomArray(N, 12);
                var bm = EngineTestData.RandomArray(K * ldb, 11);
                foreach (int M in K == 70 ? Enumerable.Range(1, 13).Concat([16, 24, 31, 64, 70]) : [7, 70])
                {
                    var a = EngineTestData.RandomArray(M * K, 10 + M);
                    foreach (bool transposed in new[] { false, true })
                    {
                        int aRow = transposed ? 1 : K, aK = transposed ? M : 1;
                        float[]? expected = null;
                        foreach (int chunk in new[] { 0, 5, 64, 256 })
                            foreach (var isa in new[] { IsaLevel.Scalar, IsaLevel.Avx2, IsaLevel.Avx512 })
                            {
                                CpuGemm.KChunk512 = CpuGemm.KChunk256 = chunk;
                                var c = new float[M * N];
                                fixed (float* pc = c, pa = a, pb = bm, pbias = bias)
                                    CpuGemm.Gemm(pc, N, pa, aRow, aK, pb, ldb, pbias, relu: true, M, N, K, isa);
                                expected ??= c;
                                Assert.True(expected.AsSpan().SequenceEqual(c), $"K={K} N={N} ldb={ldb} M={M} transposed={transposed} chunk={chunk} {isa}");
                            }
                    }
                }
            }
        }
        finally { (CpuGemm.KChunk512, CpuGemm.KChunk256) = (chunk512, chunk256); }
    }

    [Fact]
    public unsafe void GemmRowsIsBitIdenticalToGemmOverTheGatheredRows()
    {
        // The first layer reading its batch in place (CpuGemm.GemmRows): rows at arbitrary offsets of a larger buffer,
        // repeated and out of order, against CpuGemm.Gemm over the same rows copied contiguously, on every level where
        // the row path exists (N in whole 64- or 16-column panels; the scalar level any N), every row tail (M = 1..13),
        // K chunks of 5, 64 and 256 and unchunked, K = 70 and 301 (odd, past a chunk), with and without bias and ReLU.
        var (chunk512, chunk256) = (CpuGemm.KChunk512, CpuGemm.KChunk256);
        try
        {
            const int Rows = 40;
            foreach (int K in new[] { 70, 301 })
            foreach (int N in new[] { 16, 48, 64, 128, 10 })
            {
                var source = EngineTestData.RandomArray(Rows * K + 3, 21);
                var w = EngineTestData.RandomArray(K * N, 22);
                var bias = EngineTestData.RandomArray(N, 23);
                foreach (int M in Enumerable.Range(1, 13).Concat([30, 64]))
                {
                    var rng = new Random(M + K);
                    var offsets = Enumerable.Range(0, M).Select(_ => (nint)(rng.Next(Rows) * K + rng.Next(4))).ToArray(); // not row-aligned either
                    var gathered = new float[M * K];
                    for (int i = 0; i < M; i++) Array.Copy(source, (long)offsets[i], gathered, (long)i * K, K);
                    foreach (bool withBias in new[] { true, false })
                    foreach (int chunk in new[] { 0, 5, 64, 256 })
                    foreach (var isa in new[] { IsaLevel.Scalar, IsaLevel.Avx2, IsaLevel.Avx512 })
                    {
                        if (!CpuGemm.HasRowsPath(N, isa)) continue;
                        CpuGemm.KChunk512 = CpuGemm.KChunk256 = chunk;
                        var (expected, actual) = (new float[M * N], new float[M * N]);
                        fixed (float* pe = expected, pa = actual, pg = gathered, ps = source, pw = w, pb = bias)
                        fixed (nint* po = offsets)
                        {
                            float* b = withBias ? pb : null;
                            CpuGemm.Gemm(pe, N, pg, K, 1, pw, N, b, relu: withBias, M, N, K, isa);
                            CpuGemm.GemmRows(pa, N, ps, po, pw, N, b, relu: withBias, M, N, K, isa);
                        }
                        Assert.True(expected.AsSpan().SequenceEqual(actual), $"K={K} N={N} M={M} bias={withBias} chunk={chunk} {isa}");
                    }
                }
            }
            Assert.True(CpuGemm.HasRowsPath(10, IsaLevel.Scalar));
            Assert.Equal(CpuIsa.Clamp(IsaLevel.Avx2) == IsaLevel.Scalar, CpuGemm.HasRowsPath(10, IsaLevel.Avx2));
            Assert.Equal(CpuIsa.Clamp(IsaLevel.Avx512) == IsaLevel.Scalar, CpuGemm.HasRowsPath(48, IsaLevel.Avx512));
        }
        finally { (CpuGemm.KChunk512, CpuGemm.KChunk256) = (chunk512, chunk256); }
    }

    [Fact]
    public unsafe void GemmTransposedRowsIsBitIdenticalToGemmOverTheGatheredRows()
    {
        // The first layer's weight gradient Xᵀ·dY over rows where they lie (CpuGemm.GemmTransposedRows), against
        // CpuGemm.Gemm with A = Xᵀ (aRow = 1, aK = D) over the same rows copied contiguously: D = 1..13 and 70 cover the
        // 6-row blocks' tails, the batch (the reduction) 1, 2, 7, 64 and 301 rows cover an odd last k step (AVX2's two
        // k steps a pass) and K chunks of 5, 64 and 256 and unchunked; N in whole panels per level.
        var (chunk512, chunk256) = (CpuGemm.KChunk512, CpuGemm.KChunk256);
        try
        {
            const int Rows = 50;
            foreach (int D in Enumerable.Range(1, 13).Concat([70]))
            foreach (int batch in new[] { 1, 2, 7, 64, 301 })
            foreach (int N in new[] { 16, 64, 128, 10 })
            {
                var source = EngineTestData.RandomArray(Rows * D + 3, 31 + D);
                var dy = EngineTestData.RandomArray(batch * N, 32 + batch);
                var rng = new Random(D * 1000 + batch);
                var offsets = Enumerable.Range(0, batch).Select(_ => (nint)(rng.Next(Rows) * D + rng.Next(4))).ToArray();
                var gathered = new float[batch * D];
                for (int k = 0; k < batch; k++) Array.Copy(source, (long)offsets[k], gathered, (long)k * D, D);
                foreach (int chunk in batch > 60 ? new[] { 0, 5, 64, 256 } : [0, 5])
                foreach (var isa in new[] { IsaLevel.Scalar, IsaLevel.Avx2, IsaLevel.Avx512 })
                {
                    if (!CpuGemm.HasRowsPath(N, isa)) continue;
                    CpuGemm.KChunk512 = CpuGemm.KChunk256 = chunk;
                    var (expected, actual) = (new float[D * N], new float[D * N]);
                    fixed (float* pe = expected, pa = actual, pg = gathered, ps = source, pdy = dy)
                    fixed (nint* po = offsets)
                    {
                        CpuGemm.Gemm(pe, N, pg, 1, D, pdy, N, null, false, D, N, batch, isa);
                        CpuGemm.GemmTransposedRows(pa, N, ps, po, pdy, N, D, N, batch, isa);
                    }
                    Assert.True(expected.AsSpan().SequenceEqual(actual), $"D={D} batch={batch} N={N} chunk={chunk} {isa}");
                }
            }
        }
        finally { (CpuGemm.KChunk512, CpuGemm.KChunk256) = (chunk512, chunk256); }
    }

    [Fact]
    public void MatmulRowsRefuseARowPastTheSource()
    {
        var source = new float[10 * 8];
        var (y, w, b) = (new float[2 * 16], new float[8 * 16], new float[16]);
        CpuKernels.MatmulForwardRows(y, source, new nint[] { 0, 72 }, w, b, 2, 8, 16, relu: false, IsaLevel.Scalar);
        Assert.ThrowsAny<Exception>(() => CpuKernels.MatmulForwardRows(y, source, new nint[] { 0, 73 }, w, b, 2, 8, 16, relu: false, IsaLevel.Scalar));
        Assert.ThrowsAny<Exception>(() => CpuKernels.MatmulForwardRows(y, source, new nint[] { -1, 0 }, w, b, 2, 8, 16, relu: false, IsaLevel.Scalar));
        var (dw, db, dy) = (new float[8 * 16], new float[16], new float[2 * 16]);
        CpuKernels.MatmulBackwardRows(dw, db, dy, source, new nint[] { 72, 0 }, 2, 8, 16, IsaLevel.Scalar);
        Assert.ThrowsAny<Exception>(() => CpuKernels.MatmulBackwardRows(dw, db, dy, source, new nint[] { 0, 73 }, 2, 8, 16, IsaLevel.Scalar));
    }

    [Fact]
    public void EveryIsaLevelGivesBitIdenticalKernelResults()
    {
        // Each output element is one FMA chain in k order from the bias in every branch (K-chunking included),
        // so even the sums agree bitwise.
        foreach (var (B, IN, OUT) in new[] { (37, 45, 150), (130, 12, 128), (13, 200, 40), (128, 784, 128), (128, 128, 10) })
        {
            var x = EngineTestData.RandomArray(B * IN, 5);
            var w = EngineTestData.RandomArray(IN * OUT, 6);
            var bias = EngineTestData.RandomArray(OUT, 7);
            var dy = EngineTestData.RandomArray(B * OUT, 8);
            float[]? firstY = null, firstDx = null, firstDw = null;
            foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
            {
                var y = new float[B * OUT];
                CpuKernels.MatmulForward(y, x, w, bias, B, IN, OUT, true, isa);
                var (dx, dw, db) = (new float[B * IN], new float[IN * OUT], new float[OUT]);
                CpuKernels.MatmulBackward(dx, dw, db, dy, x, w, new float[IN * OUT], B, IN, OUT, isa);
                firstY ??= y; firstDx ??= dx; firstDw ??= dw;
                Assert.Equal(firstY, y);
                Assert.Equal(firstDx, dx);
                Assert.Equal(firstDw, dw);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Levels))]
    internal void ReluBackwardSgdAndSoftmaxMatchReference(IsaLevel isa)
    {
        const int N = 45;
        var y = EngineTestData.RandomArray(N, 9);
        var dy = EngineTestData.RandomArray(N, 10);
        var (e, a) = (new float[N], new float[N]);
        ReferenceMlp.ReluBackward(e, dy, y, N);
        CpuKernels.ReluBackward(a, dy, y, N, isa);
        Assert.Equal(e, a);

        var (w1, v1) = (EngineTestData.RandomArray(N, 11), EngineTestData.RandomArray(N, 12));
        var (w2, v2) = ((float[])w1.Clone(), (float[])v1.Clone());
        ReferenceMlp.SgdMomentumUpdate(w1, v1, dy, 0.05f, 0.9f, 5e-4f);
        CpuKernels.SgdMomentumUpdate(w2, v2, dy, 0.05f, 0.9f, 5e-4f, isa);
        AssertClose(w1, w2, 1e-6f, "sgd weights");
        AssertClose(v1, v2, 1e-6f, "sgd velocity");

        const int B = 7, C = 5;
        var logits = EngineTestData.RandomArray(B * C, 13, 4f);
        int[] labels = [0, 1, 2, 3, 4, 0, 4];
        var (d1, l1, d2, l2) = (new float[B * C], new float[B], new float[B * C], new float[B]);
        ReferenceMlp.SoftmaxCrossEntropyBackward(d1, l1, logits, labels, B, C);
        CpuKernels.SoftmaxCrossEntropyBackward(d2, l2, logits, labels, B, C, isa);
        AssertClose(d1, d2, 1e-6f, "dlogits");
        AssertClose(l1, l2, 1e-6f, "losses");
    }

    [Fact]
    public void VectorNoiseIsBitIdenticalAcrossIsaLevelsAndMatchesTheScalarReference()
    {
        foreach (int length in new[] { 1, 3, 4, 5, 31, 63, 64, 65, 130, 784 })
            foreach (var stream in new[] { NoiseStream.TrainingNoise, NoiseStream.TestNoise, NoiseStream.WeightInit })
            {
                uint model = 3, row = (uint)length * 7 + 1;
                var reference = new float[length];
                ReferenceNoise.Gaussians(reference, 0x1234_5678_9ABCUL, stream, model, row);
                float[]? first = null;
                foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
                {
                    var z = new float[length];
                    CpuNoise.Gaussians(z, 0x1234_5678_9ABCUL, stream, model, row, isa);
                    first ??= z;
                    Assert.Equal(first, z);
                    for (int i = 0; i < length; i++)
                        Assert.True(Math.Abs(z[i] - reference[i]) <= 2e-6f * (1 + Math.Abs(reference[i])),
                            $"{isa} length {length} element {i}: {z[i]} vs reference {reference[i]}");
                }
            }
    }

    [Fact]
    public void VectorPhiloxWordsAreBitIdenticalToTheScalarGenerator()
    {
        foreach (var (block0, row, model, stream, k0, k1) in new[] { (0u, 0u, 0u, 0u, 0u, 0u), (48u, 7999u, 123u, 1u, 0xDEADBEEFu, 0x12345678u), (0xFFFFFFF0u, 0xFFFFFFFFu, 0xFFFFFFFFu, 3u, 0xFFFFFFFFu, 0xFFFFFFFFu) })
        {
            var words = new uint[64];
            if (System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
            {
                CpuNoise.RawWords512(words, block0, row, model, stream, k0, k1);
                for (uint i = 0; i < 16; i++)
                    Assert.Equal(Philox4x32.Generate(block0 + i, row, model, stream, k0, k1), (words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]));
            }
            if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
            {
                CpuNoise.RawWords256(words, block0, row, model, stream, k0, k1);
                for (uint i = 0; i < 8; i++)
                    Assert.Equal(Philox4x32.Generate(block0 + i, row, model, stream, k0, k1), (words[4 * i], words[4 * i + 1], words[4 * i + 2], words[4 * i + 3]));
            }
        }
    }

    [Fact]
    public void VectorNoiseCoversTheWholeRangeOfUniformWords()
    {
        // Every (x0, x1) corner the exact integer angle reduction and the log polynomial must handle.
        uint[] words = [0u, 0xFFu, 0x100u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFF00u, 0xFFFFFFFFu, 0x3FFFFF00u, 0x40000000u, 0xBFFFFF00u, 0xC0000000u, 0x5A5A5A5Au];
        foreach (uint a in words)
            foreach (uint b in words)
            {
                var (e0, e1) = BoxMuller.Transform(a, b);
                var (z0, z1) = CpuNoise.TransformScalar(a, b);
                Assert.True(Math.Abs(z0 - e0) <= 2e-6f * (1 + Math.Abs(e0)) && Math.Abs(z1 - e1) <= 2e-6f * (1 + Math.Abs(e1)),
                    $"words {a:x8} {b:x8}: ({z0}, {z1}) vs reference ({e0}, {e1})");
            }
    }

    /// <summary>First words of a lane pair where the uint → float conversion of u1 is exact, rounds, or ties.</summary>
    internal static readonly uint[] EdgeWords =
    [
        0u, 1u, 2u, 0xFFu, 0x100u, 0xFFFFFFu, 0x1000000u, 0x1000001u, 0x1000002u, 0x1000003u, 0x2000002u, 0x2000006u,
        0x89ABCDEFu, 0x7FFFFFFFu, 0x80000000u, 0x80000001u, 0x80000080u, 0x80000180u, 0xFFFF0000u, 0xFFFF7FFFu,
        0xFFFFFF7Fu, 0xFFFFFF80u, 0xFFFFFF81u, 0xFFFFFFFEu, 0xFFFFFFFFu, 0x5A5A5A5Au,
    ];

    /// <summary>√(−2 ln 2⁻³²) = √(64 ln 2): |z| for x0 = 0, the largest the contract can draw.</summary>
    internal static readonly double TailCut = Math.Sqrt(64 * Math.Log(2));

    [Fact]
    public void FirstUniformUsesAll32BitsRoundedToNearestAtEveryIsaLevel()
    {
        var u1 = new float[EdgeWords.Length];
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            CpuNoise.Uniforms1(u1, EdgeWords, isa);
            for (int i = 0; i < EdgeWords.Length; i++)
            {
                uint x = EdgeWords[i];
                // Independent of any uint → float instruction: x is exact in double, so one double → float rounding is
                // the correctly rounded conversion; + 1 is exact in double, so one more rounding is the float add.
                float converted = (float)(double)x;
                float want = (float)((double)converted + 1.0) * (1f / 4294967296f);
                Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(BoxMuller.Uniform1(x)), $"reference u1({x:x8}) = {BoxMuller.Uniform1(x):R}, want {want:R}");
                Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(u1[i]), $"{isa} u1({x:x8}) = {u1[i]:R}, want {want:R}");
            }
        }
        Assert.Equal(MathF.ScaleB(1f, -32), BoxMuller.Uniform1(0));
        Assert.Equal(1f, BoxMuller.Uniform1(uint.MaxValue));
        Assert.Equal(MathF.ScaleB(16777216f, -32), BoxMuller.Uniform1(0xFFFFFFu)); // 2²⁴ − 1 + 1 exact
        Assert.Equal(MathF.ScaleB(16777216f, -32), BoxMuller.Uniform1(0x1000001u)); // 2²⁴ + 1 ties to 2²⁴, + 1 ties to 2²⁴
    }

    [Fact]
    public void ExtremeUniformWordsMapToTheTailCutAndToZeroAtEveryIsaLevel()
    {
        uint[] angles = [0u, 0x100u, 0x3FFFFF00u, 0x40000000u, 0x5A5A5A5Au, 0xC0000000u, 0xFFFFFFFFu];
        var words = new uint[2 * EdgeWords.Length * angles.Length];
        for (int i = 0; i < EdgeWords.Length; i++)
            for (int j = 0; j < angles.Length; j++)
                (words[2 * (i * angles.Length + j)], words[2 * (i * angles.Length + j) + 1]) = (EdgeWords[i], angles[j]);
        float[]? first = null;
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var z = new float[words.Length];
            CpuNoise.TransformPairs(z, words, isa);
            first ??= z;
            Assert.Equal(first, z);
            for (int p = 0; p < words.Length / 2; p++)
            {
                var (e0, e1) = BoxMuller.Transform(words[2 * p], words[2 * p + 1]);
                Assert.True(Math.Abs(z[2 * p] - e0) <= 2e-6f * (1 + Math.Abs(e0)) && Math.Abs(z[2 * p + 1] - e1) <= 2e-6f * (1 + Math.Abs(e1)),
                    $"{isa} words {words[2 * p]:x8} {words[2 * p + 1]:x8}: ({z[2 * p]}, {z[2 * p + 1]}) vs reference ({e0}, {e1})");
                double radius = Math.Sqrt((double)z[2 * p] * z[2 * p] + (double)z[2 * p + 1] * z[2 * p + 1]);
                Assert.True(radius <= TailCut * (1 + 1e-6), $"{isa} words {words[2 * p]:x8}: |z| = {radius} beyond the tail cut {TailCut}");
                if (words[2 * p] == 0)
                    Assert.True(Math.Abs(radius - TailCut) <= 1e-5, $"{isa} x0 = 0: |z| = {radius}, want √(64 ln 2) = {TailCut}");
                if (words[2 * p] == uint.MaxValue)
                    Assert.True(z[2 * p] == 0f && z[2 * p + 1] == 0f, $"{isa} x0 = 2³²−1: ({z[2 * p]}, {z[2 * p + 1]}), want 0");
            }
        }
    }

    [Fact]
    public void RadiusPolynomialStaysAccurateOverTheWholeRangeOfFirstUniforms()
    {
        // u1 now reaches 2⁻³² (it stopped at 2⁻²⁴): sweep the tail region x0 < 2²⁵ densely and the rest coarsely. With
        // x1 = 0 the angle is 0, so z0 is the radius √(−2 ln u1) itself; compare with the exact value in double.
        for (long x = 0; x <= uint.MaxValue; x += x < (1 << 25) ? 4093 : 1_048_573)
        {
            uint x0 = (uint)x;
            double want = Math.Sqrt(-2 * Math.Log(BoxMuller.Uniform1(x0)));
            var (radius, zero) = CpuNoise.TransformScalar(x0, 0);
            Assert.True(Math.Abs(radius - want) <= 1e-6 * Math.Max(1, want) && zero == 0f, $"x0 = {x0:x8}: radius {radius:R}, want {want:R}");
        }
    }

    [Fact]
    public void NoisyRowsAndHeInitMatchReference()
    {
        var x = EngineTestData.RandomArray(45, 14);
        var expected = new float[45];
        ReferenceNoise.NoisyRow(expected, x, 0.5f, 9, NoiseStream.TestNoise, 2, 11);
        var actual = new float[45];
        CpuNoise.NoisyRow(actual, x, 0.5f, 9, NoiseStream.TestNoise, 2, 11, IsaLevel.Avx512);
        AssertClose(expected, actual, 2e-6f, "noisy row");

        var layout = new ParameterLayout(ModelArchitecture.Mlp(45, [19], 7));
        var (pe, pa) = (new float[layout.Count], new float[layout.Count]);
        ReferenceNoise.HeInit(pe, layout, 9, 4);
        CpuNoise.HeInit(pa, layout, 9, 4, IsaLevel.Avx512);
        AssertClose(pe, pa, 2e-6f, "He init");
    }
}

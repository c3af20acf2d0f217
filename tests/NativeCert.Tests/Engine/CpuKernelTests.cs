using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Noise;

namespace NativeCert.Tests.Engine;

/// <summary>SIMD kernels against the scalar reference, with each wide path switched off in turn, on odd sizes.</summary>
public class CpuKernelTests
{
    public static TheoryData<IsaLevel> Levels => new() { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar };

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
    public void MatmulForwardAndBackwardMatchReferenceOnOddSizes(IsaLevel isa)
    {
        // (B, IN, OUT): tails everywhere; 150 columns = two full 64-wide AVX-512 blocks + a masked tail.
        // (130, 8, 128): dW's reduction over B is split into K chunks on the AVX-512 path.
        foreach (var (B, IN, OUT) in new[] { (37, 45, 19), (1, 3, 1), (6, 33, 150), (9, 17, 64), (5, 8, 7), (130, 8, 128) })
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
    public void EveryIsaLevelGivesBitIdenticalKernelResults()
    {
        // Each output element is one FMA chain in k order from the bias in every branch (K-chunking included),
        // so even the sums agree bitwise.
        foreach (var (B, IN, OUT) in new[] { (37, 45, 150), (130, 12, 128) })
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
    public void ReluBackwardSgdAndSoftmaxMatchReference(IsaLevel isa)
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
        CpuKernels.SoftmaxCrossEntropyBackward(d2, l2, logits, labels, B, C);
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

    [Fact]
    public void NoisyRowsAndHeInitMatchReference()
    {
        var x = EngineTestData.RandomArray(45, 14);
        var expected = new float[45];
        ReferenceNoise.NoisyRow(expected, x, 0.5f, 9, NoiseStream.TestNoise, 2, 11);
        var actual = new float[45];
        CpuNoise.NoisyRow(actual, x, 0.5f, 9, NoiseStream.TestNoise, 2, 11, IsaLevel.Avx512);
        AssertClose(expected, actual, 2e-6f, "noisy row");

        var layout = new ParameterLayout([45, 19, 7]);
        var (pe, pa) = (new float[layout.Count], new float[layout.Count]);
        ReferenceNoise.HeInit(pe, layout, 9, 4);
        CpuNoise.HeInit(pa, layout, 9, 4, IsaLevel.Avx512);
        AssertClose(pe, pa, 2e-6f, "He init");
    }
}

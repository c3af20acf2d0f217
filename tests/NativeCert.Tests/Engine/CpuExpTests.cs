using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>
/// The softmax's own exp (<see cref="CpuExp"/>): pinned glibc values on every platform, the platform's MathF.Exp on
/// a sample where that is glibc's FMA build, and every vector level bit for bit against the scalar body. (The
/// exhaustive check over all 2³² floats is `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- exp-check`.)
/// </summary>
public class CpuExpTests
{
    // (x, e^x) as bit patterns, from glibc 2.36's expf on x86-64 with FMA. 32.564632 and −63.09946 are the two floats
    // where an evaluation without the FMAs (or with only the polynomial's) differs: they pin the contraction.
    private static readonly (uint X, uint Exp)[] Pinned =
    [
        (0x00000000, 0x3f800000), (0x80000000, 0x3f800000), (0x3f800000, 0x402df854), (0xbf800000, 0x3ebc5ab2),
        (0x3f000000, 0x3fd3094c), (0xc0200000, 0x3da81c2e), (0x41200000, 0x46ac14ee), (0xc1200000, 0x383e6bce),
        (0x4202422f, 0x56fc9f1c), (0xc27c65d9, 0x11fa2993), (0x42b17217, 0x7f7fff84), (0x42b17218, 0x7f800000),
        (0xc2aeac4f, 0x00800026), (0xc2c80000, 0x0000001b), (0xc2ce8ed0, 0x00000001), (0xc2cff1b3, 0x00000001),
        (0xc2cff1b4, 0x00000001), (0xc2cff1b5, 0x00000000), (0xb8d1b717, 0x3f7ff972), (0x322bcc77, 0x3f800000),
        (0xc1a0fcd6, 0x30fa61fa), (0x40490fdb, 0x41b92025), (0xc0ec7326, 0x3a21ffdd), (0x7f800000, 0x7f800000),
        (0xff800000, 0x00000000), (0x00000001, 0x3f800000), (0x80000001, 0x3f800000), (0x7f7fffff, 0x7f800000),
        (0xff7fffff, 0x00000000),
    ];

    public static IEnumerable<object[]> VectorLevels => new[] { IsaLevel.Avx512, IsaLevel.Avx2 }.Select(level => new object[] { level });

    private static uint Bits(float x) => BitConverter.SingleToUInt32Bits(x);

    [Fact]
    public void ScalarBodyGivesGlibcsValues()
    {
        foreach (var (x, e) in Pinned)
            Assert.True(Bits(CpuExp.Exp(BitConverter.UInt32BitsToSingle(x))) == e, $"exp(0x{x:x8}) = 0x{Bits(CpuExp.Exp(BitConverter.UInt32BitsToSingle(x))):x8}, want 0x{e:x8}");
        Assert.True(float.IsNaN(CpuExp.Exp(float.NaN)));
    }

    [Fact]
    public void ScalarBodyEqualsMathFExpWhereThatIsGlibcWithFma()
    {
        // Elsewhere (another libm, or glibc's build without FMA) MathF.Exp is a different function: nothing to compare.
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64 || !Fma.IsSupported
            || RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal)) return;
        int differing = 0;
        for (long u = 0; u <= uint.MaxValue; u += 65_521) // every 65,521st bit pattern: 65,551 floats of every sign and exponent
        {
            float x = BitConverter.UInt32BitsToSingle((uint)u), want = MathF.Exp(x), got = CpuExp.Exp(x);
            if (Bits(want) != Bits(got) && !(float.IsNaN(want) && float.IsNaN(got))) differing++;
        }
        Assert.Equal(0, differing);
    }

    [Theory]
    [MemberData(nameof(VectorLevels))]
    internal void VectorLevelsAreBitIdenticalToTheScalarBody(IsaLevel isa)
    {
        var x = new List<float>();
        for (long u = 7; u <= uint.MaxValue; u += 40_009) x.Add(BitConverter.UInt32BitsToSingle((uint)u));
        foreach (var (p, _) in Pinned) x.Add(BitConverter.UInt32BitsToSingle(p));
        x.AddRange([float.NaN, -float.NaN, 88.0f, -88.0f, -104f, -1e30f, 1e30f]);
        // Every length up to 20 (each level's vector tail), then the whole sample.
        for (int n = 0; n <= 20; n++) Check(x.GetRange(x.Count - n, n).ToArray(), isa);
        Check(x.ToArray(), isa);
    }

    private static void Check(float[] x, IsaLevel isa)
    {
        var y = (float[])x.Clone();
        CpuExp.ExpInPlace(y, isa);
        for (int i = 0; i < x.Length; i++)
        {
            float want = CpuExp.Exp(x[i]);
            Assert.True(Bits(want) == Bits(y[i]) || (float.IsNaN(want) && float.IsNaN(y[i])),
                $"{CpuIsa.Name(isa)} exp({x[i]:R}) = {y[i]:R}, scalar body {want:R}");
        }
    }

    [Fact]
    public void SoftmaxCrossEntropyIsBitIdenticalAcrossLevels()
    {
        // 13 rows × 10 classes (130 exps: full vectors and a tail), logits spread wide enough that some fall > 88 and
        // > 104 below their row's maximum (the underflow lanes).
        const int B = 13, C = 10;
        var logits = EngineTestData.RandomArray(B * C, 21, 60f);
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 5, 9];
        float[]? first = null, firstLoss = null;
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var (d, loss) = (new float[B * C], new float[B]);
            CpuKernels.SoftmaxCrossEntropyBackward(d, loss, logits, labels, B, C, isa);
            if (first == null) (first, firstLoss) = (d, loss);
            else
            {
                Assert.Equal(first.Select(Bits), d.Select(Bits));
                Assert.Equal(firstLoss!.Select(Bits), loss.Select(Bits));
            }
        }
    }
}

using NativeCert.Noise;

namespace NativeCert.Tests.Noise;

public class PhiloxTests
{
    // Random123 kat_vectors, philox4x32 with 10 rounds.
    [Theory]
    [InlineData(0u, 0u, 0u, 0u, 0u, 0u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void MatchesRandom123KnownAnswers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint e0, uint e1, uint e2, uint e3)
    {
        var (x0, x1, x2, x3) = Philox4x32.Generate(c0, c1, c2, c3, k0, k1);
        Assert.Equal((e0, e1, e2, e3), (x0, x1, x2, x3));
    }

    [Fact]
    public void BoxMullerGaussiansHaveUnitMomentsAndAreKeyedByEveryCounterWord()
    {
        const int n = 200_000;
        double s = 0, s2 = 0;
        for (uint i = 0; i < n; i++)
        {
            double z = BoxMuller.Gaussian(42, NoiseStream.TrainingNoise, 3, i / 784, i % 784);
            s += z; s2 += z * z;
        }
        double mean = s / n, variance = s2 / n - mean * mean;
        Assert.InRange(mean, -0.01, 0.01); // 4.5 standard errors
        Assert.InRange(variance, 0.98, 1.02);

        float a = BoxMuller.Gaussian(1, NoiseStream.TrainingNoise, 0, 0, 0);
        Assert.NotEqual(a, BoxMuller.Gaussian(2, NoiseStream.TrainingNoise, 0, 0, 0));
        Assert.NotEqual(a, BoxMuller.Gaussian(1, NoiseStream.TestNoise, 0, 0, 0));
        Assert.NotEqual(a, BoxMuller.Gaussian(1, NoiseStream.TrainingNoise, 1, 0, 0));
        Assert.NotEqual(a, BoxMuller.Gaussian(1, NoiseStream.TrainingNoise, 0, 1, 0));
        Assert.NotEqual(a, BoxMuller.Gaussian(1, NoiseStream.TrainingNoise, 0, 0, 1));
        Assert.Equal(a, BoxMuller.Gaussian(1, NoiseStream.TrainingNoise, 0, 0, 0));
    }
}

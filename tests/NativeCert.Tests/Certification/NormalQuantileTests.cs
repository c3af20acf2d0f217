using MathNet.Numerics.Distributions;
using NativeCert.Certification;

namespace NativeCert.Tests.Certification;

public class NormalQuantileTests
{
    public static IEnumerable<double> Grid()
    {
        for (int e = -300; e <= -1; e += 7) { yield return Math.Pow(10, e); yield return 3.7 * Math.Pow(10, e); }
        for (double p = 0.01; p < 1; p += 0.0137) yield return p;
        for (int e = -16; e <= -2; e++) yield return 1 - Math.Pow(10, e);
        yield return 0.5;
        yield return 0.975;
    }

    [Fact]
    public void Matches_MathNet_to_1e14_relative()
    {
        foreach (double p in Grid())
        {
            double z = NormalQuantile.Inverse(p), reference = Normal.InvCDF(0, 1, p);
            double tol = 1e-14 * Math.Abs(reference) + 1e-15;
            Assert.True(Math.Abs(z - reference) <= tol, $"p={p:R}: {z:R} vs MathNet {reference:R}");
        }
    }

    [Fact]
    public void Round_trips_through_the_cdf()
    {
        foreach (double p in Grid())
        {
            if (p > 0.5) continue;   // the lower tail is where Φ is precise; the upper half is exact symmetry
            double z = NormalQuantile.Inverse(p);
            double back = Normal.CDF(0, 1, z);
            // Even a correctly rounded z moves Φ by |z|·ulp(z) relative, about z²·eps.
            Assert.True(Math.Abs(back - p) <= (4e-16 * z * z + 2e-14) * p, $"p={p:R}: Φ(Φ⁻¹(p)) = {back:R}");
        }
    }

    [Fact]
    public void Known_values_and_symmetry()
    {
        // Textbook quantiles (Abramowitz & Stegun 26.2): z_0.975 = 1.959963984540054, z_0.999 = 3.090232306167814.
        Assert.Equal(1.959963984540054, NormalQuantile.Inverse(0.975), 14);
        Assert.Equal(3.090232306167814, NormalQuantile.Inverse(0.999), 14);
        Assert.Equal(0.0, NormalQuantile.Inverse(0.5));
        foreach (double q in new[] { 1e-300, 1e-100, 1e-20, 1e-5, 0.3 })
        {
            Assert.Equal(-NormalQuantile.Inverse(q), NormalQuantile.InverseOfUpper(q));
            if (q >= 1e-5) Assert.Equal(NormalQuantile.Inverse(1 - q), NormalQuantile.InverseOfUpper(q), 10);
        }
        Assert.Equal(double.NegativeInfinity, NormalQuantile.Inverse(0));
        Assert.Equal(double.PositiveInfinity, NormalQuantile.Inverse(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NormalQuantile.Inverse(1.5));
    }

    [Fact]
    public void Monotone()
    {
        double prev = double.NegativeInfinity;
        foreach (double p in Grid().Order())
        {
            double z = NormalQuantile.Inverse(p);
            Assert.True(z > prev, $"not increasing at p={p:R}");
            prev = z;
        }
    }
}

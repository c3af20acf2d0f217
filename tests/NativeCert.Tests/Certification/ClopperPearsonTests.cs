using NativeCert.Certification;
using static NativeCert.Tests.Certification.BinomialReference;

namespace NativeCert.Tests.Certification;

public class ClopperPearsonTests
{
    private const double RelTol = 1e-12;
    private static readonly double[] Alphas = [0.5, 0.05, 1e-3, 1e-12, 1e-15, 1e-100, 1e-300];

    /// <summary>A point just inside the allowed error on the unsafe side of a lower bound.</summary>
    private static double LowerTight(double l) => Math.Min(1, Math.Max(l * (1 + RelTol), l + 1e-300));
    private static double UpperTight(double u) => Math.Max(0, Math.Min(u * (1 - RelTol), u - 1e-300));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(45)]
    public void Bounds_are_safe_and_within_1e12_of_exact_rational_root(int n)
    {
        foreach (double alpha in Alphas)
            for (int k = 0; k <= n; k++)
            {
                double lo = ClopperPearson.Lower(k, n, alpha);
                if (k == 0) Assert.Equal(0.0, lo);
                else
                {
                    // Safe: P_lo[X ≥ k] ≤ α; tight: a point 1e-12 higher already exceeds α.
                    Assert.True(CompareUpperTailExact(k, n, lo, alpha) <= 0, $"lower unsafe k={k} n={n} α={alpha} lo={lo:R}");
                    Assert.True(CompareUpperTailExact(k, n, LowerTight(lo), alpha) >= 0, $"lower loose k={k} n={n} α={alpha} lo={lo:R}");
                }
                double up = ClopperPearson.Upper(k, n, alpha);
                if (k == n) Assert.Equal(1.0, up);
                else
                {
                    Assert.True(CompareLowerTailExact(k, n, up, alpha) <= 0, $"upper unsafe k={k} n={n} α={alpha} up={up:R}");
                    Assert.True(CompareLowerTailExact(k, n, UpperTight(up), alpha) >= 0, $"upper loose k={k} n={n} α={alpha} up={up:R}");
                }
            }
    }

    public static IEnumerable<object[]> LargeCases()
    {
        const long G = 1_000_000_000;
        foreach (double alpha in new[] { 0.05, 1e-12, 1e-300 })
        {
            yield return [1L, G, alpha];
            yield return [2L, G, alpha];
            yield return [1000L, G, alpha];
            yield return [G - 1, G, alpha];
            yield return [G, G, alpha];
            yield return [0L, G, alpha];
        }
        yield return [G / 2, G, 1e-12];
        yield return [123_456_789L, G, 0.05];
        yield return [30_000L, 100_000L, 1e-300];
        yield return [99_990L, 100_000L, 1e-300];
    }

    [Theory]
    [MemberData(nameof(LargeCases))]
    public void Large_n_bounds_are_safe_and_tight_against_200bit_reference(long k, long n, double alpha)
    {
        double lo = ClopperPearson.Lower(k, n, alpha);
        if (k == 0) Assert.Equal(0.0, lo);
        else
        {
            Assert.True(CompareTailWindowed(k, n, lo, alpha, upper: true) <= 0, $"lower unsafe lo={lo:R}");
            Assert.True(CompareTailWindowed(k, n, LowerTight(lo), alpha, upper: true) >= 0, $"lower loose lo={lo:R}");
        }
        double up = ClopperPearson.Upper(k, n, alpha);
        if (k == n) Assert.Equal(1.0, up);
        else
        {
            Assert.True(CompareTailWindowed(k, n, up, alpha, upper: false) <= 0, $"upper unsafe up={up:R}");
            Assert.True(CompareTailWindowed(k, n, UpperTight(up), alpha, upper: false) >= 0, $"upper loose up={up:R}");
        }
    }

    [Fact]
    public void Random_cases_are_safe_and_tight_against_200bit_reference()
    {
        var rng = new Random(7);
        for (int i = 0; i < 150; i++)
        {
            long n = (long)Math.Round(Math.Exp(rng.NextDouble() * Math.Log(1e6)));
            long k = rng.NextInt64(0, n + 1);
            double alpha = Math.Exp(Math.Log(1e-300) + rng.NextDouble() * (Math.Log(0.5) - Math.Log(1e-300)));
            Large_n_bounds_are_safe_and_tight_against_200bit_reference(k, n, alpha);
        }
        // Up to n = 10⁹ with k near either end, where the bounds sit at 1e-9 from 0 or 1.
        for (int i = 0; i < 40; i++)
        {
            long n = (long)Math.Round(Math.Exp(Math.Log(1e6) + rng.NextDouble() * Math.Log(1e3)));
            long j = rng.NextInt64(0, 51);
            long k = i % 2 == 0 ? j : n - j;
            double alpha = Math.Exp(Math.Log(1e-300) + rng.NextDouble() * (Math.Log(0.5) - Math.Log(1e-300)));
            Large_n_bounds_are_safe_and_tight_against_200bit_reference(k, n, alpha);
        }
    }

    [Fact]
    public void Windowed_reference_agrees_with_exact_reference()
    {
        foreach (double p in new[] { 0.013, 0.3, 0.77 })
            foreach (double alpha in new[] { 0.05, 1e-9 })
                for (int k = 0; k <= 40; k += 3)
                {
                    Assert.Equal(CompareUpperTailExact(k, 40, p, alpha), CompareTailWindowed(k, 40, p, alpha, upper: true));
                    Assert.Equal(CompareLowerTailExact(k, 40, p, alpha), CompareTailWindowed(k, 40, p, alpha, upper: false));
                }
    }

    [Fact]
    public void Closed_forms_at_the_ends()
    {
        foreach (long n in new long[] { 1, 2, 10, 1000, 1_000_000_000 })
            foreach (double alpha in Alphas)
            {
                double root = Math.Pow(alpha, 1.0 / n);
                Assert.Equal(0.0, ClopperPearson.Lower(0, n, alpha));
                Assert.Equal(1.0, ClopperPearson.Upper(n, n, alpha));
                double lo = ClopperPearson.Lower(n, n, alpha);
                // Math.Pow(α, 1.0/n) itself errs by up to |log α|/n·eps relative; exact safety of these closed forms
                // for n ≤ 45 is checked against rational arithmetic above, and for n = 10⁹ by the 200-bit reference.
                double powError = 4e-16 * (1 + Math.Abs(Math.Log(alpha)) / n);
                Assert.True(lo <= root * (1 + powError) && lo >= root * (1 - 1e-12), $"lower(n,n) n={n} α={alpha}: {lo:R} vs {root:R}");
                double up = ClopperPearson.Upper(0, n, alpha);
                double upRef = -ExpM1Reference(Math.Log(alpha) / n);
                Assert.True(up >= upRef * (1 - 4e-16) && up <= upRef * (1 + 1e-12), $"upper(0,n) n={n} α={alpha}: {up:R} vs {upRef:R}");
            }
        // n = 1: both bounds are α itself (Bin(1,p) ≥ 1 has probability p).
        Assert.True(ClopperPearson.Lower(1, 1, 0.05) <= 0.05 && ClopperPearson.Lower(1, 1, 0.05) > 0.05 * (1 - 1e-13));
        Assert.True(ClopperPearson.Upper(0, 1, 0.05) >= 0.95 && ClopperPearson.Upper(0, 1, 0.05) < 0.95 * (1 + 1e-13));
    }

    [Fact]
    public void Monotone_in_k_and_alpha()
    {
        foreach (long n in new long[] { 1, 5, 50, 10_000 })
        {
            long step = Math.Max(1, n / 60);
            foreach (double alpha in Alphas)
            {
                double prevLo = -1, prevUp = -1;
                for (long k = 0; k <= n; k += step)
                {
                    double lo = ClopperPearson.Lower(k, n, alpha), up = ClopperPearson.Upper(k, n, alpha);
                    Assert.True(lo > prevLo || lo == 0, $"lower not increasing at k={k} n={n}");
                    Assert.True(up > prevUp || up == 1, $"upper not increasing at k={k} n={n}");
                    Assert.True(lo < up, $"lower ≥ upper at k={k} n={n}");
                    prevLo = lo; prevUp = up;
                }
            }
            for (long k = 0; k <= n; k += step)
                for (int i = 1; i < Alphas.Length; i++)
                {
                    // Smaller α (more confidence) gives a wider interval.
                    Assert.True(ClopperPearson.Lower(k, n, Alphas[i]) <= ClopperPearson.Lower(k, n, Alphas[i - 1]));
                    Assert.True(ClopperPearson.Upper(k, n, Alphas[i]) >= ClopperPearson.Upper(k, n, Alphas[i - 1]));
                }
        }
    }

    [Fact]
    public void Lower_is_one_minus_upper_of_the_complement()
    {
        foreach (long n in new long[] { 1, 3, 40, 10_000, 1_000_000_000 })
            foreach (double alpha in Alphas)
                foreach (long k in new long[] { 0, 1, n / 3, n / 2, n - 1, n })
                {
                    if (k < 0 || k > n) continue;
                    double lo = ClopperPearson.Lower(k, n, alpha), up = ClopperPearson.Upper(n - k, n, alpha);
                    Assert.True(Math.Abs(lo - (1 - up)) <= 2.3e-16, $"k={k} n={n} α={alpha}: {lo:R} vs 1−{up:R}");
                }
    }

    [Fact]
    public void Simulated_coverage_is_at_least_one_minus_alpha()
    {
        var rng = new Random(20260101);
        const int Draws = 100_000;
        foreach (var (n, p, alpha) in new[] { (30, 0.37, 0.05), (200, 0.9, 0.01), (12, 0.05, 0.1) })
        {
            var cache = new BoundCache();
            int missLo = 0, missUp = 0;
            for (int d = 0; d < Draws; d++)
            {
                int k = 0;
                for (int i = 0; i < n; i++) if (rng.NextDouble() < p) k++;
                if (cache.Lower(k, n, alpha) > p) missLo++;
                if (cache.Upper(k, n, alpha) < p) missUp++;
            }
            double limit = alpha + 3 * Math.Sqrt(alpha * (1 - alpha) / Draws);
            Assert.True((double)missLo / Draws <= limit, $"lower misses {missLo} (n={n}, p={p}, α={alpha})");
            Assert.True((double)missUp / Draws <= limit, $"upper misses {missUp} (n={n}, p={p}, α={alpha})");
        }
    }

    [Fact]
    public void Cache_returns_the_direct_values()
    {
        var cache = new BoundCache();
        foreach (long n in new long[] { 10, 1000, 5_000_000 })
            foreach (long k in new long[] { 0, 1, n / 2, n })
            {
                Assert.Equal(ClopperPearson.Lower(k, n, 1e-4), cache.Lower(k, n, 1e-4));
                Assert.Equal(ClopperPearson.Upper(k, n, 1e-4), cache.Upper(k, n, 1e-4));
                Assert.Equal(NormalQuantile.Inverse(ClopperPearson.Lower(k, n, 1e-4)), cache.LowerQuantile(k, n, 1e-4));
                Assert.Equal(NormalQuantile.Inverse(ClopperPearson.Upper(k, n, 1e-4)), cache.UpperQuantile(k, n, 1e-4));
            }
    }

    /// <summary>exp(z) − 1 by its Taylor series for small |z| (independent of the library's Kahan version).</summary>
    private static double ExpM1Reference(double z)
    {
        if (Math.Abs(z) > 0.7) return Math.Exp(z) - 1;
        double term = z, sum = z;
        for (int i = 2; i < 40; i++) { term *= z / i; sum += term; }
        return sum;
    }

    [Fact]
    public void Rejects_invalid_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ClopperPearson.Lower(5, 4, 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClopperPearson.Lower(-1, 4, 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClopperPearson.Upper(1, 4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClopperPearson.Upper(1, 4, double.NaN));
    }
}



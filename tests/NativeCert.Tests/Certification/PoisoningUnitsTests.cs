using NativeCert.Certification;

namespace NativeCert.Tests.Certification;

public class PoisoningUnitsTests
{
    [Fact]
    public void Strict_inequality_at_exact_equality()
    {
        // R = t·√(m+1) exactly: m = 3 with t = 1, R = 2 is NOT covered; m = 2 is.
        Assert.False(PoisoningUnits.IsCertified(2.0, 1.0, 3));
        Assert.True(PoisoningUnits.IsCertified(2.0, 1.0, 2));
        Assert.Equal(2, PoisoningUnits.LargestCertifiedPoisonCount(2.0, 1.0, withTestTrigger: true));
        Assert.Equal(3, PoisoningUnits.LargestCertifiedPoisonCount(2.0, 1.0, withTestTrigger: false));
        // Powers of two keep products exact: t = 0.1, R = 0.2 = 0.1·√4.
        Assert.Equal(2, PoisoningUnits.LargestCertifiedPoisonCount(0.2, 0.1));
        // One ulp above equality covers the next count; one ulp below does not.
        Assert.Equal(3, PoisoningUnits.LargestCertifiedPoisonCount(Math.BitIncrement(2.0), 1.0));
        Assert.Equal(2, PoisoningUnits.LargestCertifiedPoisonCount(Math.BitDecrement(2.0), 1.0));
        // t = 3, R = 30 = 3·√100: m + 1 < 100 → m = 98.
        Assert.Equal(98, PoisoningUnits.LargestCertifiedPoisonCount(30, 3));
    }

    [Fact]
    public void Exact_where_floating_point_rounds()
    {
        // 0.3·3 rounds to 0.8999999999999999 in doubles; exactly, that double is below 0.3·√9, so m = 8 is not covered.
        double t = 0.3, r = 0.3 * 3;
        long m = PoisoningUnits.LargestCertifiedPoisonCount(r, t);
        Assert.Equal(7, m);
        // And the answer is consistent with the direct predicate at both sides.
        Assert.True(PoisoningUnits.IsCertified(r, t, m));
        Assert.False(PoisoningUnits.IsCertified(r, t, m + 1));
    }

    [Fact]
    public void Largest_count_agrees_with_predicate_on_random_inputs()
    {
        var rng = new Random(3);
        for (int i = 0; i < 2000; i++)
        {
            double t = Math.Exp(rng.NextDouble() * 8 - 4), r = Math.Exp(rng.NextDouble() * 10 - 3);
            bool withTest = i % 2 == 0;
            long m = PoisoningUnits.LargestCertifiedPoisonCount(r, t, withTest);
            if (m >= 0) Assert.True(PoisoningUnits.IsCertified(r, t, m, withTest));
            else Assert.False(PoisoningUnits.IsCertified(r, t, 0, withTest));
            Assert.False(PoisoningUnits.IsCertified(r, t, m + 1, withTest));
        }
    }

    [Fact]
    public void Edge_cases()
    {
        Assert.Equal(-1, PoisoningUnits.LargestCertifiedPoisonCount(0, 1));           // radius 0 covers nothing
        Assert.Equal(-1, PoisoningUnits.LargestCertifiedPoisonCount(1, 1));           // t·√1 = R: not even m = 0
        Assert.Equal(0, PoisoningUnits.LargestCertifiedPoisonCount(1, 1, false));     // without test trigger: 1·√1 = 1 not < 1 → m = 0 only
        Assert.Equal(long.MaxValue, PoisoningUnits.LargestCertifiedPoisonCount(1, 0));
        Assert.Equal(-1, PoisoningUnits.LargestCertifiedPoisonCount(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PoisoningUnits.LargestCertifiedPoisonCount(1, -1));
    }

    [Fact]
    public void General_form_sums_squared_norms_exactly()
    {
        // 3-4-5: √(3² + 4²) = 5 is not < 5.
        Assert.False(PoisoningUnits.IsCertified(5.0, [3.0], 4.0));
        Assert.True(PoisoningUnits.IsCertified(Math.BitIncrement(5.0), [3.0], 4.0));
        Assert.True(PoisoningUnits.IsCertified(5.0, [3.0, 0.0], Math.BitDecrement(4.0)));
        // Equivalent to the uniform trigger form.
        Assert.Equal(PoisoningUnits.IsCertified(2.0, 1.0, 3), PoisoningUnits.IsCertified(2.0, [1.0, 1.0, 1.0], 1.0));
        Assert.False(PoisoningUnits.IsCertified(0.0, [], 0.0));
        Assert.True(PoisoningUnits.IsCertified(1e-300, [], 0.0));
    }
}

using System.Numerics;

namespace NativeCert.Certification;

/// <summary>
/// Translates a certified ℓ2 radius R (input units, over the concatenation of all training features and the test
/// input) into poisoning budgets. A trigger of ℓ2 norm t added to m training examples and to the test input has
/// total norm t·√(m+1); it is covered when t·√(m+1) &lt; R (strict). Every comparison here is exact in rational
/// arithmetic on the given doubles, so an R that equals t·√(m+1) exactly is never counted as covered.
/// </summary>
internal static class PoisoningUnits
{
    /// <summary>True when a trigger of norm <paramref name="triggerNorm"/> on <paramref name="poisonedCount"/> training
    /// examples (and on the test input when <paramref name="withTestTrigger"/>) is covered by <paramref name="radius"/>.</summary>
    public static bool IsCertified(double radius, double triggerNorm, long poisonedCount, bool withTestTrigger = true)
    {
        ValidateNorm(triggerNorm, nameof(triggerNorm));
        if (poisonedCount < 0) throw new ArgumentOutOfRangeException(nameof(poisonedCount), poisonedCount, "poisoned count must be non-negative");
        long copies = withTestTrigger ? checked(poisonedCount + 1) : poisonedCount;
        return SqrtCountTimesLess(triggerNorm, copies, radius);
    }

    /// <summary>General form: √(Σᵢ ‖δᵢ‖² + ‖δₓ‖²) &lt; R for per-example training perturbation norms δᵢ and test perturbation norm δₓ.</summary>
    public static bool IsCertified(double radius, ReadOnlySpan<double> trainingPerturbationNorms, double testPerturbationNorm)
    {
        if (!(radius > 0) || double.IsInfinity(radius)) return double.IsPositiveInfinity(radius);
        ValidateNorm(testPerturbationNorm, nameof(testPerturbationNorm));
        // Σ δ² < R² exactly: every square as an integer times 2^(2e), summed at the smallest exponent.
        var terms = new List<(BigInteger M, int E)>(trainingPerturbationNorms.Length + 2);
        foreach (double d in trainingPerturbationNorms)
        {
            ValidateNorm(d, nameof(trainingPerturbationNorms));
            if (d != 0) terms.Add(Square(d));
        }
        if (testPerturbationNorm != 0) terms.Add(Square(testPerturbationNorm));
        var r2 = Square(radius);
        int emin = r2.E;
        foreach (var t in terms) emin = Math.Min(emin, t.E);
        BigInteger sum = BigInteger.Zero;
        foreach (var t in terms) sum += t.M << (t.E - emin);
        return sum < (r2.M << (r2.E - emin));
    }

    /// <summary>
    /// The largest m with t·√(m+1) &lt; R (with test trigger) or t·√m &lt; R (without); −1 when not even m = 0 is
    /// covered; <see cref="long.MaxValue"/> when every m is (t = 0 and R &gt; 0, or (R/t)² beyond 9e18).
    /// </summary>
    public static long LargestCertifiedPoisonCount(double radius, double triggerNorm, bool withTestTrigger = true)
    {
        ValidateNorm(triggerNorm, nameof(triggerNorm));
        if (double.IsNaN(radius) || !(radius > 0)) return -1;
        if (triggerNorm == 0 || double.IsPositiveInfinity(radius)) return long.MaxValue;
        double ratio2 = (radius / triggerNorm) * (radius / triggerNorm);
        if (!(ratio2 < 9e18)) return long.MaxValue;
        // Candidate from floating point, then walk to the exact answer with the exact test.
        long m = (long)Math.Floor(ratio2) - (withTestTrigger ? 1 : 0);
        m = Math.Max(m, -1);
        while (m >= 0 && !IsCertified(radius, triggerNorm, m, withTestTrigger)) m--;
        while (IsCertified(radius, triggerNorm, m + 1, withTestTrigger)) m++;
        return m;
    }

    /// <summary>t·√copies &lt; R exactly, i.e. t²·copies &lt; R² in integers scaled by powers of two.</summary>
    private static bool SqrtCountTimesLess(double t, long copies, double radius)
    {
        if (double.IsNaN(radius) || !(radius > 0)) return false;
        if (t == 0 || copies == 0) return true;
        if (double.IsPositiveInfinity(radius)) return true;
        var lhs = Square(t);
        var rhs = Square(radius);
        BigInteger l = lhs.M * copies;
        int e = Math.Min(lhs.E, rhs.E);
        return (l << (lhs.E - e)) < (rhs.M << (rhs.E - e));
    }

    /// <summary>d² = M · 2^E exactly.</summary>
    private static (BigInteger M, int E) Square(double d)
    {
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(d));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & ((1L << 52) - 1);
        int e;
        if (exponent == 0) e = -1074;
        else { mantissa |= 1L << 52; e = exponent - 1075; }
        BigInteger m = mantissa;
        return (m * m, 2 * e);
    }

    private static void ValidateNorm(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(name, value, "a norm must be finite and non-negative");
    }
}

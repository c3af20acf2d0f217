using System.Numerics;
using NativeCert.Certification;

namespace NativeCert.Defenses;

/// <summary>
/// Certified poisoning sizes of bagging (Jia, Cao and Gong, AAAI 2021, Theorem 1). N models each train on a bag of k
/// rows drawn uniformly with replacement from the n training rows; the aggregate predicts the class A the most models
/// vote for. With p_A a lower and p_B an upper Clopper–Pearson bound (each at α/C: Bonferroni over the C classes, as
/// SimuEM) on the probability that a random bag's model votes A (resp. the most likely other class), a poisoned set of
/// n' rows sharing o rows with the clean one cannot change the prediction when
/// <code>(n'/n)^k − 2·(o/n)^k + 1 − p_A + p_B &lt; 0</code>
/// because bags that only hold shared rows are equally distributed under both sets and every other bag may vote anything.
/// The poisoning size is r = max(n, n') − o; for a given r the worst n' is n (r modifications), n − r (deletions),
/// n + r (insertions), and for any mix the n' ∈ [n, n + r] that maximises the left side (it is unimodal, with its peak at
/// r / (1 − 2^{−1/(k−1)})). The bounds ignore the 1/n^k granularity of bag probabilities, which can only make them
/// smaller (safe). Every decision is exact: in double with a proven error margin, else in integers.
/// </summary>
internal static class BaggingCertificate
{
    /// <summary>The certificate of one input from its (C) vote counts, n training rows, bag size k, and α for this input.</summary>
    public static ExampleCertificate Certify(ReadOnlySpan<uint> votes, long n, int k, double alphaPerInput, BoundCache? cache = null)
    {
        if (votes.Length < 2) throw new ArgumentException("bagging needs at least two classes");
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "need at least one training row");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "bag size must be at least 1");
        cache ??= new BoundCache();
        int top = 0;
        long models = 0;
        for (int c = 0; c < votes.Length; c++)
        {
            models += votes[c];
            if (votes[c] > votes[top]) top = c;
        }
        if (models == 0) return ExampleCertificate.Abstain(0, 1);
        double alphaClass = alphaPerInput / votes.Length;
        double pA = cache.Lower(votes[top], models, alphaClass);
        double pB = 0;
        for (int c = 0; c < votes.Length; c++)
            if (c != top) pB = Math.Max(pB, cache.Upper(votes[c], models, alphaClass));
        double complement = pA >= 0.5 ? 1 - pA : ClopperPearson.OneMinusRoundedUp(pA);
        pB = Math.Min(pB, complement);
        if (!(pA > pB)) return ExampleCertificate.Abstain(pA, pB);
        return Sizes(top, pA, pB, n, k);
    }

    /// <summary>The certified sizes for given bounds p_A &gt; p_B (already safe), n rows and bag size k.</summary>
    public static ExampleCertificate Sizes(int prediction, double pA, double pB, long n, int k)
    {
        long modified = Largest(r => Covered(n, n, n - r, k, pA, pB), n);
        long deleted = Largest(r => Covered(n, n - r, n - r, k, pA, pB), n);
        long inserted = Largest(r => Covered(n, n + r, n, k, pA, pB), long.MaxValue / 4);
        long any = Largest(r => CoveredAnyMix(n, r, k, pA, pB), n);
        return new ExampleCertificate(prediction, pA, pB, inserted, deleted, modified, Relabelled: modified, any);
    }

    /// <summary>True when every poisoned set of size r (any mix of modifications, insertions, deletions) is covered.</summary>
    public static bool CoveredAnyMix(long n, long r, int k, double pA, double pB)
    {
        if (r >= n) return false;
        // n' ≤ n: the left side grows with n' at fixed o = n − r, so n' = n is the worst; n' ≥ n: o = n' − r, peak below.
        if (k == 1) return Covered(n, n, n - r, k, pA, pB);
        double peak = r / (1 - Math.Pow(0.5, 1.0 / (k - 1)));
        var candidates = new SortedSet<long> { n, n + r };
        foreach (double p in new[] { Math.Floor(peak), Math.Ceiling(peak) })
            for (long d = -1; d <= 1; d++) // one either side: the peak itself is computed in floating point
            {
                double v = p + d;
                if (v >= n && v <= n + r) candidates.Add((long)v);
            }
        foreach (long nPrime in candidates)
            if (!Covered(n, nPrime, nPrime - r, k, pA, pB)) return false;
        return true;
    }

    /// <summary>
    /// (n'/n)^k − 2(o/n)^k + 1 − p_A + p_B &lt; 0, decided exactly: in double when the value is farther from 0 than its
    /// rounding error can be, otherwise as n'^k − 2o^k + (1 − p_A + p_B)·n^k &lt; 0 in integers (p_A, p_B are dyadic).
    /// </summary>
    public static bool Covered(long n, long nPrime, long overlap, int k, double pA, double pB)
    {
        if (overlap < 0 || overlap > Math.Min(n, nPrime) || nPrime < 0) throw new ArgumentOutOfRangeException(nameof(overlap));
        double a = PowRatio(nPrime, n, k, out double exponentA), b = PowRatio(overlap, n, k, out double exponentB);
        if (double.IsPositiveInfinity(a)) return false; // (n'/n)^k alone exceeds every other term
        double value = a - 2 * b + (1 - pA + pB);
        // exp(k·log1p(x)): the division, log1p (a few ulps) and the product within 4 ulps of the exponent y, exp within 1 ulp: each power within
        // (4|y| + 4)·u relative (u = 2⁻⁵³); the three additions add at most 4u of the largest partial sum. Doubled for safety.
        const double U = 1.1102230246251565e-16;
        double error = 2 * U * (a * (4 * Math.Abs(exponentA) + 4) + 2 * b * (4 * Math.Abs(exponentB) + 4) + 4 * (a + 2 * b + 2)) + 4 * double.Epsilon;
        if (value < -error) return true;
        if (value > error) return false;
        return ExactValueIsNegative(n, nPrime, overlap, k, pA, pB);
    }

    /// <summary>(x/n)^k = exp(y), y = k·log1p((x − n)/n); exact for x ∈ {0, n}.</summary>
    private static double PowRatio(long x, long n, int k, out double exponent)
    {
        exponent = 0;
        if (x == 0) return 0;
        if (x == n) return 1;
        exponent = k * Accurate.Log1P((double)(x - n) / n);
        return Math.Exp(exponent);
    }

    private static bool ExactValueIsNegative(long n, long nPrime, long overlap, int k, double pA, double pB)
    {
        // q = 1 − p_A + p_B = Q / 2^E exactly.
        var (mA, eA) = Dyadic(pA);
        var (mB, eB) = Dyadic(pB);
        int e = Math.Max(Math.Max(eA, eB), 0);
        BigInteger q = (BigInteger.One << e) - (mA << (e - eA)) + (mB << (e - eB));
        BigInteger lhs = (BigInteger.Pow(nPrime, k) - 2 * BigInteger.Pow(overlap, k)) << e;
        return lhs + q * BigInteger.Pow(n, k) < 0;
    }

    /// <summary>d = M / 2^E exactly, E ≥ 0 (d ∈ [0, 1]).</summary>
    private static (BigInteger M, int E) Dyadic(double d)
    {
        if (d == 0) return (BigInteger.Zero, 0);
        long bits = BitConverter.DoubleToInt64Bits(d);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & ((1L << 52) - 1);
        if (exponent == 0) return (mantissa, 1074);
        mantissa |= 1L << 52;
        int shift = 1075 - exponent; // d = mantissa · 2^(exponent − 1075)
        return shift >= 0 ? (mantissa, shift) : ((BigInteger)mantissa << -shift, 0);
    }

    /// <summary>The largest r in [0, max] with covered(r) (−1 when not even 0), for covered monotone decreasing in r.</summary>
    private static long Largest(Func<long, bool> covered, long max)
    {
        if (!covered(0)) return -1;
        long good = 0, step = 1;
        while (true)
        {
            long next = Math.Min(max, good + step);
            if (next == good || !covered(next)) { max = next == good ? good : next - 1; break; }
            good = next;
            step *= 2;
        }
        long lo = good, hi = max; // covered(lo), answer in [lo, hi]
        while (lo < hi)
        {
            long mid = lo + (hi - lo + 1) / 2;
            if (covered(mid)) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    /// <summary>Certificates of every input; α per input (α/T already applied when simultaneous).</summary>
    public static ExampleCertificate[] Certify(NativeCert.Engine.VoteCounts votes, long n, int k, double alphaPerInput)
    {
        var cache = new BoundCache();
        var certificates = new ExampleCertificate[votes.Inputs];
        for (int t = 0; t < votes.Inputs; t++) certificates[t] = Certify(votes.Row(t), n, k, alphaPerInput, cache);
        return certificates;
    }
}

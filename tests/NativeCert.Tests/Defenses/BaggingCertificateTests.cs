using NativeCert.Certification;
using NativeCert.Defenses;

namespace NativeCert.Tests.Defenses;

/// <summary>
/// The bagging bound against an exact enumeration for small n and k: every bag (sequence of k draws) of the clean and
/// of the poisoned training set is enumerated, and the strongest adversary is computed with the exact, discrete bag
/// probabilities: on the clean set every bag touching no shared row... see <see cref="AttackSucceeds"/>.
/// </summary>
public class BaggingCertificateTests
{
    /// <summary>Sequences of k draws from [0, rows) whose every draw is below <paramref name="shared"/>, by enumeration.</summary>
    private static long BagsInside(int rows, int shared, int k)
    {
        long inside = 0, total = (long)Math.Pow(rows, k);
        for (long code = 0; code < total; code++)
        {
            bool all = true;
            for (long c = code, j = 0; j < k; j++, c /= rows) all &= c % rows < shared;
            if (all) inside++;
        }
        return inside;
    }

    /// <summary>
    /// The strongest adversary against a base learner with P_D(A) ≥ pA·S/S and P_D(c) ≤ pB for every other c, S = n^k
    /// equally likely bags. Bags made of shared rows only train the same model under both sets; on the clean set every
    /// other bag votes A (free), shared bags vote A only as often as p_A needs and B as often as p_B allows; on the
    /// poisoned set every bag that touches a new row votes B. Ties count as a flip (B may be the lower class).
    /// </summary>
    private static bool AttackSucceeds(int n, int nPrime, int shared, int k, long pACount, long pBCount)
    {
        long s = (long)Math.Pow(n, k), inside = BagsInside(n, shared, k);
        long sPrime = (long)Math.Pow(nPrime, k), insidePrime = BagsInside(nPrime, shared, k);
        long a = Math.Max(0, pACount - (s - inside));
        long b = Math.Min(inside - a, pBCount);
        return a <= b + (sPrime - insidePrime);
    }

    /// <summary>Largest r no poisoned set of the given shapes can beat, by enumeration (shapes: r → (n', shared) pairs).</summary>
    private static long BruteLargest(Func<int, IEnumerable<(int NPrime, int Shared)>> shapes, int k, long pA, long pB, int n, int rMax)
    {
        long largest = -1;
        for (int r = 0; r <= rMax; r++)
        {
            if (shapes(r).Any(s => AttackSucceeds(n, s.NPrime, s.Shared, k, pA, pB))) break;
            largest = r;
        }
        return largest;
    }

    [Fact]
    public void CertifiedSizesAreSoundEverywhereAndExactWhereTheBoundsAreBagProbabilities()
    {
        int checkedCases = 0;
        foreach (int n in new[] { 2, 3, 4 })
            for (int k = 1; k <= 3; k++)
            {
                long s = (long)Math.Pow(n, k);
                int rMax = n + 3;
                for (long i = 1; i <= s; i++)
                    for (long j = 0; j < i && i + j <= s; j++)
                    {
                        double pA = (double)i / s, pB = (double)j / s;
                        // Soundness must hold for bounds rounded either way; n = 3 makes them inexact in binary.
                        var cert = BaggingCertificate.Sizes(0, pA, pB, n, k);
                        // The discrete bag-count bounds the double bounds imply: P ≥ pA means at least ⌈pA·s⌉ bags, exactly.
                        long pACount = ScaledExactly(pA, s, ceiling: true), pBCount = ScaledExactly(pB, s, ceiling: false);
                        long mod = BruteLargest(r => r >= n ? [(n, 0)] : [(n, n - r)], k, pACount, pBCount, n, rMax);
                        long del = BruteLargest(r => r >= n ? [(0, 0)] : [(n - r, n - r)], k, pACount, pBCount, n, rMax);
                        long ins = BruteLargest(r => [(n + r, n)], k, pACount, pBCount, n, rMax);
                        long any = BruteLargest(r => Enumerable.Range(Math.Max(0, n - r), 2 * r + 1)
                                                      .Select(np => (np, Math.Max(n, np) - r)).Where(x => x.Item2 >= 0 && x.Item2 <= Math.Min(n, x.np)),
                                                k, pACount, pBCount, n, rMax);
                        string what = $"n={n} k={k} pA={i}/{s} pB={j}/{s}";
                        // Sound: never above the enumeration.
                        Assert.True(cert.Modified <= mod && cert.Deleted <= del && cert.Any <= any && Math.Min(cert.Inserted, rMax) <= ins,
                                    $"{what}: certificate (mod {cert.Modified}, del {cert.Deleted}, ins {cert.Inserted}, any {cert.Any}) vs enumeration ({mod}, {del}, {ins}, {any})");
                        // Exact when the bounds are bag probabilities exactly (n a power of two, so i/s is a double).
                        if ((n & (n - 1)) == 0)
                        {
                            Assert.True(cert.Modified == mod && cert.Deleted == del && cert.Any == any && Math.Min(cert.Inserted, rMax) == Math.Min(ins, rMax),
                                        $"{what}: certificate (mod {cert.Modified}, del {cert.Deleted}, ins {cert.Inserted}, any {cert.Any}) vs enumeration ({mod}, {del}, {ins}, {any})");
                        }
                        checkedCases++;
                    }
            }
        Assert.True(checkedCases > 400, $"{checkedCases} cases");
    }

    /// <summary>⌈p·s⌉ or ⌊p·s⌋ in exact arithmetic on the double p.</summary>
    private static long ScaledExactly(double p, long s, bool ceiling)
    {
        if (p == 0) return 0;
        long bits = BitConverter.DoubleToInt64Bits(p);
        int exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = new System.Numerics.BigInteger((bits & ((1L << 52) - 1)) | (1L << 52));
        int shift = 1075 - exponent; // p = mantissa / 2^shift, shift > 0 for p ≤ 1
        var scaled = mantissa * s;
        var quotient = System.Numerics.BigInteger.DivRem(scaled, System.Numerics.BigInteger.One << shift, out var remainder);
        return (long)(ceiling && !remainder.IsZero ? quotient + 1 : quotient);
    }

    [Fact]
    public void MatchesTheReferenceFormulaOnMnistSizedCases()
    {
        // The reference implementation's condition (n'/n)^k − 2((n'−r)/n)^k + 1 − pA + pB < 0 at the worst n', in double.
        static bool Reference(long r, long n, int k, double pA, double pB)
        {
            double Value(double np) => Math.Pow(np / n, k) - 2 * Math.Pow((np - r) / n, k) + 1 - pA + pB;
            double peak = r / (1 - Math.Pow(0.5, 1.0 / (k - 1)));
            double worst = peak <= n ? Value(n) : peak >= n + r ? Value(n + r) : Math.Max(Value(Math.Ceiling(peak)), Value(Math.Floor(peak)));
            return worst < 0;
        }
        foreach (var (n, k, pA, pB) in new[] { (60000L, 30, 0.95, 0.04), (60000L, 100, 0.99, 0.005), (8000L, 50, 0.8, 0.15), (8000L, 200, 0.999, 0.0009) })
        {
            var cert = BaggingCertificate.Sizes(0, pA, pB, n, k);
            Assert.True(cert.Any > 0);
            Assert.True(Reference(cert.Any, n, k, pA, pB), $"n={n} k={k}: r={cert.Any} should be certified");
            Assert.False(Reference(cert.Any + 1, n, k, pA, pB), $"n={n} k={k}: r={cert.Any + 1} should not be");
            Assert.True(cert.Any <= Math.Min(cert.Modified, Math.Min(cert.Inserted, cert.Deleted)));
        }
    }

    [Fact]
    public void CertifyBoundsEveryClassAtAlphaOverCAndAbstainsWhenTheBoundsOverlap()
    {
        var votes = new uint[] { 10, 950, 40 };
        var cert = BaggingCertificate.Certify(votes, 8000, 100, 0.001);
        Assert.Equal(1, cert.Prediction);
        Assert.Equal(ClopperPearson.Lower(950, 1000, 0.001 / 3), cert.PA);
        Assert.Equal(ClopperPearson.Upper(40, 1000, 0.001 / 3), cert.PB);
        Assert.True(BaggingCertificate.Certify(new uint[] { 500, 480, 20 }, 8000, 100, 0.001).IsAbstain);
    }
}

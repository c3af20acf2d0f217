using System.Numerics;
using NativeCert.Certification;

namespace NativeCert.Tests.Certification;

public class BinomialTailTests
{
    [Fact]
    public void Stirlerr_table_and_series_match_log_factorial()
    {
        // stirlerr(n) = log n! − (n + ½) log n + n − ½ log 2π, with log n! from the exact integer n!.
        BigInteger factorial = BigInteger.One;
        for (int n = 1; n <= 60; n++)
        {
            factorial *= n;
            double logFactorial = BigInteger.Log(factorial);
            double reference = logFactorial - (n + 0.5) * Math.Log(n) + n - 0.5 * Math.Log(2 * Math.PI);
            // The reference itself loses ~1e-16·n log n to cancellation.
            Assert.True(Math.Abs(BinomialTail.Stirlerr(n) - reference) <= 2e-16 * n * Math.Log(n) + 1e-15, $"n={n}");
        }
    }

    [Fact]
    public void Log_pmf_matches_exact_rational_pmf()
    {
        foreach (int n in new[] { 2, 9, 40 })
            foreach (double p in new[] { 1e-200, 0.001, 0.3, 0.5, 0.97 })
                for (int k = 1; k < n; k++)
                {
                    var (mp, F) = BinomialReference.Dyadic(p);
                    BigInteger mq = (BigInteger.One << F) - mp;
                    BigInteger num = Binomial(n, k) * BigInteger.Pow(mp, k) * BigInteger.Pow(mq, n - k);
                    // log(num / 2^(F n)) from the top 62 bits, so nothing large cancels.
                    int shift = (int)num.GetBitLength() - 62;
                    double exact = Math.Log((double)(num >> shift)) + (double)(shift - (long)F * n) * Math.Log(2);
                    double q = 1 - p;
                    double got = BinomialTail.LogBinomPmf(k, n, p, q, Math.Log(p), Math.Log(q));
                    Assert.True(Math.Abs(got - exact) <= 1e-13 * Math.Max(1, Math.Abs(exact)), $"n={n} k={k} p={p}: {got:R} vs {exact:R}");
                }
    }

    private static BigInteger Binomial(int n, int k)
    {
        BigInteger b = BigInteger.One;
        for (int j = 1; j <= k; j++) b = b * (n - k + j) / j;
        return b;
    }
}

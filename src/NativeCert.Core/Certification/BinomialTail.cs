namespace NativeCert.Certification;

/// <summary>
/// Log of the regularized incomplete beta function I_x(a, b) for integer a, b ≥ 1, which is the binomial
/// upper tail P[Bin(a+b−1, x) ≥ a]. The prefactor is the binomial pmf in Loader's saddle-point form
/// (stirlerr + bd0 deviance, as R's dbinom) so it keeps full relative accuracy for n up to 10⁹ and
/// probabilities down to the subnormal range; the remaining factor is the Lentz continued fraction.
/// Both x and y = 1 − x are passed because only the smaller of the two can be represented precisely.
/// </summary>
internal static class BinomialTail
{
    /// <summary>Unit roundoff 2⁻⁵³.</summary>
    internal const double Eps = 1.1102230246251565e-16;
    private const double Ln2Pi = 1.8378770664093454836;
    private const double LnSqrt2Pi = 0.91893853320467274178;
    private const double Tiny = 1e-300;

    /// <summary>stirlerr(n) = log n! − log(√(2π n) (n/e)ⁿ) at integers 0..15 (Loader 2000; R's table).</summary>
    private static readonly double[] StirlerrSmall =
    [
        0.0,
        0.0810614667953272582196702,
        0.0413406959554092940938221,
        0.02767792568499833914878929,
        0.02079067210376509311152277,
        0.01664469118982119216319487,
        0.01387612882307074799874573,
        0.01189670994589177009505572,
        0.010411265261972096497478567,
        0.009255462182712732917728637,
        0.008330563433362871256469318,
        0.007573675487951840794972024,
        0.006942840107209529865664152,
        0.006408994188004207068439631,
        0.005951370112758847735624416,
        0.005554733551962801371038690,
    ];

    /// <summary>Error of Stirling's formula in log n!, for integer n ≥ 0.</summary>
    internal static double Stirlerr(long n)
    {
        if (n <= 15) return StirlerrSmall[n];
        const double S0 = 1.0 / 12, S1 = 1.0 / 360, S2 = 1.0 / 1260, S3 = 1.0 / 1680, S4 = 1.0 / 1188;
        double x = n, xx = x * x;
        if (n > 500) return (S0 - S1 / xx) / x;
        if (n > 80) return (S0 - (S1 - S2 / xx) / xx) / x;
        if (n > 35) return (S0 - (S1 - (S2 - S3 / xx) / xx) / xx) / x;
        return (S0 - (S1 - (S2 - (S3 - S4 / xx) / xx) / xx) / xx) / x;
    }

    /// <summary>
    /// Deviance term bd0(x, M) = x log(x/M) + M − x, where d = x − M is passed separately because the caller
    /// can compute it more accurately than the subtraction. logM is used when M underflows.
    /// </summary>
    internal static double Bd0(double x, double M, double d, double logM)
    {
        if (M > 1e-280 && Math.Abs(d) < 0.1 * (x + M))
        {
            // Series in v = d/(x+M): bd0 = d·v + 2x Σ v^(2j+1)/(2j+1); no cancellation near x = M.
            double v = d / (x + M);
            double s = d * v;
            if (Math.Abs(s) < double.MinValue) return s;
            double ej = 2 * x * v;
            v *= v;
            for (int j = 1; j < 1000; j++)
            {
                ej *= v;
                double s1 = s + ej / (2 * j + 1);
                if (s1 == s) return s1;
                s = s1;
            }
            return s;
        }
        double logRatio = M > 1e-280 ? Math.Log(x / M) : Math.Log(x) - logM;
        return x * logRatio + M - x;
    }

    /// <summary>
    /// log P[Bin(n, p) = k] for 1 ≤ k ≤ n − 1 (also k = 0 and k = n), with q = 1 − p and their logs supplied.
    /// </summary>
    internal static double LogBinomPmf(long k, long n, double p, double q, double logp, double logq)
    {
        if (k == 0) return n * logq;
        if (k == n) return n * logp;
        double Mp = n * p, Mq = n * q;
        // d = k − np = −((n−k) − nq); take it from whichever of p, q is small (the one held exactly).
        double dp = p <= q ? k - Mp : -((n - k) - Mq);
        double logN = Math.Log(n);
        double lc = Stirlerr(n) - Stirlerr(k) - Stirlerr(n - k)
                  - Bd0(k, Mp, dp, logN + logp) - Bd0(n - k, Mq, -dp, logN + logq);
        // log(2π k (n−k) / n); log1p(−k/n) would lose n−k's precision when k is close to n.
        double lf = Ln2Pi + Math.Log(k) + Math.Log(n - k) - logN;
        return lc - 0.5 * lf;
    }

    /// <summary>
    /// Continued fraction h with I_x(a, b) = x^a (1−x)^b / (a B(a,b)) · h (Numerical Recipes betacf, modified
    /// Lentz). Converges quickly for x &lt; (a+1)/(a+b+2); needs O(√max(a,b)) terms near that point.
    /// </summary>
    internal static double ContinuedFraction(double a, double b, double x, double y, out int iterations)
    {
        double qab = a + b, qap = a + 1, qam = a - 1;
        // 1 − (a+b)x/(a+1) cancels when x is near 1 and a ≫ b; there (1 − b + (a+b)y)/(a+1) keeps y's precision.
        double c = 1, d = x <= 0.5 ? 1 - qab * x / qap : (1 - b + qab * y) / qap;
        if (Math.Abs(d) < Tiny) d = Tiny;
        d = 1 / d;
        double h = d;
        int maxIterations = 1000 + (int)(40 * Math.Sqrt(qab));
        for (int m = 1; m <= maxIterations; m++)
        {
            double m2 = 2.0 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d; if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + aa / c; if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d; if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + aa / c; if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.Abs(del - 1) <= 2.3e-16) { iterations = m; return h; }
        }
        throw new InvalidOperationException($"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})");
    }

    /// <summary>
    /// log I_x(a, b) for integers a, b ≥ 1 with y = 1 − x (both supplied, with their logs).
    /// <paramref name="slope"/> = d log I / d log x (positive). <paramref name="iterations"/> is the continued
    /// fraction length, which enters the error estimate.
    /// </summary>
    internal static double LogRegIncBeta(long a, long b, double x, double y, double logx, double logy, out double slope, out int iterations)
    {
        long n = a + b - 1;
        // Prefactor P = x^a y^b / (a B(a,b)) = C(n, a) x^a y^(n−a) · y.
        double logP = LogBinomPmf(a, n, x, y, logx, logy) + logy;
        if (x * (a + b + 2) < a + 1 && x > 0.5)
        {
            // x is within rounding of 1 and only y is precise: the continued fraction's terms 1 − c·x would lose
            // y's digits. Sum the binomial lower tail in y instead: I = P[Bin(n, y) ≤ b−1] = pmf(b−1) · S with
            // pmf(j−1)/pmf(j) = j/(n−j+1) · x/y, which only multiplies by x (relative error eps).
            double logPmf = logP - logy;
            double ratio = x / y, term = 1, sum = 1;
            iterations = 0;
            for (long j = b - 1; j > 0; j--)
            {
                term *= j * ratio / (n - j + 1);
                sum += term;
                iterations++;
                if (term <= sum * 1e-17) break;
            }
            slope = a / sum;              // x f(x) / I = a · pmf / I
            return logPmf + Math.Log(sum);
        }
        if (x * (a + b + 2) < a + 1)
        {
            double h = ContinuedFraction(a, b, x, y, out iterations);
            slope = a / (y * h);          // x f(x) / I = a / (y h)
            return logP + Math.Log(h);
        }
        else
        {
            // I = 1 − I_y(b, a); the complement's prefactor is P · a/b.
            double h = ContinuedFraction(b, a, y, x, out iterations);
            double j = Math.Exp(logP + Math.Log((double)a / b) + Math.Log(h));
            double logI = j < 1 ? Accurate.Log1P(-j) : Math.Log(Eps);
            slope = Math.Exp(logP + Math.Log(a) - logy - logI);
            return logI;
        }
    }

    /// <summary>Largest a for which <see cref="LogRatioSmallA"/> is used.</summary>
    internal const long SmallA = 64;

    /// <summary>
    /// log(I_x(a, b) / α) for small a (x side, continued-fraction branch) without logarithms of large numbers:
    /// C(n, a) xᵃ and α are carried as mantissa · 2^exponent, so near the root only a small log and an exact
    /// integer multiple of ln 2 remain. The log-space path would lose |log α|·eps absolute (≈ 1e-13 at α = 1e-300),
    /// which at slope ≈ a is a relative error of the same size in the bound. <paramref name="error"/> bounds the
    /// absolute error of the result.
    /// </summary>
    internal static double LogRatioSmallA(long a, long b, double x, double y, double alpha, out double slope, out int iterations, out double error)
    {
        long n = a + b - 1;
        int xe = Math.ILogB(x) + 1;
        double xm = Math.ScaleB(x, -xe);                      // x = xm · 2^xe, xm in [1/2, 1)
        double m = 1;
        long e = 0;
        for (long j = 1; j <= a; j++)
        {
            m *= (double)(n - a + j) / j * xm;                 // C(n, a) xᵃ, one factor at a time
            int me = Math.ILogB(m) + 1;
            m = Math.ScaleB(m, -me);
            e += me;
        }
        e += a * xe;
        int ae = Math.ILogB(alpha) + 1;
        double am = Math.ScaleB(alpha, -ae);
        double logYb = b * Accurate.Log1P(-x);                 // log y^b
        double h = ContinuedFraction(a, b, x, y, out iterations);
        slope = a / (y * h);
        const double Ln2 = 0.69314718055994530942;
        double powerOfTwo = (e - ae) * Ln2;
        double result = Math.Log(m * h / am) + logYb + powerOfTwo;
        error = Eps * (4 * a + 32 + 4 * Math.Abs(logYb) + 2 * Math.Abs(powerOfTwo) + 4 * Math.Sqrt(iterations));
        return result;
    }
}

namespace NativeCert.Certification;

/// <summary>
/// Exact one-sided Clopper–Pearson bounds on a binomial success probability, always rounded to the safe side.
/// <para>
/// <see cref="Lower"/>(k, n, α) is the p solving P[Bin(n, p) ≥ k] = α, i.e. I_p(k, n−k+1) = α;
/// <see cref="Upper"/>(k, n, α) = 1 − Lower(n−k, n, α) is the p solving P[Bin(n, p) ≤ k] = α.
/// Each holds with probability at least 1 − α (one-sided). Guaranteed range: 0 ≤ k ≤ n ≤ 10⁹ and
/// 1e-300 ≤ α ≤ 0.5; relative error ≤ 1e-12 (absolute ≤ 1e-300 near 0), and the returned lower bound is never
/// above the exact one, the upper bound never below it.
/// </para>
/// <para>
/// Method: log I_x(a,b) from <see cref="BinomialTail"/>; safeguarded Newton in log of whichever of x, 1 − x is
/// below 1/2 (so bounds near 1 are as precise as bounds near 0); then the root is moved outward by a margin
/// that exceeds the evaluation error, and the moved point is checked to lie on the safe side with that error.
/// </para>
/// </summary>
internal static class ClopperPearson
{
    private const double Eps = BinomialTail.Eps;
    private static readonly double Ln05 = Math.Log(0.5);

    /// <summary>One-sided lower confidence bound at level 1 − α on p from k successes in n trials; 0 when k = 0.</summary>
    public static double Lower(long k, long n, double alpha)
    {
        Validate(k, n, alpha);
        if (k == 0) return 0;
        SolveSafeRoot(k, n - k + 1, alpha, out double xSafe, out _);
        return xSafe;
    }

    /// <summary>One-sided upper confidence bound at level 1 − α on p from k successes in n trials; 1 when k = n.</summary>
    public static double Upper(long k, long n, double alpha)
    {
        Validate(k, n, alpha);
        if (k == n) return 1;
        // p_U = 1 − x* where I_x*(n−k, k+1) = α; returned as the exactly tracked complement.
        SolveSafeRoot(n - k, k + 1, alpha, out _, out double ySafe);
        return ySafe;
    }

    private static void Validate(long k, long n, double alpha)
    {
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), n, "trial count must be non-negative");
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"success count must be in [0, n={n}]");
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1)");
    }

    /// <summary>
    /// Finds x* with I_x*(a, b) = α and returns xSafe ≤ x* and ySafe = 1 − xSafe rounded up (so ySafe ≥ 1 − x*).
    /// </summary>
    internal static void SolveSafeRoot(long a, long b, double alpha, out double xSafe, out double ySafe)
    {
        double logAlpha = Math.Log(alpha);
        if (b == 1) { ClosedForm(a, alpha, logAlpha, out xSafe, out ySafe); return; }

        // Work in whichever of x, y = 1 − x holds the root below 1/2. h(v) is increasing in v either way:
        // x side: h = log I − log α; y side: h = log α − log I.
        bool xSide = (a <= b && alpha <= 0.5) || Evaluate(a, b, true, 0.5, alpha, logAlpha, out _, out _) >= 0;

        if (xSide)
        {
            // A root below the smallest subnormal: 0 is the only safe (and 1e-300-accurate) answer.
            if (Evaluate(a, b, true, double.Epsilon, alpha, logAlpha, out _, out _) >= 0) { xSafe = 0; ySafe = 1; return; }
        }

        double vLo = double.Epsilon, vHi = 0.5;
        long n = a + b - 1;
        double v = xSide ? Math.Min(0.5, (double)a / n) : Math.Min(0.5, (double)(b - 1) / n);
        double slope = 1, errH = 0;
        int noisySteps = 0;
        for (int iter = 0; iter < 400; iter++)
        {
            double h = Evaluate(a, b, xSide, v, alpha, logAlpha, out slope, out errH);
            if (h > 0) vHi = v; else vLo = v;
            double step = h / slope;                  // Newton step in log v
            if (Math.Abs(step) <= 4 * Eps) break;
            // Within the evaluation noise a few more steps centre v on the computed root; more cannot help.
            if (Math.Abs(h) <= errH && ++noisySteps > 3) break;
            double vNew = v * Math.Exp(-step);
            if (!(vNew > vLo && vNew < vHi)) vNew = Math.Exp(0.5 * (Math.Log(vLo) + Math.Log(vHi)));
            if (vNew == v || vHi <= vLo * (1 + 4 * Eps)) break;
            v = vNew;
        }

        // Move outward by more than the evaluation error can shift the root, then confirm the side.
        double margin = 16 * Eps + 2 * errH / slope;
        double vSafe = v;
        for (int attempt = 0; ; attempt++)
        {
            vSafe = xSide ? v * (1 - margin) : v * (1 + margin);
            if (xSide && vSafe < double.Epsilon) { xSafe = 0; ySafe = 1; return; }
            double hSafe = Evaluate(a, b, xSide, vSafe, alpha, logAlpha, out _, out double err);
            if (xSide ? hSafe + err <= 0 : hSafe - err >= 0) break;
            if (attempt > 100) throw new InvalidOperationException($"Clopper–Pearson root could not be bracketed safely (a={a}, b={b}, alpha={alpha})");
            margin *= 1.5;
        }
        if (xSide) { xSafe = vSafe; ySafe = OneMinusRoundedUp(vSafe); }
        else { ySafe = vSafe; xSafe = OneMinusRoundedDown(vSafe); }
    }

    /// <summary>h at v on the chosen side, dh/d(log v) &gt; 0, and a bound on h's absolute error.</summary>
    private static double Evaluate(long a, long b, bool xSide, double v, double alpha, double logAlpha, out double slope, out double error)
    {
        double logv = Math.Log(v), logw = Accurate.Log1P(-v), w = 1 - v;
        int cfIterations;
        if (xSide)
        {
            if (a <= BinomialTail.SmallA && v * (a + b + 2) < a + 1)
                return BinomialTail.LogRatioSmallA(a, b, v, w, alpha, out slope, out _, out error);
            double logI = BinomialTail.LogRegIncBeta(a, b, v, w, logv, logw, out slope, out cfIterations);
            error = EvaluationError(a, b, xSide, v, logAlpha, cfIterations);
            return logI - logAlpha;
        }
        else
        {
            double logI = BinomialTail.LogRegIncBeta(a, b, w, v, logw, logv, out double s, out cfIterations);
            slope = s * v / w;
            error = EvaluationError(a, b, xSide, v, logAlpha, cfIterations);
            return logAlpha - logI;
        }
    }

    /// <summary>
    /// A bound on the absolute error of h in log space: rounding of log α and of the handful of additions of terms
    /// as large as |log α| (the deviance terms' own relative error is absorbed by the slope), of log v when v is so
    /// small that logs replace ratios, and of the continued fraction.
    /// </summary>
    private static double EvaluationError(long a, long b, bool xSide, double v, double logAlpha, int cfIterations)
    {
        double err = Eps * (8 * Math.Abs(logAlpha) + 64 + 4 * Math.Sqrt(cfIterations));
        if (v < 1e-280) err += 2 * Eps * (xSide ? a : b) * Math.Abs(Math.Log(v));
        return err;
    }

    /// <summary>I_x(a, 1) = xᵃ: x* = α^(1/a), y* = −expm1(log α / a), each rounded outward.</summary>
    private static void ClosedForm(long a, double alpha, double logAlpha, out double xSafe, out double ySafe)
    {
        double z = logAlpha / a;                      // absolute error ≤ 2 eps |z|
        if (z <= Ln05)
        {
            if (a == 1) { xSafe = Math.BitDecrement(alpha); ySafe = OneMinusRoundedUp(xSafe); return; }   // x* = α; one ulp inside
            double x = Math.Exp(z);
            if (a <= BinomialTail.SmallA)
            {
                // exp(log α / a) carries |z|·eps relative error (3e-13 at α = 1e-300, a = 2); two Newton steps
                // on log(xᵃ/α), evaluated with mantissa–exponent products, bring it to a few eps.
                for (int i = 0; i < 2; i++) x *= Math.Exp(-LogPowerRatio(x, a, alpha) / a);
                double margin = 8 * Eps;
                while (true)
                {
                    xSafe = x * (1 - margin);
                    if (LogPowerRatio(xSafe, a, alpha) <= -(a + 4) * Eps) break;
                    margin *= 1.5;
                }
            }
            else xSafe = x * (1 - (4 * Eps * (Math.Abs(z) + 1)));
            ySafe = OneMinusRoundedUp(xSafe);
        }
        else
        {
            double y = -Accurate.Expm1(z);
            ySafe = y * (1 + 8 * Eps);
            xSafe = OneMinusRoundedDown(ySafe);
        }
    }

    /// <summary>log(xᵃ / α) with relative error ≤ (a + 2) eps in xᵃ/α: powers as mantissa · 2^exponent.</summary>
    private static double LogPowerRatio(double x, long a, double alpha)
    {
        int xe = Math.ILogB(x) + 1;
        double xm = Math.ScaleB(x, -xe), m = 1;
        long e = a * xe;
        for (long j = 0; j < a; j++)
        {
            m *= xm;
            int me = Math.ILogB(m) + 1;
            m = Math.ScaleB(m, -me);
            e += me;
        }
        int ae = Math.ILogB(alpha) + 1;
        return Math.Log(m / Math.ScaleB(alpha, -ae)) + (e - ae) * 0.69314718055994530942;
    }

    /// <summary>The smallest double ≥ 1 − x, for 0 ≤ x ≤ 1/2 (1 − r is exact for r in [1/2, 1]).</summary>
    internal static double OneMinusRoundedUp(double x)
    {
        double r = 1 - x;
        if (1 - r > x) r = Math.BitIncrement(r);
        return r;
    }

    /// <summary>The largest double ≤ 1 − y, for 0 ≤ y ≤ 1/2.</summary>
    internal static double OneMinusRoundedDown(double y)
    {
        double r = 1 - y;
        if (1 - r < y) r = Math.BitDecrement(r);
        return r;
    }
}

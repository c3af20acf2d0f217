namespace NativeCert.Certification;

/// <summary>
/// Standard normal quantile Φ⁻¹, accurate to about 1e-15 relative on (1e-300, 1 − 1e-16): Wichura's AS241
/// (PPND16) followed by one Halley step against an accurate erfc. Upper-tail probabilities are handled by
/// symmetry, so <see cref="InverseOfUpper"/> keeps full accuracy for tiny q.
/// </summary>
internal static class NormalQuantile
{
    private const double Sqrt2 = 1.4142135623730950488;
    private const double Sqrt2Pi = 2.5066282746310005024;

    /// <summary>Φ⁻¹(p): the z with P[N(0,1) ≤ z] = p. −∞ at 0, +∞ at 1.</summary>
    public static double Inverse(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "probability must be in [0, 1]");
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        // 1 − p is exact for p ≥ 1/2, so the upper half maps onto the accurate lower tail.
        return p > 0.5 ? -LowerTail(1 - p) : LowerTail(p);
    }

    /// <summary>Φ⁻¹(1 − q) = −Φ⁻¹(q), accurate for tiny upper-tail probabilities q.</summary>
    public static double InverseOfUpper(double q)
    {
        if (double.IsNaN(q) || q < 0 || q > 1) throw new ArgumentOutOfRangeException(nameof(q), q, "probability must be in [0, 1]");
        if (q == 0) return double.PositiveInfinity;
        if (q == 1) return double.NegativeInfinity;
        return q > 0.5 ? LowerTail(1 - q) : -LowerTail(q);
    }

    /// <summary>Φ(z) = erfc(−z/√2)/2, accurate in the lower tail.</summary>
    public static double Cdf(double z) => 0.5 * MathNet.Numerics.SpecialFunctions.Erfc(-z / Sqrt2);

    /// <summary>Φ⁻¹(p) for 0 &lt; p ≤ 1/2.</summary>
    private static double LowerTail(double p)
    {
        double z = Ppnd16(p);
        // One Halley step: relative error of AS241 (~1e-16) is squared away; skipped where Φ underflows.
        if (p > 1e-290 && z > -38)
        {
            double e = Cdf(z) - p;
            double u = e * Sqrt2Pi * Math.Exp(0.5 * z * z);
            z -= u / (1 + 0.5 * z * u);
        }
        return z;
    }

    /// <summary>Wichura (1988), Algorithm AS 241, PPND16: Φ⁻¹(p) to about 1e-16 relative.</summary>
    internal static double Ppnd16(double p)
    {
        double q = p - 0.5;
        if (Math.Abs(q) <= 0.425)
        {
            double r = 0.180625 - q * q;
            return q * (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r
                           + 45921.953931549871457) * r + 13731.693765509461125) * r + 1971.5909503065514427) * r
                           + 133.14166789178437745) * r + 3.3871328727963666080)
                     / (((((((5226.4952788528545610 * r + 28729.085735721942674) * r + 39307.895800092710610) * r
                           + 21213.794301586595867) * r + 5394.1960214247511077) * r + 687.18700749205790830) * r
                           + 42.313330701600911252) * r + 1.0);
        }
        double rr = Math.Sqrt(-Math.Log(q < 0 ? p : 1 - p));
        double value;
        if (rr <= 5.0)
        {
            rr -= 1.6;
            value = (((((((7.74545014278341407640e-4 * rr + 2.27238449892691845833e-2) * rr + 2.41780725177450611770e-1) * rr
                        + 1.27045825245236838258) * rr + 3.64784832476320460504) * rr + 5.76949722146069140550) * rr
                        + 4.63033784615654529590) * rr + 1.42343711074968357734)
                  / (((((((1.05075007164441684324e-9 * rr + 5.47593808499534494600e-4) * rr + 1.51986665636164571966e-2) * rr
                        + 1.48103976427480074590e-1) * rr + 6.89767334985100004550e-1) * rr + 1.67638483018380384940) * rr
                        + 2.05319162663775882187) * rr + 1.0);
        }
        else
        {
            rr -= 5.0;
            value = (((((((2.01033439929228813265e-7 * rr + 2.71155556874348757815e-5) * rr + 1.24266094738807843860e-3) * rr
                        + 2.65321895265761230930e-2) * rr + 2.96560571828504891230e-1) * rr + 1.78482653991729133580) * rr
                        + 5.46378491116411436990) * rr + 6.65790464350110377720)
                  / (((((((2.04426310338993978564e-15 * rr + 1.42151175831644588870e-7) * rr + 1.84631831751005468180e-5) * rr
                        + 7.86869131145613259100e-4) * rr + 1.48753612908506148525e-2) * rr + 1.36929880922735805310e-1) * rr
                        + 5.99832206555887937690e-1) * rr + 1.0);
        }
        return q < 0 ? -value : value;
    }
}

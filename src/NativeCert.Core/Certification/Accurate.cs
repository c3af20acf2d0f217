namespace NativeCert.Certification;

/// <summary>
/// log(1+x) and exp(x)−1 with a few ulps of relative error (Kahan's tricks). .NET's double.LogP1/ExpM1 compute
/// Log(x+1)/Exp(x)−1 directly and lose all relative accuracy for tiny x, which the bounds cannot afford.
/// </summary>
internal static class Accurate
{
    public static double Log1P(double x)
    {
        double u = 1 + x;
        if (u == 1) return x;
        if (double.IsPositiveInfinity(u)) return Math.Log(x);
        // log(u) is exact for the rounded u; x/(u−1) corrects for the rounding of 1 + x.
        return Math.Log(u) * x / (u - 1);
    }

    public static double Expm1(double x)
    {
        if (Math.Abs(x) >= 0.5) return Math.Exp(x) - 1;
        double u = Math.Exp(x);
        if (u == 1) return x;
        double um1 = u - 1;
        if (um1 == -1) return -1;
        return um1 * x / Math.Log(u);
    }
}

using NativeCert.Engine;

namespace NativeCert.Certification;

/// <summary>
/// Turns vote counts into certificates. Ties go to the lowest class index. α is one-sided; with
/// <c>simultaneous</c> the guarantee holds jointly over all T inputs (each input is certified at α/T).
/// The batch methods read bounds through a <see cref="BoundCache"/>; the <c>…Reference</c> methods solve every
/// bound afresh and are the oracle the batch path is tested against.
/// </summary>
internal static class Certifier
{
    /// <summary>
    /// Dispatches on <paramref name="method"/>: SimuEM uses <paramref name="counts"/> only; Cohen selects the class on
    /// <paramref name="selection"/> (required) and bounds p_A on <paramref name="counts"/>.
    /// </summary>
    public static Certificate[] Certify(CertificationMethod method, VoteCounts counts, VoteCounts? selection, double sigma, double alpha,
                                        bool simultaneous = false, BoundCache? cache = null) => method switch
    {
        CertificationMethod.SimuEM => CertifySimuEM(counts, sigma, alpha, simultaneous, cache),
        CertificationMethod.Cohen => CertifyCohen(selection ?? throw new ArgumentNullException(nameof(selection), "Cohen's method needs selection counts"),
                                                  counts, sigma, alpha, simultaneous, cache),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown certification method"),
    };

    /// <summary>
    /// SimuEM certificates (Jia et al. 2020). counts: (T, C) votes of N models per input, C ≥ 2; σ: noise standard
    /// deviation in input units; α: one-sided failure probability per input (or jointly with <paramref name="simultaneous"/>).
    /// R = σ/2 (Φ⁻¹(p_A) − Φ⁻¹(p_B)), abstain unless p_A &gt; p_B.
    /// </summary>
    public static Certificate[] CertifySimuEM(VoteCounts counts, double sigma, double alpha, bool simultaneous = false, BoundCache? cache = null)
    {
        ValidateCommon(counts, sigma, alpha);
        cache ??= new BoundCache();
        double alphaClass = InputAlpha(alpha, counts.Inputs, simultaneous) / counts.Classes;
        var certificates = new Certificate[counts.Inputs];
        BoundCache.Table? table = null;
        uint[] all = counts.Counts;
        int classes = counts.Classes;
        for (int t = 0; t < counts.Inputs; t++)
        {
            ReadOnlySpan<uint> row = all.AsSpan(t * classes, classes);
            TopTwo(row, out int top, out uint kTop, out uint kSecond, out long n);
            if (n == 0) { certificates[t] = new Certificate(Certificate.Abstain, 0, 1, 0); continue; }
            if (table is null || table.N != n) table = cache.GetTable(n, alphaClass);
            double pA = table.Lower(kTop), zA = table.LowerQuantile(kTop);
            double pB = table.Upper(kSecond), zB = table.UpperQuantile(kSecond);
            ClampRunnerUp(pA, zA, ref pB, ref zB);
            certificates[t] = Finish(top, pA, pB, zA, zB, sigma);
        }
        return certificates;
    }

    /// <summary>
    /// Cohen et al. certificates: class = argmax of <paramref name="selection"/> (n0 models), p_A = Clopper–Pearson
    /// lower bound at α on <paramref name="estimation"/> (the other N − n0 models); R = σ Φ⁻¹(p_A) when p_A &gt; 1/2.
    /// </summary>
    public static Certificate[] CertifyCohen(VoteCounts selection, VoteCounts estimation, double sigma, double alpha, bool simultaneous = false, BoundCache? cache = null)
    {
        ValidateCommon(estimation, sigma, alpha);
        if (selection.Inputs != estimation.Inputs || selection.Classes != estimation.Classes)
            throw new ArgumentException("selection and estimation counts must have the same shape");
        cache ??= new BoundCache();
        double alphaInput = InputAlpha(alpha, estimation.Inputs, simultaneous);
        var certificates = new Certificate[estimation.Inputs];
        BoundCache.Table? table = null;
        int classes = estimation.Classes;
        for (int t = 0; t < estimation.Inputs; t++)
        {
            TopTwo(selection.Counts.AsSpan(t * classes, classes), out int top, out _, out _, out long n0);
            ReadOnlySpan<uint> est = estimation.Counts.AsSpan(t * classes, classes);
            long n = Sum(est);
            if (n0 == 0 || n == 0) { certificates[t] = new Certificate(Certificate.Abstain, 0, 1, 0); continue; }
            if (table is null || table.N != n) table = cache.GetTable(n, alphaInput);
            double pA = table.Lower(est[top]);
            certificates[t] = FinishCohen(top, pA, table.LowerQuantile(est[top]), sigma);
        }
        return certificates;
    }

    /// <summary>Scalar reference for one input of SimuEM; <paramref name="alphaPerInput"/> is already divided by T if simultaneous.</summary>
    public static Certificate CertifySimuEMReference(ReadOnlySpan<uint> counts, double sigma, double alphaPerInput)
    {
        if (counts.Length < 2) throw new ArgumentException("SimuEM needs at least two classes");
        double alphaClass = alphaPerInput / counts.Length;
        int top = 0;
        for (int c = 1; c < counts.Length; c++) if (counts[c] > counts[top]) top = c;
        long n = Sum(counts);
        if (n == 0) return new Certificate(Certificate.Abstain, 0, 1, 0);
        double pA = ClopperPearson.Lower(counts[top], n, alphaClass);
        double pB = 0;
        for (int c = 0; c < counts.Length; c++)
            if (c != top) pB = Math.Max(pB, ClopperPearson.Upper(counts[c], n, alphaClass));
        double zA = NormalQuantile.Inverse(pA), zB = NormalQuantile.Inverse(pB);
        ClampRunnerUp(pA, zA, ref pB, ref zB);
        return Finish(top, pA, pB, zA, zB, sigma);
    }

    /// <summary>Scalar reference for one input of Cohen's method.</summary>
    public static Certificate CertifyCohenReference(ReadOnlySpan<uint> selection, ReadOnlySpan<uint> estimation, double sigma, double alphaPerInput)
    {
        int top = 0;
        for (int c = 1; c < selection.Length; c++) if (selection[c] > selection[top]) top = c;
        long n = Sum(estimation);
        if (Sum(selection) == 0 || n == 0) return new Certificate(Certificate.Abstain, 0, 1, 0);
        double pA = ClopperPearson.Lower(estimation[top], n, alphaPerInput);
        return FinishCohen(top, pA, NormalQuantile.Inverse(pA), sigma);
    }

    /// <summary>α for one input: α, or α/T for a guarantee simultaneous over T inputs.</summary>
    public static double InputAlpha(double alpha, int inputs, bool simultaneous) =>
        simultaneous ? alpha / Math.Max(1, inputs) : alpha;

    private static void ValidateCommon(VoteCounts counts, double sigma, double alpha)
    {
        if (counts.Classes < 2) throw new ArgumentException("certification needs at least two classes");
        if (!(sigma > 0) || double.IsInfinity(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), sigma, "sigma must be positive and finite");
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1)");
    }

    /// <summary>Top class (lowest index on ties), its count, the largest other count, and the row total.</summary>
    private static void TopTwo(ReadOnlySpan<uint> row, out int top, out uint kTop, out uint kSecond, out long n)
    {
        top = 0; kTop = row[0]; kSecond = 0; n = row[0];
        for (int c = 1; c < row.Length; c++)
        {
            uint k = row[c];
            n += k;
            if (k > kTop) { kSecond = kTop; kTop = k; top = c; }
            else if (k > kSecond) kSecond = k;
        }
    }

    private static long Sum(ReadOnlySpan<uint> row)
    {
        long n = 0;
        foreach (uint k in row) n += k;
        return n;
    }

    /// <summary>p_B = min(p_B, 1 − p_A), with 1 − p_A rounded up so p_B stays an upper bound.</summary>
    private static void ClampRunnerUp(double pA, double zA, ref double pB, ref double zB)
    {
        double complement = pA >= 0.5 ? 1 - pA : ClopperPearson.OneMinusRoundedUp(pA);
        if (complement < pB)
        {
            pB = complement;
            zB = pA >= 0.5 ? -zA : NormalQuantile.Inverse(complement);   // exact symmetry when 1 − p_A is exact
        }
    }

    private static Certificate Finish(int top, double pA, double pB, double zA, double zB, double sigma)
    {
        if (!(pA > pB)) return new Certificate(Certificate.Abstain, pA, pB, 0);
        return new Certificate(top, pA, pB, SafeRadius(0.5 * sigma * (zA - zB), sigma, zA, zB));
    }

    private static Certificate FinishCohen(int top, double pA, double zA, double sigma)
    {
        double pB = pA >= 0.5 ? 1 - pA : ClopperPearson.OneMinusRoundedUp(pA);
        if (!(pA > 0.5)) return new Certificate(Certificate.Abstain, pA, pB, 0);
        return new Certificate(top, pA, pB, SafeRadius(sigma * zA, sigma, zA, -zA));
    }

    /// <summary>
    /// Rounds the radius toward zero by more than Φ⁻¹ (~1e-15 relative) and the arithmetic can err, so the
    /// printed radius is never above the exact one computed from the (already safe) p_A and p_B.
    /// </summary>
    private static double SafeRadius(double radius, double sigma, double zA, double zB)
    {
        double slack = 1e-14 * radius + 8 * BinomialTail.Eps * sigma * (Math.Abs(zA) + Math.Abs(zB));
        return Math.Max(0, radius - slack);
    }
}

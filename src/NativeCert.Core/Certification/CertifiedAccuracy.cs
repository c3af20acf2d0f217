namespace NativeCert.Certification;

/// <summary>
/// Aggregates over certificates and true labels. An input counts at radius r when it is predicted correctly
/// and certified with R ≥ r; abstentions count as wrong. Radii and trigger norms are ℓ2 norms in input units.
/// </summary>
internal static class CertifiedAccuracy
{
    /// <summary>Fraction of inputs predicted correctly with certified radius ≥ <paramref name="radius"/>.</summary>
    public static double AtRadius(ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels, double radius)
    {
        CheckLengths(certificates, labels);
        if (certificates.Length == 0) return 0;
        int hits = 0;
        for (int i = 0; i < certificates.Length; i++)
            if (!certificates[i].IsAbstain && certificates[i].Prediction == labels[i] && certificates[i].Radius >= radius) hits++;
        return (double)hits / certificates.Length;
    }

    /// <summary>Accuracy of the smoothed prediction with no perturbation (abstain = wrong).</summary>
    public static double Clean(ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels)
    {
        CheckLengths(certificates, labels);
        if (certificates.Length == 0) return 0;
        int hits = 0;
        for (int i = 0; i < certificates.Length; i++)
            if (!certificates[i].IsAbstain && certificates[i].Prediction == labels[i]) hits++;
        return (double)hits / certificates.Length;
    }

    /// <summary>Certified accuracy at each radius in <paramref name="radii"/>.</summary>
    public static double[] Curve(ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels, ReadOnlySpan<double> radii)
    {
        var curve = new double[radii.Length];
        for (int j = 0; j < radii.Length; j++) curve[j] = AtRadius(certificates, labels, radii[j]);
        return curve;
    }

    /// <summary>
    /// Certified accuracy against a trigger of ℓ2 norm <paramref name="triggerNorm"/> on m poisoned training examples
    /// (and on the test input when <paramref name="withTestTrigger"/>), for each m in <paramref name="poisonCounts"/>.
    /// </summary>
    public static double[] PoisonCurve(ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels, double triggerNorm,
                                       ReadOnlySpan<long> poisonCounts, bool withTestTrigger = true)
    {
        CheckLengths(certificates, labels);
        var largest = new long[certificates.Length];
        for (int i = 0; i < certificates.Length; i++)
            largest[i] = certificates[i].IsAbstain || certificates[i].Prediction != labels[i]
                ? -1
                : PoisoningUnits.LargestCertifiedPoisonCount(certificates[i].Radius, triggerNorm, withTestTrigger);
        var curve = new double[poisonCounts.Length];
        for (int j = 0; j < poisonCounts.Length; j++)
        {
            if (certificates.Length == 0) continue;
            int hits = 0;
            foreach (long l in largest) if (l >= poisonCounts[j]) hits++;
            curve[j] = (double)hits / certificates.Length;
        }
        return curve;
    }

    private static void CheckLengths(ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels)
    {
        if (certificates.Length != labels.Length) throw new ArgumentException($"{certificates.Length} certificates but {labels.Length} labels");
    }
}

namespace NativeCert.Defenses;

/// <summary>
/// Deep Partition Aggregation certificates (Levine and Feizi, ICLR 2021), deterministic (no α). k models, one per
/// partition, vote; the prediction is the plurality class A with ties to the lowest index. One inserted, deleted or
/// relabelled example changes one partition (the partition is a hash of the features only), so it can move one vote;
/// ρ = ⌊(n_A − max_{c≠A}(n_c + 1[c &lt; A])) / 2⌋ such changes cannot change the plurality. A modified example
/// (its features change) leaves one partition and may enter another: ⌊ρ/2⌋ modifications.
/// </summary>
internal static class DpaCertificate
{
    /// <summary>ρ: the largest number of partitions whose votes may change arbitrarily without changing the plurality.</summary>
    public static long ChangedPartitions(ReadOnlySpan<uint> votes, out int top)
    {
        if (votes.Length < 2) throw new ArgumentException("DPA needs at least two classes");
        top = 0;
        for (int c = 1; c < votes.Length; c++) if (votes[c] > votes[top]) top = c;
        long runnerUp = 0;
        for (int c = 0; c < votes.Length; c++)
            if (c != top) runnerUp = Math.Max(runnerUp, votes[c] + (c < top ? 1L : 0L));
        return (votes[top] - runnerUp) / 2; // n_A ≥ runner-up: every lower class has fewer votes than A
    }

    /// <summary>The certificate from one input's vote counts <c>(C)</c>; abstains only when no model voted.</summary>
    public static ExampleCertificate Certify(ReadOnlySpan<uint> votes)
    {
        long total = 0;
        foreach (uint v in votes) total += v;
        if (total == 0) return ExampleCertificate.Abstain(0, 0);
        long rho = ChangedPartitions(votes, out int top);
        uint second = 0;
        for (int c = 0; c < votes.Length; c++) if (c != top) second = Math.Max(second, votes[c]);
        return new ExampleCertificate(top, (double)votes[top] / total, (double)second / total,
            Inserted: rho, Deleted: rho, Modified: rho / 2, Relabelled: rho, Any: rho / 2);
    }

    /// <summary>Certificates of every input of a (T, C) vote table.</summary>
    public static ExampleCertificate[] Certify(NativeCert.Engine.VoteCounts votes)
    {
        var certificates = new ExampleCertificate[votes.Inputs];
        for (int t = 0; t < votes.Inputs; t++) certificates[t] = Certify(votes.Row(t));
        return certificates;
    }
}

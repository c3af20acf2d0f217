using NativeCert.Defenses;

namespace NativeCert.Tests.Defenses;

/// <summary>The DPA certificate against a brute-force adversary that rewrites the votes of any set of partitions.</summary>
public class DpaCertificateTests
{
    /// <summary>Plurality with ties to the lowest class, as the aggregate votes.</summary>
    private static int Plurality(int[] partitionVotes, int classes)
    {
        var counts = new int[classes];
        foreach (int v in partitionVotes) counts[v]++;
        int top = 0;
        for (int c = 1; c < classes; c++) if (counts[c] > counts[top]) top = c;
        return top;
    }

    /// <summary>True when rewriting the votes of some <paramref name="changed"/> partitions (to anything) changes the plurality.</summary>
    private static bool AdversaryCanFlip(int[] votes, int classes, int changed)
    {
        int k = votes.Length, original = Plurality(votes, classes);
        changed = Math.Min(changed, k);
        // Every subset of partitions of this size, every new vote for each.
        for (int mask = 0; mask < 1 << k; mask++)
        {
            if (System.Numerics.BitOperations.PopCount((uint)mask) != changed) continue;
            int[] members = Enumerable.Range(0, k).Where(p => (mask >> p & 1) != 0).ToArray();
            int assignments = (int)Math.Pow(classes, changed);
            for (int a = 0; a < assignments; a++)
            {
                var poisoned = (int[])votes.Clone();
                int code = a;
                foreach (int p in members) { poisoned[p] = code % classes; code /= classes; }
                if (Plurality(poisoned, classes) != original) return true;
            }
        }
        return false;
    }

    [Fact]
    public void CertificateIsExactlyTheLargestNumberOfPartitionsABruteForceAdversaryCannotUse()
    {
        int cases = 0;
        foreach (int classes in new[] { 2, 3, 4 })
            for (int k = 1; k <= (classes == 4 ? 5 : 7); k++)
            {
                int total = (int)Math.Pow(classes, k);
                for (int code = 0; code < total; code++)
                {
                    var votes = new int[k];
                    for (int p = 0, c = code; p < k; p++, c /= classes) votes[p] = c % classes;
                    var counts = new uint[classes];
                    foreach (int v in votes) counts[v]++;
                    var cert = DpaCertificate.Certify(counts);
                    Assert.Equal(Plurality(votes, classes), cert.Prediction);
                    // ρ partitions can never flip it; ρ + 1 can (so the certificate is tight as well as sound).
                    int brute = 0;
                    while (brute < k && !AdversaryCanFlip(votes, classes, brute + 1)) brute++;
                    Assert.True(cert.Inserted == brute, $"votes {string.Join(",", counts)}: certificate {cert.Inserted}, brute force {brute}");
                    Assert.Equal(brute, cert.Deleted);
                    Assert.Equal(brute, cert.Relabelled);
                    // A modification touches at most two partitions.
                    long modified = 0;
                    while (2 * (modified + 1) <= k && !AdversaryCanFlip(votes, classes, (int)(2 * (modified + 1)))) modified++;
                    Assert.Equal(modified, cert.Modified);
                    Assert.Equal(cert.Modified, cert.Any);
                    cases++;
                }
            }
        Assert.True(cases > 3000);
    }

    [Fact]
    public void TiesGoToTheLowestClassAndTheFormulaCountsThem()
    {
        // n = (3, 3): class 0 wins the tie, and one changed partition flips it.
        Assert.Equal(new ExampleCertificate(0, 0.5, 0.5, 0, 0, 0, 0, 0), DpaCertificate.Certify(new uint[] { 3, 3 }));
        // n = (2, 5, 3): A = 1, runner-up max(2 + 1, 3) = 3, ρ = ⌊(5 − 3)/2⌋ = 1.
        var c = DpaCertificate.Certify(new uint[] { 2, 5, 3 });
        Assert.Equal((1, 1L, 0L), (c.Prediction, c.Inserted, c.Modified));
        Assert.True(DpaCertificate.Certify(new uint[] { 0, 0 }).IsAbstain);
    }
}

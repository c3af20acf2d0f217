using NativeCert.Certification;
using NativeCert.Engine;

namespace NativeCert.Tests.Certification;

public class CertifierTests
{
    private static VoteCounts Rows(params uint[][] rows)
    {
        var counts = new VoteCounts(rows.Length, rows[0].Length);
        for (int t = 0; t < rows.Length; t++) rows[t].CopyTo(counts.Row(t));
        return counts;
    }

    [Fact]
    public void Unanimous_votes_give_the_closed_form_radius()
    {
        // N = 10 unanimous votes, C = 2, α = 0.002: per-class α/C = 0.001, p_A = 0.001^(1/10),
        // p_B = 1 − p_A, so R = σ/2 (Φ⁻¹(p_A) − Φ⁻¹(1−p_A)) = σ Φ⁻¹(0.001^(1/10)).
        var cert = Certifier.CertifySimuEM(Rows([10, 0]), sigma: 0.5, alpha: 0.002)[0];
        double pA = Math.Pow(0.001, 0.1);                 // 0.501187...
        Assert.Equal(0, cert.Prediction);
        Assert.Equal(pA, cert.PA, 12);
        Assert.Equal(1 - pA, cert.PB, 12);
        Assert.Equal(0.5 * NormalQuantile.Inverse(pA), cert.Radius, 12);
        Assert.True(cert.Radius > 0 && cert.Radius < 0.5 * 0.003);
    }

    [Fact]
    public void SimuEM_hand_computed_three_classes()
    {
        // counts (70, 20, 10), N = 100, α = 0.03 → α/C = 0.01. p_B is the upper bound of the runner-up (20),
        // since it is below 1 − p_A.
        var cert = Certifier.CertifySimuEM(Rows([20, 70, 10]), sigma: 1.0, alpha: 0.03)[0];
        double pA = ClopperPearson.Lower(70, 100, 0.01), pB = ClopperPearson.Upper(20, 100, 0.01);
        Assert.True(pB < 1 - pA);
        Assert.Equal(1, cert.Prediction);
        Assert.Equal(pA, cert.PA);
        Assert.Equal(pB, cert.PB);
        double r = 0.5 * (NormalQuantile.Inverse(pA) - NormalQuantile.Inverse(pB));
        Assert.True(cert.Radius <= r && cert.Radius >= r * (1 - 1e-13), $"{cert.Radius:R} vs {r:R}");
        // Sanity on magnitude: p_A ≈ 0.58, p_B ≈ 0.30 → R ≈ 0.5 (0.20 + 0.52) ≈ 0.36.
        Assert.InRange(cert.Radius, 0.3, 0.45);
    }

    [Fact]
    public void Abstains_when_bounds_overlap_and_breaks_ties_by_lowest_index()
    {
        var certs = Certifier.CertifySimuEM(Rows([50, 50, 0], [0, 30, 30], [34, 33, 33], [0, 0, 0]), sigma: 1, alpha: 0.001);
        foreach (var c in certs)
        {
            Assert.True(c.IsAbstain);
            Assert.Equal(Certificate.Abstain, c.Prediction);
            Assert.Equal(0.0, c.Radius);
        }
        Assert.True(certs[0].PA <= certs[0].PB);
        // Tie-break is visible in Cohen's method, where the selection decides the class.
        var cohen = Certifier.CertifyCohen(Rows([3, 3, 0]), Rows([95, 5, 0]), sigma: 1, alpha: 0.001)[0];
        Assert.Equal(0, cohen.Prediction);
        var cohen2 = Certifier.CertifyCohen(Rows([0, 3, 3]), Rows([5, 95, 0]), sigma: 1, alpha: 0.001)[0];
        Assert.Equal(1, cohen2.Prediction);
    }

    [Fact]
    public void Cohen_hand_computed_and_abstain()
    {
        // Selection picks class 2; estimation gives 990 of 1000 votes to class 2: R = σ Φ⁻¹(p_A).
        var cert = Certifier.CertifyCohen(Rows([1, 0, 9]), Rows([6, 4, 990]), sigma: 0.25, alpha: 0.001)[0];
        double pA = ClopperPearson.Lower(990, 1000, 0.001);
        Assert.Equal(2, cert.Prediction);
        Assert.Equal(pA, cert.PA);
        Assert.Equal(1 - pA, cert.PB);
        Assert.Equal(0.25 * NormalQuantile.Inverse(pA), cert.Radius, 13);
        // Selection says class 0 but the estimation votes for it are few: p_A ≤ 1/2 → abstain.
        var abstain = Certifier.CertifyCohen(Rows([9, 1, 0]), Rows([400, 600, 0]), sigma: 0.25, alpha: 0.001)[0];
        Assert.True(abstain.IsAbstain);
        Assert.Equal(0.0, abstain.Radius);
    }

    [Fact]
    public void Simultaneous_divides_alpha_by_the_number_of_inputs()
    {
        var counts = Rows([90, 10], [80, 20], [99, 1], [60, 40]);
        var joint = Certifier.CertifySimuEM(counts, 1, 0.01, simultaneous: true);
        for (int t = 0; t < 4; t++)
            Assert.Equal(Certifier.CertifySimuEMReference(counts.Row(t), 1, 0.01 / 4), joint[t]);
        var single = Certifier.CertifySimuEM(counts, 1, 0.01);
        Assert.True(joint[0].Radius < single[0].Radius);
    }

    [Fact]
    public void Batch_path_equals_scalar_reference_on_random_counts()
    {
        var rng = new Random(11);
        const int T = 3000, C = 7, N = 500;
        var counts = new VoteCounts(T, C);
        var selection = new VoteCounts(T, C);
        for (int t = 0; t < T; t++)
        {
            double[] w = new double[C];
            for (int c = 0; c < C; c++) w[c] = Math.Pow(rng.NextDouble(), 6);
            w[rng.Next(C)] += rng.NextDouble() * 5;
            double s = w.Sum();
            for (int m = 0; m < N; m++) counts[t, Pick(rng, w, s)]++;
            for (int m = 0; m < 20; m++) selection[t, Pick(rng, w, s)]++;
        }
        var cache = new BoundCache();
        var fast = Certifier.Certify(CertificationMethod.SimuEM, counts, null, 0.7, 0.001, cache: cache);
        var cohen = Certifier.Certify(CertificationMethod.Cohen, counts, selection, 0.7, 0.001, cache: cache);
        int certified = 0;
        for (int t = 0; t < T; t++)
        {
            Assert.Equal(Certifier.CertifySimuEMReference(counts.Row(t), 0.7, 0.001), fast[t]);
            Assert.Equal(Certifier.CertifyCohenReference(selection.Row(t), counts.Row(t), 0.7, 0.001), cohen[t]);
            if (!fast[t].IsAbstain) certified++;
        }
        Assert.InRange(certified, T / 10, T - 1);   // the draw mixes certified inputs and abstentions
    }

    [Fact]
    public void SimuEM_bounds_cover_the_true_class_probabilities_jointly()
    {
        // Votes drawn from known class probabilities: p_A must be ≤ the true probability of the predicted class and
        // p_B ≥ the largest true probability among the others, jointly with probability ≥ 1 − α (Bonferroni over C).
        double[] truth = [0.5, 0.3, 0.15, 0.05];
        const int Trials = 20_000, N = 60;
        const double Alpha = 0.1;
        var rng = new Random(5);
        var counts = new VoteCounts(Trials, truth.Length);
        double total = truth.Sum();
        for (int t = 0; t < Trials; t++)
            for (int m = 0; m < N; m++) counts[t, Pick(rng, truth, total)]++;
        var certs = Certifier.CertifySimuEM(counts, 1.0, Alpha);
        int misses = 0;
        for (int t = 0; t < Trials; t++)
        {
            int top = 0;
            for (int c = 1; c < truth.Length; c++) if (counts[t, c] > counts[t, top]) top = c;
            double otherMax = truth.Where((_, c) => c != top).Max();
            if (certs[t].PA > truth[top] || certs[t].PB < otherMax) misses++;
        }
        Assert.True(misses <= Trials * Alpha + 3 * Math.Sqrt(Trials * Alpha * (1 - Alpha)), $"misses {misses} of {Trials}");
        Assert.Contains(certs, c => !c.IsAbstain);
    }

    [Fact]
    public void Bound_cache_is_consistent_under_concurrency()
    {
        var cache = new BoundCache();
        var results = new double[4, 2001];
        Parallel.For(0, 4, w =>
        {
            for (int k = 0; k <= 2000; k++) results[w, k] = cache.Lower((k * 7 + w * 13) % 2001, 2000, 1e-6);
        });
        for (int w = 0; w < 4; w++)
            for (int k = 0; k <= 2000; k += 97)
                Assert.Equal(ClopperPearson.Lower((k * 7 + w * 13) % 2001, 2000, 1e-6), results[w, k]);
        Assert.Equal(1, cache.TableCount);
    }

    private static int Pick(Random rng, double[] w, double s)
    {
        double u = rng.NextDouble() * s;
        for (int c = 0; c < w.Length; c++) { u -= w[c]; if (u < 0) return c; }
        return w.Length - 1;
    }

    [Fact]
    public void Certified_accuracy_aggregates()
    {
        Certificate[] certs =
        [
            new(0, 0.9, 0.1, 1.0),
            new(1, 0.8, 0.2, 0.5),
            new(Certificate.Abstain, 0.4, 0.5, 0),
            new(2, 0.7, 0.3, 2.0),   // wrong label
        ];
        int[] labels = [0, 1, 1, 0];
        Assert.Equal(0.5, CertifiedAccuracy.Clean(certs, labels));
        Assert.Equal(0.5, CertifiedAccuracy.AtRadius(certs, labels, 0));
        Assert.Equal(0.5, CertifiedAccuracy.AtRadius(certs, labels, 0.5));   // R ≥ r counts
        Assert.Equal(0.25, CertifiedAccuracy.AtRadius(certs, labels, 0.75));
        Assert.Equal([0.5, 0.25, 0.0], CertifiedAccuracy.Curve(certs, labels, [0.0, 1.0, 1.01]));
        // Trigger norm 0.25: R = 1 covers t√(m+1) < 1 → m+1 < 16 → m ≤ 14; R = 0.5 → m+1 < 4 → m ≤ 2.
        Assert.Equal([0.5, 0.5, 0.25, 0.25, 0.0], CertifiedAccuracy.PoisonCurve(certs, labels, 0.25, [0L, 2, 3, 14, 15]));
    }
}

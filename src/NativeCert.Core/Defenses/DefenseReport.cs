using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeCert.Certification;
using NativeCert.Engine;
using NativeCert.IO;
using NativeCert.Plotting;
using NativeCert.Runs;

namespace NativeCert.Defenses;

/// <summary>Certified accuracy when m training examples may be changed (in the given unit).</summary>
public sealed record ExampleAccuracy(long Examples, double CertifiedAccuracy);

/// <summary>
/// summary.json's <c>defense</c> block for DPA and bagging runs: the defense, its parameters, the mean accuracy of the
/// base models (each model's accuracy on the clean test inputs, from the votes), medians of the certificates over the
/// correctly predicted clean inputs (−1 when fewer than half are), and certified accuracy against m modified examples
/// and against m insertions (or deletions).
/// </summary>
public sealed record DefenseSummary(
    string Defense, int Partitions, int BagSize, int TrainRows, int Epochs, double BaseModelAccuracy,
    long MedianCertifiedModified, long MedianCertifiedInserted, long MedianCertifiedDeleted, long MedianCertifiedRelabelled,
    ExampleAccuracy[] CertifiedAccuracyModified, ExampleAccuracy[] CertifiedAccuracyInserted);

/// <summary>
/// The report of a DPA or bagging run, from config.json and votes.bin alone (like <see cref="RunReport"/>): votes.tsv,
/// certificates.tsv and certificates-triggered.tsv (<see cref="ExampleCertificateTsv"/>), the certified-accuracy-vs-poison
/// plot (modified examples), summary.txt, and summary.json last.
/// </summary>
internal static class DefenseReport
{
    /// <summary>Certificates of every input. Bagging: α per input, or α/T over each input set with simultaneous.</summary>
    public static ExampleCertificate[] Certify(RunConfig config, VoteFile votes)
    {
        if (config.Defense == RunConfig.DpaDefense) return DpaCertificate.Certify(votes.Estimation);
        if (config.Defense != RunConfig.BaggingDefense) throw new ArgumentException($"not a defense run: {config.Defense}");
        int n = config.Data?.TrainRows ?? throw new UserInputException("config.json: data facts (train_rows) missing; bagging needs n");
        var certificates = new ExampleCertificate[votes.Inputs];
        var cache = new BoundCache();
        foreach (InputKind kind in new[] { InputKind.Clean, InputKind.Triggered })
        {
            int[] rows = Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == kind).ToArray();
            double alpha = Certifier.InputAlpha(config.Alpha, rows.Length, config.Simultaneous);
            foreach (int i in rows) certificates[i] = BaggingCertificate.Certify(votes.Estimation.Row(i), n, config.BagSize, alpha, cache);
        }
        return certificates;
    }

    /// <summary>Mean over models of each model's accuracy on the given inputs: Σ_t votes[t, label_t] / (N·T).</summary>
    public static double BaseModelAccuracy(VoteCounts votes, int[] labels, int[] rows)
    {
        double correct = 0, total = 0;
        foreach (int t in rows)
        {
            correct += votes[t, labels[t]];
            total += votes.Total(t);
        }
        return total == 0 ? 0 : correct / total;
    }

    /// <summary>Fraction of inputs predicted correctly with a certificate (from <paramref name="count"/>) of at least m.</summary>
    public static double CertifiedAccuracyAt(IReadOnlyList<ExampleCertificate> certs, IReadOnlyList<int> labels, Func<ExampleCertificate, long> count, long m)
    {
        if (certs.Count == 0) return 0;
        int hits = 0;
        for (int i = 0; i < certs.Count; i++)
            if (!certs[i].IsAbstain && certs[i].Prediction == labels[i] && count(certs[i]) >= m) hits++;
        return (double)hits / certs.Count;
    }

    /// <summary>0, 1, 2, 5, 10, 20, 50, … up to the largest certificate, and that largest value.</summary>
    public static long[] TablePoints(long largest)
    {
        var ms = new List<long> { 0 };
        for (long decade = 1; decade <= largest; decade *= 10)
            foreach (long step in new long[] { 1, 2, 5 })
                if (step * decade <= largest) ms.Add(step * decade);
        if (largest > 0 && ms[^1] != largest) ms.Add(largest);
        return ms.ToArray();
    }

    public static RunReport Write(RunDirectory dir, RunConfig config, VoteFile votes)
    {
        ExampleCertificate[] all = Certify(config, votes);
        int[] clean = Rows(votes, InputKind.Clean), triggered = Rows(votes, InputKind.Triggered);
        var cleanCerts = clean.Select(i => all[i]).ToArray();
        var trigCerts = triggered.Select(i => all[i]).ToArray();
        int[] cleanLabels = clean.Select(i => votes.Labels[i]).ToArray(), trigLabels = triggered.Select(i => votes.Labels[i]).ToArray();

        long Median(Func<ExampleCertificate, long> count)
        {
            // Over all clean inputs with wrong or abstaining ones at −1, like the smoothing report's poison count.
            long[] values = cleanCerts.Select((c, i) => c.IsAbstain || c.Prediction != cleanLabels[i] ? -1 : count(c)).Order().ToArray();
            return values.Length == 0 ? -1 : values[(values.Length - 1) / 2];
        }
        long largest = cleanCerts.Concat(trigCerts).Select(c => Math.Max(c.Modified, c.Inserted)).DefaultIfEmpty(0).Max();
        long[] points = TablePoints(Math.Max(0, Math.Min(largest, 1_000_000)));
        var defense = new DefenseSummary(config.Defense, config.Partitions, config.BagSize, config.Data?.TrainRows ?? 0, EpochsOf(config),
            BaseModelAccuracy(votes.Estimation, votes.Labels, clean),
            Median(c => c.Modified), Median(c => c.Inserted), Median(c => c.Deleted), Median(c => c.Relabelled),
            points.Select(m => new ExampleAccuracy(m, CertifiedAccuracyAt(cleanCerts, cleanLabels, c => c.Modified, m))).ToArray(),
            points.Select(m => new ExampleAccuracy(m, CertifiedAccuracyAt(cleanCerts, cleanLabels, c => c.Inserted, m))).ToArray());

        bool dpa = config.Defense == RunConfig.DpaDefense;
        var summary = new RunSummary(
            Complete: true, ConfigHash: config.ConfigHash, Dataset: config.Data?.Dataset ?? "", Method: config.Defense,
            Sigma: config.Sigma, Alpha: dpa ? 0 : config.Alpha, Simultaneous: !dpa && config.Simultaneous,
            AlphaPerInput: dpa ? 0 : Certifier.InputAlpha(config.Alpha, clean.Length, config.Simultaneous),
            AlphaPerTriggeredInput: dpa ? 0 : Certifier.InputAlpha(config.Alpha, triggered.Length, config.Simultaneous),
            Models: config.Models, SelectionModels: 0, ModelsDone: votes.ModelsDone, TestInputs: clean.Length,
            MajorityVoteAccuracy: CertifiedAccuracyAt(cleanCerts, cleanLabels, _ => 0, 0),
            AbstainRate: clean.Length == 0 ? 0 : (double)cleanCerts.Count(c => c.IsAbstain) / clean.Length,
            CertifiedAccuracyAtZeroRadius: CertifiedAccuracyAt(cleanCerts, cleanLabels, _ => 0, 0),
            MedianRadiusCorrect: 0, CertifiedAccuracy: [], PoisonCurves: [],
            Attack: config.Attack is { } a ? SummarizeAttack(a, votes, clean, triggered, cleanCerts, cleanLabels, trigCerts, trigLabels) : null,
            Guarantee: Guarantee(config, clean.Length, triggered.Length),
            GuaranteeType: RunSummary.TrainingExamplesGuarantee, Defense: defense);

        votes.WriteTsv(dir.VotesTsvPath);
        ExampleCertificateTsv.Write(dir.CertificatesPath, cleanCerts, cleanLabels);
        string triggeredPath = Path.Combine(dir.Root, RunReport.TriggeredCertificatesFile);
        if (triggered.Length > 0) ExampleCertificateTsv.Write(triggeredPath, trigCerts, trigLabels);
        AtomicFile.WriteAllBytes(dir.PoisonPlotPath, Plot(config, cleanCerts, cleanLabels, trigCerts, trigLabels).Render().ToPng());
        string text = FormatText(config, summary, defense);
        AtomicFile.WriteAllText(dir.SummaryTextPath, text);
        AtomicFile.WriteAllText(dir.SummaryPath, JsonSerializer.Serialize(summary, RunReport.SummaryJson) + "\n");
        return RunReport.Create(summary, text);
    }

    /// <summary>Epochs each model trained (<c>training.epochs</c> of config.json).</summary>
    private static int EpochsOf(RunConfig config) => config.Spec.Training.Epochs;

    private static AttackSummary SummarizeAttack(RunAttackFacts attack, VoteFile votes, int[] clean, int[] triggered,
        ExampleCertificate[] cleanCerts, int[] cleanLabels, ExampleCertificate[] trigCerts, int[] trigLabels)
    {
        double Fraction(int hits, int of) => of == 0 ? 0 : (double)hits / of;
        int m = attack.PoisonedExamples;
        int asrUndefended = 0, undefendedCorrect = 0;
        if (votes.Undefended is { } u)
        {
            foreach (int i in triggered) if (VoteFile.ArgMax(u.Row(i)) == attack.Target) asrUndefended++;
            foreach (int i in clean) if (VoteFile.ArgMax(u.Row(i)) == votes.Labels[i]) undefendedCorrect++;
        }
        long[] largest = cleanCerts.Select((c, i) => c.IsAbstain || c.Prediction != cleanLabels[i] ? -1 : c.Modified).Order().ToArray();
        return new AttackSummary(attack.Kind, attack.Target, attack.LabelMode, m, attack.TriggerL2Norm, triggered.Length,
            AttackSuccessRateSmoothed: Fraction(trigCerts.Count(c => c.Prediction == attack.Target), triggered.Length),
            AttackSuccessRateUndefended: Fraction(asrUndefended, triggered.Length),
            CleanAccuracyUndefended: Fraction(undefendedCorrect, clean.Length),
            TriggeredAccuracySmoothed: Fraction(trigCerts.Where((c, i) => !c.IsAbstain && c.Prediction == trigLabels[i]).Count(), triggered.Length),
            TriggeredCertifiedFraction: Fraction(trigCerts.Where((c, i) => !c.IsAbstain && c.Prediction == trigLabels[i] && c.Modified >= m).Count(), triggered.Length),
            CleanCertifiedAgainstAttack: Fraction(cleanCerts.Where((c, i) => !c.IsAbstain && c.Prediction == cleanLabels[i] && c.Modified >= m).Count(), clean.Length),
            MedianLargestCertifiedPoisonCount: largest.Length == 0 ? -1 : largest[(largest.Length - 1) / 2],
            Coverage: $"{attack.LabelMode}-label attack on {m} training examples: features and labels alike are inside the certificate, so the " +
                      $"prediction of every input whose certificate is at least {m} modified examples is the one the clean training set gives");
    }

    /// <summary>The guarantee in words, for summary.json and the console.</summary>
    public static string Guarantee(RunConfig config, int cleanInputs, int triggeredInputs)
    {
        if (config.Defense == RunConfig.DpaDefense)
            return Inv($"Deterministic (no alpha): the plurality vote of the k = {config.Partitions} partition models (ties to the lowest class) gives the reported prediction for every ") +
                   "change of the training set by at most the certified number of examples: rho insertions or deletions or relabellings (any mix; a row's partition is a hash of its features, " +
                   "so each touches one partition), or floor(rho/2) modified examples (features and label replaced: at most two partitions each). rho = floor((n_A - max_{c != A}(n_c + [c < A])) / 2).";
        string scope = config.Simultaneous
            ? Inv($"Simultaneously: with probability at least 1 - alpha = {1 - config.Alpha:R} over the bags, jointly for all T = {cleanInputs} clean test inputs (each at alpha/T = {Certifier.InputAlpha(config.Alpha, cleanInputs, true):G6})")
            : Inv($"With probability at least 1 - alpha = {1 - config.Alpha:R} for each input (over the bags)");
        string text = scope + Inv($", the majority vote of N = {config.Models} models trained on bags of k = {config.BagSize} rows drawn with replacement from the n = {config.Data?.TrainRows} training rows ") +
               "gives the reported prediction for every change of the training set by at most the certified number of examples, features and labels alike: inserted, deleted, " +
               "or modified (a relabelled example counts as modified); 'any' covers every mix of that many (Jia, Cao and Gong 2021, Clopper-Pearson bounds with Bonferroni over classes).";
        if (config.Simultaneous && triggeredInputs > 0)
            text += Inv($" The T = {triggeredInputs} triggered inputs are a second guarantee, jointly over their own rows (each at alpha/T = {Certifier.InputAlpha(config.Alpha, triggeredInputs, true):G6}).");
        return text;
    }

    private static LinePlot Plot(RunConfig config, ExampleCertificate[] clean, int[] cleanLabels, ExampleCertificate[] triggered, int[] trigLabels)
    {
        long mEnd = Math.Max(1, clean.Concat(triggered).Select(c => c.Modified).DefaultIfEmpty(0).Max() + 1);
        var plot = PoisonReport.Plot(config.Data?.Dataset, Describe(config), "modified training examples m (features and labels)", mEnd);
        plot.Series.Add(new PlotSeries("clean test inputs", Curve(clean, cleanLabels, mEnd), LinePlot.Palette[0]));
        if (triggered.Length > 0) plot.Series.Add(new PlotSeries("triggered inputs", Curve(triggered, trigLabels, mEnd), LinePlot.Palette[3]));
        return plot;
    }

    /// <summary>Certified accuracy against m modified examples at the plot's m (<see cref="PlotCounts"/>).</summary>
    private static List<(double X, double Y)> Curve(ExampleCertificate[] certs, int[] labels, long mEnd) =>
        PlotCounts(mEnd).Select(m => ((double)m, CertifiedAccuracyAt(certs, labels, c => c.Modified, m))).ToList();

    /// <summary>The m a plot samples on [0, mEnd]: every integer, or 401 evenly spaced ones when there are more.</summary>
    public static long[] PlotCounts(long mEnd)
    {
        int points = (int)Math.Min(mEnd + 1, 401);
        return Enumerable.Range(0, points).Select(k => points == mEnd + 1 ? k : (long)Math.Round((double)k * mEnd / (points - 1))).ToArray();
    }

    /// <summary>"dpa k=100" or "bagging k=100 N=1000".</summary>
    public static string Describe(RunConfig config) => config.Defense == RunConfig.DpaDefense
        ? Inv($"dpa k={config.Partitions}")
        : Inv($"bagging k={config.BagSize} N={config.Models}");

    private static string FormatText(RunConfig config, RunSummary s, DefenseSummary d)
    {
        var o = new SummaryTable();
        void Line(string label, string value) => o.Line(label, value);
        string Pct(double x) => SummaryTable.Percent(x);
        o.Text(config.Defense == RunConfig.DpaDefense
            ? Inv($"NativeCert certificates: {s.Dataset}, dpa, k = {d.Partitions} partitions (one model each), {d.Epochs} epochs, deterministic (no alpha)")
            : Inv($"NativeCert certificates: {s.Dataset}, bagging, N = {s.Models} models on bags of k = {d.BagSize} of n = {d.TrainRows} rows, {d.Epochs} epochs, alpha = {s.Alpha:R}{(s.Simultaneous ? Inv($" simultaneous (alpha/T = {s.AlphaPerInput:G6} per input)") : " per input")}"));
        Line("test inputs", Inv($"{s.TestInputs}"));
        Line("clean accuracy (aggregate)", Pct(s.MajorityVoteAccuracy));
        Line("base-model accuracy (mean over models)", Pct(d.BaseModelAccuracy));
        Line("abstain rate", Pct(s.AbstainRate));
        Line("median certificate, modified examples", Inv($"{d.MedianCertifiedModified}"));
        Line("median certificate, insertions", Inv($"{d.MedianCertifiedInserted}"));
        Line("median certificate, deletions", Inv($"{d.MedianCertifiedDeleted}"));
        Line("median certificate, relabelled examples", Inv($"{d.MedianCertifiedRelabelled}"));
        void Table(string title, ExampleAccuracy[] curve)
        {
            var shown = curve.Where(p => p.Examples <= 1000).ToArray();
            o.Counts(title, shown.Select(p => p.Examples));
            o.Accuracies("", shown.Select(p => p.CertifiedAccuracy));
        }
        Table("certified accuracy vs modified examples m", d.CertifiedAccuracyModified);
        Table("certified accuracy vs inserted examples m", d.CertifiedAccuracyInserted);
        if (s.Attack is { } a)
        {
            o.Text(Inv($"attack: {a.Kind}, target label {a.Target}, {a.LabelMode}-label, {a.PoisonedExamples} poisoned training examples, trigger l2 norm t = {a.TriggerL2Norm:0.######}"));
            Line("attack success rate, aggregate", Pct(a.AttackSuccessRateSmoothed) + Inv($" of {a.TriggeredInputs} triggered inputs"));
            Line("attack success rate, undefended (one model)", Pct(a.AttackSuccessRateUndefended));
            Line("clean accuracy, undefended (one model)", Pct(a.CleanAccuracyUndefended));
            Line("triggered inputs correct, aggregate", Pct(a.TriggeredAccuracySmoothed));
            Line("triggered inputs correct and certified", Pct(a.TriggeredCertifiedFraction) + Inv($" (certificate >= {a.PoisonedExamples} modified examples)"));
            Line("clean inputs certified against this attack", Pct(a.CleanCertifiedAgainstAttack));
            o.Text("coverage: " + a.Coverage);
        }
        o.Text("guarantee: " + s.Guarantee);
        return o.ToString();
    }

    private static int[] Rows(VoteFile votes, InputKind kind) => Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == kind).ToArray();

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeCert.Certification;
using NativeCert.Engine;
using NativeCert.IO;
using NativeCert.Plotting;

namespace NativeCert.Runs;

/// <summary>Certified accuracy at one radius (input units).</summary>
public sealed record RadiusAccuracy(double Radius, double CertifiedAccuracy);

/// <summary>Certified accuracy against m poisoned training examples carrying a trigger of ℓ2 norm t (and the test input too).</summary>
public sealed record PoisonCurve(double TriggerNorm, long[] PoisonedExamples, double[] CertifiedAccuracy);

/// <summary>What the attack achieved and what the certificates say about it.</summary>
/// <param name="Kind">Attack kind: patch, blend or mask.</param>
/// <param name="Target">Target label (after the data's class selection relabels it).</param>
/// <param name="LabelMode">dirty or clean.</param>
/// <param name="PoisonedExamples">Training examples carrying the trigger (M).</param>
/// <param name="TriggerL2Norm">Largest actual trigger ℓ2 norm over poisoned examples and triggered inputs (t), input units.</param>
/// <param name="TriggeredInputs">Test inputs of non-target classes with the trigger added.</param>
/// <param name="AttackSuccessRateSmoothed">Triggered (non-target-class) inputs the smoothed classifier assigns to the target.</param>
/// <param name="AttackSuccessRateUndefended">Same for one model trained without noise (σ = 0) on the same poisoned data.</param>
/// <param name="CleanAccuracyUndefended">Accuracy of that undefended model on the clean test inputs.</param>
/// <param name="TriggeredAccuracySmoothed">Triggered inputs still given their true label by the smoothed classifier.</param>
/// <param name="TriggeredCertifiedFraction">
/// Triggered inputs given their true label with R above the exact joint norm √(Σᵢ‖δᵢ‖² + ‖δₓ‖²) of the M poisoned
/// rows and that input's trigger: the prediction is proven to be the one on clean training features and the clean input.
/// </param>
/// <param name="CleanCertifiedAgainstAttack">Clean test inputs predicted correctly with R &gt; t·√(M+1).</param>
/// <param name="MedianLargestCertifiedPoisonCount">Median over clean test inputs of the largest certified number of poisoned examples at this trigger norm (−1: none).</param>
/// <param name="Coverage">What of this attack the certificate covers, in words.</param>
public sealed record AttackSummary(
    string Kind, int Target, string LabelMode, int PoisonedExamples, double TriggerL2Norm, int TriggeredInputs,
    double AttackSuccessRateSmoothed, double AttackSuccessRateUndefended, double CleanAccuracyUndefended,
    double TriggeredAccuracySmoothed, double TriggeredCertifiedFraction, double CleanCertifiedAgainstAttack,
    long MedianLargestCertifiedPoisonCount, string Coverage);

/// <summary>summary.json: the headline numbers of a run, all derived from config.json and votes.bin.</summary>
/// <remarks>
/// Accuracy three ways, over the clean test inputs: MajorityVoteAccuracy, the ensemble's plain majority vote (all
/// models, no certificate, lowest class on ties) is the true label; AbstainRate, the certifier declines to certify any
/// class; CertifiedAccuracyAtZeroRadius, certified and right (abstentions count as wrong), which is the radius-0 point
/// of CertifiedAccuracy.
/// </remarks>
/// <remarks>
/// Simultaneous: whether Alpha bounds all certificates of a set jointly (clean and triggered inputs are separate sets).
/// AlphaPerInput: α each clean input was certified at (α, or α/T over the T clean inputs when simultaneous);
/// AlphaPerTriggeredInput: the same for the triggered inputs over their own T.
/// </remarks>
public sealed record RunSummary(
    bool Complete, string ConfigHash, string Dataset, string Method, double Sigma, double Alpha, bool Simultaneous,
    double AlphaPerInput, double AlphaPerTriggeredInput, int Models, int SelectionModels,
    int ModelsDone, int TestInputs, double MajorityVoteAccuracy, double AbstainRate, double CertifiedAccuracyAtZeroRadius, double MedianRadiusCorrect,
    RadiusAccuracy[] CertifiedAccuracy, PoisonCurve[] PoisonCurves, AttackSummary? Attack, string Guarantee,
    string GuaranteeType = RunSummary.L2RadiusGuarantee, NativeCert.Defenses.DefenseSummary? Defense = null)
{
    /// <summary>Guarantee types: an ℓ2 radius over features (smoothing), a count of training examples changed in any way (DPA, bagging).</summary>
    public const string L2RadiusGuarantee = "l2-radius", TrainingExamplesGuarantee = "training-examples";
}

/// <summary>
/// The report of a run, computed from <c>config.json</c> and <c>votes.bin</c> alone and written as
/// votes.tsv, certificates.tsv (clean test inputs), certificates-triggered.tsv (attack runs), the two plots,
/// summary.txt, and summary.json last. Everything is a pure function of those two files, so
/// <c>nativecert report</c> regenerates byte-identical files.
/// </summary>
internal sealed class RunReport
{
    public RunSummary Summary { get; }
    /// <summary>The summary table printed on the console (and saved as summary.txt).</summary>
    public string Text { get; }

    private RunReport(RunSummary summary, string text)
    {
        Summary = summary;
        Text = text;
    }

    public const string TriggeredCertificatesFile = "certificates-triggered.tsv";

    /// <summary>summary.json's form: snake_case, indented.</summary>
    internal static readonly JsonSerializerOptions SummaryJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Regenerates the report of the complete run in <paramref name="root"/> from its files. A shard or an unfinished
    /// run is a <see cref="RunIncompleteException"/>; a config.json or votes.bin that does not verify, a
    /// <see cref="UserInputException"/> naming the file (see <see cref="RunConfig.Read"/>).
    /// </summary>
    public static RunReport Regenerate(string root)
    {
        var dir = RunDirectory.OpenExisting(root);
        using IDisposable runLock = dir.Lock();
        var (config, votes) = ReadComplete(dir);
        dir.MarkIncomplete();
        return Write(dir, config, votes);
    }


    /// <summary>
    /// config.json and votes.bin of a complete run (all models, not a shard) that verify and belong together; otherwise
    /// a <see cref="RunIncompleteException"/> or <see cref="UserInputException"/> naming the file. Used by report and compare.
    /// </summary>
    public static (RunConfig Config, VoteFile Votes) ReadComplete(RunDirectory dir)
    {
        string root = dir.Root;
        var config = RunConfig.Read(dir.ConfigPath);
        if (config.IsVersion1 && config.Attack is not null)
            throw new UserInputException($"{dir.ConfigPath}: an attack run of format {RunConfig.Version1Format}, whose config_hash does not cover the attack facts " +
                                         "the report reads; resume the run once (it rechecks them against the data, trains nothing new and rewrites it in the current format)");
        if (!File.Exists(dir.VotesPath)) throw new RunIncompleteException($"{root} has no votes.bin yet; resume the run to compute them", root, isShard: false);
        var votes = VoteFile.Read(dir.VotesPath);
        config.CheckVotes(votes, dir.VotesPath, dir.ConfigPath);
        var range = config.Execution.Shard ?? new ModelRange(0, config.TotalModels);
        if (votes.ModelStart != range.Start)
            throw new UserInputException($"{dir.VotesPath} starts at model {votes.ModelStart}, but {dir.ConfigPath} says the run starts at {range.Start}");
        if (votes.ModelsDone > range.End)
            throw new UserInputException($"{dir.ConfigPath} says the run ends at model {range.End} (smoothing.models, smoothing.n0) but {dir.VotesPath} holds models up to {votes.ModelsDone}");
        if (config.Execution.Shard is { } shard)
            throw new RunIncompleteException(votes.ModelsDone < shard.End
                ? $"{root} is a shard (models [{shard.Start}, {shard.End}) of {config.TotalModels}), unfinished at model {votes.ModelsDone}: resume it, then merge it with the other shards"
                : $"{root} is a shard (models [{shard.Start}, {shard.End}) of {config.TotalModels}), complete: merge it with the other shards to report the run",
                root, isShard: votes.ModelsDone == shard.End);
        if (votes.ModelsDone < config.TotalModels)
            throw new RunIncompleteException($"{root} is incomplete ({votes.ModelsDone} of {config.TotalModels} models); resume the run to finish it", root, isShard: false);
        return (config, votes);
    }

    /// <summary>A report made elsewhere (the DPA and bagging reports).</summary>
    internal static RunReport Create(RunSummary summary, string text) => new(summary, text);

    /// <summary>Certifies every input and writes all report files, summary.json last.</summary>
    public static RunReport Write(RunDirectory dir, RunConfig config, VoteFile votes)
    {
        if (config.Defense != RunConfig.SmoothingDefense) return NativeCert.Defenses.DefenseReport.Write(dir, config, votes);
        Certificate[] certificates = Certify(config, votes);
        int[] clean = Indices(votes, InputKind.Clean), triggered = Indices(votes, InputKind.Triggered);
        Certificate[] cleanCerts = Pick(certificates, clean), trigCerts = Pick(certificates, triggered);
        int[] cleanLabels = Pick(votes.Labels, clean), trigLabels = Pick(votes.Labels, triggered);

        RunAttackFacts? attack = config.Attack;
        double tableNorm = attack?.TriggerL2Norm ?? (config.TriggerNorms.Length > 0 ? config.TriggerNorms[0] : 0);
        var radii = config.Radii.Length > 0 ? config.Radii : [0.0, 0.25, 0.5, 0.75, 1.0];

        var summary = new RunSummary(
            Complete: true,
            ConfigHash: config.ConfigHash,
            Dataset: config.Data.Dataset,
            Method: config.Method,
            Sigma: config.Sigma,
            Alpha: config.Alpha,
            Simultaneous: config.Simultaneous,
            AlphaPerInput: Certifier.InputAlpha(config.Alpha, clean.Length, config.Simultaneous),
            AlphaPerTriggeredInput: Certifier.InputAlpha(config.Alpha, triggered.Length, config.Simultaneous),
            Models: config.Models,
            SelectionModels: config.SelectionModels,
            ModelsDone: votes.ModelsDone,
            TestInputs: clean.Length,
            MajorityVoteAccuracy: MajorityVoteAccuracy(votes, clean),
            AbstainRate: clean.Length == 0 ? 0 : (double)cleanCerts.Count(c => c.IsAbstain) / clean.Length,
            CertifiedAccuracyAtZeroRadius: CertifiedAccuracy.Clean(cleanCerts, cleanLabels),
            MedianRadiusCorrect: Median(cleanCerts.Where((c, i) => !c.IsAbstain && c.Prediction == cleanLabels[i]).Select(c => c.Radius).ToArray()),
            CertifiedAccuracy: radii.Select(r => new RadiusAccuracy(r, CertifiedAccuracy.AtRadius(cleanCerts, cleanLabels, r))).ToArray(),
            PoisonCurves: PoisonTable(cleanCerts, cleanLabels, PlotNorms(config)),
            Attack: attack is null ? null : SummarizeAttack(attack, votes, clean, triggered, cleanCerts, cleanLabels, trigCerts, trigLabels),
            Guarantee: Guarantee(config, clean.Length, triggered.Length));

        votes.WriteTsv(dir.VotesTsvPath);
        CertificateTsv.Write(dir.CertificatesPath, cleanCerts, cleanLabels, tableNorm);
        string triggeredPath = Path.Combine(dir.Root, TriggeredCertificatesFile);
        if (triggered.Length > 0) CertificateTsv.Write(triggeredPath, trigCerts, trigLabels, tableNorm);
        AtomicFile.WriteAllBytes(dir.RadiusPlotPath, RadiusPlot(config, cleanCerts, cleanLabels, trigCerts, trigLabels).Render().ToPng());
        AtomicFile.WriteAllBytes(dir.PoisonPlotPath, PoisonPlot(config, PoisonCurves(cleanCerts, cleanLabels, PlotNorms(config))).Render().ToPng());
        string text = FormatText(config, summary);
        AtomicFile.WriteAllText(dir.SummaryTextPath, text);
        // Last: its presence marks the run complete.
        AtomicFile.WriteAllText(dir.SummaryPath, JsonSerializer.Serialize(summary, SummaryJson) + "\n");
        return new RunReport(summary, text);
    }

    /// <summary>
    /// Certificates of every input from the votes, by the run's method, σ and α. With <see cref="RunConfig.Simultaneous"/>
    /// the clean and the triggered inputs are certified as two separate sets, each jointly over its own T rows (α/T per input):
    /// the clean test set's guarantee is then the same whether or not the run carries an attack.
    /// </summary>
    public static Certificate[] Certify(RunConfig config, VoteFile votes)
    {
        var method = config.Method == "cohen" ? CertificationMethod.Cohen : CertificationMethod.SimuEM;
        if (!config.Simultaneous)
            return Certifier.Certify(method, votes.Estimation, votes.Selection, config.Sigma, config.Alpha);
        var certificates = new Certificate[votes.Inputs];
        foreach (InputKind kind in new[] { InputKind.Clean, InputKind.Triggered })
        {
            int[] rows = Indices(votes, kind);
            if (rows.Length == 0) continue;
            Certificate[] set = Certifier.Certify(method, Rows(votes.Estimation, rows), Rows(votes.Selection, rows), config.Sigma, config.Alpha,
                                                  simultaneous: true);
            for (int k = 0; k < rows.Length; k++) certificates[rows[k]] = set[k];
        }
        return certificates;
    }

    /// <summary>Fraction of <paramref name="rows"/> whose plain majority vote over every model (selection and estimation, lowest class on ties) is the label.</summary>
    private static double MajorityVoteAccuracy(VoteFile votes, int[] rows)
    {
        if (rows.Length == 0) return 0;
        var all = new uint[votes.Classes];
        int right = 0;
        foreach (int i in rows)
        {
            votes.Estimation.Row(i).CopyTo(all);
            ReadOnlySpan<uint> selection = votes.Selection.Row(i);
            for (int k = 0; k < all.Length; k++) all[k] += selection[k];
            if (VoteFile.ArgMax(all) == votes.Labels[i]) right++;
        }
        return (double)right / rows.Length;
    }

    /// <summary>The count rows <paramref name="rows"/> of <paramref name="counts"/>, in that order.</summary>
    private static VoteCounts Rows(VoteCounts counts, int[] rows)
    {
        var picked = new VoteCounts(rows.Length, counts.Classes);
        for (int k = 0; k < rows.Length; k++) counts.Row(rows[k]).CopyTo(picked.Row(k));
        return picked;
    }

    private static AttackSummary SummarizeAttack(RunAttackFacts attack, VoteFile votes, int[] clean, int[] triggered,
        Certificate[] cleanCerts, int[] cleanLabels, Certificate[] trigCerts, int[] trigLabels)
    {
        double Fraction(int hits, int of) => of == 0 ? 0 : (double)hits / of;
        double t = attack.TriggerL2Norm;
        int m = attack.PoisonedExamples;
        int asrSmoothed = trigCerts.Count(c => c.Prediction == attack.Target);
        int trigCorrect = trigCerts.Where((c, i) => !c.IsAbstain && c.Prediction == trigLabels[i]).Count();
        // Exact joint norm per triggered input when the per-row norms are known; else t·√(M+1) with the largest t.
        bool exact = attack.PoisonedRowNorms.Length == m && attack.TriggeredRowNorms.Length == triggered.Length;
        bool Covers(double radius, int k) => exact
            ? PoisoningUnits.IsCertified(radius, attack.PoisonedRowNorms, attack.TriggeredRowNorms[k])
            : PoisoningUnits.IsCertified(radius, t, m);
        int trigCertified = trigCerts.Where((c, k) => !c.IsAbstain && c.Prediction == trigLabels[k] && Covers(c.Radius, k)).Count();
        int cleanCertified = cleanCerts.Where((c, i) => !c.IsAbstain && c.Prediction == cleanLabels[i] && PoisoningUnits.IsCertified(c.Radius, t, m)).Count();
        int asrUndefended = 0, undefendedCorrect = 0;
        if (votes.Undefended is { } u)
        {
            foreach (int i in triggered) if (VoteFile.ArgMax(u.Row(i)) == attack.Target) asrUndefended++;
            foreach (int i in clean) if (VoteFile.ArgMax(u.Row(i)) == votes.Labels[i]) undefendedCorrect++;
        }
        long[] largest = cleanCerts.Select((c, i) => c.IsAbstain || c.Prediction != cleanLabels[i] ? -1 : PoisoningUnits.LargestCertifiedPoisonCount(c.Radius, t)).ToArray();
        Array.Sort(largest);
        string coverage = attack.LabelMode == "clean"
            ? "clean-label attack: only features change, so the whole attack is inside the certificate when t*sqrt(M+1) < R"
            : "dirty-label attack: the trigger features are inside the certificate when t*sqrt(M+1) < R, but the label flips of the poisoned examples are NOT covered";
        return new AttackSummary(attack.Kind, attack.Target, attack.LabelMode, m, t, triggered.Length,
            AttackSuccessRateSmoothed: Fraction(asrSmoothed, triggered.Length),
            AttackSuccessRateUndefended: Fraction(asrUndefended, triggered.Length),
            CleanAccuracyUndefended: Fraction(undefendedCorrect, clean.Length),
            TriggeredAccuracySmoothed: Fraction(trigCorrect, triggered.Length),
            TriggeredCertifiedFraction: Fraction(trigCertified, triggered.Length),
            CleanCertifiedAgainstAttack: Fraction(cleanCertified, clean.Length),
            MedianLargestCertifiedPoisonCount: largest.Length == 0 ? -1 : largest[(largest.Length - 1) / 2],
            Coverage: coverage);
    }

    /// <summary>The certificate's scope in words, for summary.json and the console.</summary>
    /// <param name="config">The run.</param>
    /// <param name="cleanInputs">T of the clean test set.</param>
    /// <param name="triggeredInputs">T of the triggered set (0 without an attack).</param>
    public static string Guarantee(RunConfig config, int cleanInputs, int triggeredInputs)
    {
        string scope = config.Simultaneous
            ? Inv($"Simultaneously: with probability at least 1 - alpha = {1 - config.Alpha:R} over the models' noise, jointly for all T = {cleanInputs} clean test inputs (each certified at alpha/T = {Certifier.InputAlpha(config.Alpha, cleanInputs, true):G6})")
            : Inv($"With probability at least 1 - alpha = {1 - config.Alpha:R} for each input (over the models' noise)");
        string text = scope +
            Inv($", the smoothed classifier (sigma = {config.Sigma:R}, {config.Method}) gives the reported prediction for every change of the training set's features and of the ") +
            "test input whose total l2 norm (input units) is below the certified radius R. A trigger of l2 norm t on m training examples and on the " +
            "test input is covered when t*sqrt(m+1) < R. Labels are not covered: label flips (dirty-label poisoning) are outside the certificate.";
        if (config.Simultaneous && triggeredInputs > 0)
            text += Inv($" The T = {triggeredInputs} triggered inputs are certified separately, jointly over their own rows (each at alpha/T = {Certifier.InputAlpha(config.Alpha, triggeredInputs, true):G6}), with the same probability 1 - alpha: clean and triggered sets are two guarantees, each simultaneous over its own rows.");
        return text;
    }

    private static double[] PlotNorms(RunConfig config)
    {
        var norms = config.TriggerNorms.ToList();
        if (config.Attack is { } a && a.TriggerL2Norm > 0 && !norms.Contains(a.TriggerL2Norm)) norms.Add(a.TriggerL2Norm);
        return norms.Where(t => t > 0).Distinct().Order().ToArray();
    }

    /// <summary>The summary's poison table: certified accuracy at m = 0, 1, 2, 5, 10, 20, 50, … up to the last m any input reaches.</summary>
    private static PoisonCurve[] PoisonTable(Certificate[] certs, int[] labels, double[] norms)
    {
        long mEnd = 0;
        foreach (double t in norms)
            for (int i = 0; i < certs.Length; i++)
                if (!certs[i].IsAbstain && certs[i].Prediction == labels[i])
                    mEnd = Math.Max(mEnd, Math.Min(1_000_000_000, PoisoningUnits.LargestCertifiedPoisonCount(certs[i].Radius, t)));
        var ms = new List<long> { 0 };
        for (long decade = 1; decade <= mEnd; decade *= 10)
            foreach (long step in new long[] { 1, 2, 5 })
                if (step * decade <= mEnd) ms.Add(step * decade);
        if (mEnd > 0 && ms[^1] != mEnd) ms.Add(mEnd);
        long[] points = ms.ToArray();
        return norms.Select(t => new PoisonCurve(t, points, CertifiedAccuracy.PoisonCurve(certs, labels, t, points))).ToArray();
    }

    /// <summary>Curves at every m from 0 to the largest certified count of any norm (capped at 10⁶; sampled to at most 401 points).</summary>
    internal static PoisonCurve[] PoisonCurves(Certificate[] certs, int[] labels, double[] norms)
    {
        long mEnd = 1;
        foreach (double t in norms)
            for (int i = 0; i < certs.Length; i++)
                if (!certs[i].IsAbstain && certs[i].Prediction == labels[i])
                    // Cap before adding 1: the count is long.MaxValue when every m is covered.
                    mEnd = Math.Max(mEnd, Math.Min(999_999, PoisoningUnits.LargestCertifiedPoisonCount(certs[i].Radius, t)) + 1);
        int points = (int)Math.Min(mEnd + 1, 401);
        long[] ms = Enumerable.Range(0, points).Select(k => points == mEnd + 1 ? k : (long)Math.Round((double)k * mEnd / (points - 1))).ToArray();
        return norms.Select(t => new PoisonCurve(t, ms, CertifiedAccuracy.PoisonCurve(certs, labels, t, ms))).ToArray();
    }

    private static LinePlot RadiusPlot(RunConfig config, Certificate[] clean, int[] cleanLabels, Certificate[] triggered, int[] trigLabels)
    {
        double rMax = Math.Max(clean.Concat(triggered).Where(c => !c.IsAbstain).Select(c => c.Radius).DefaultIfEmpty(0).Max(), config.Sigma / 4);
        rMax = NiceCeiling(rMax * 1.05);
        var plot = new LinePlot
        {
            Title = Inv($"Certified accuracy ({config.Data.Dataset}, sigma={config.Sigma:R}, N={config.Models}, {config.Method})"),
            XLabel = "L2 radius R (input units)",
            YLabel = "certified accuracy",
            XMin = 0,
            XMax = rMax,
        };
        plot.Series.Add(new PlotSeries("clean test inputs", StepCurve(clean, cleanLabels, rMax), LinePlot.Palette[0]));
        if (triggered.Length > 0) plot.Series.Add(new PlotSeries("triggered inputs", StepCurve(triggered, trigLabels, rMax), LinePlot.Palette[3]));
        return plot;
    }

    /// <summary>Certified accuracy as a step function of r on [0, rMax]: exact corners at every certified radius.</summary>
    private static List<(double X, double Y)> StepCurve(Certificate[] certs, int[] labels, double rMax)
    {
        var radii = certs.Where((c, i) => !c.IsAbstain && c.Prediction == labels[i]).Select(c => c.Radius).Order().ToArray();
        var points = new List<(double, double)>();
        double n = Math.Max(1, certs.Length);
        points.Add((0, radii.Length / n));
        for (int i = 0; i < radii.Length; i++)
        {
            if (i + 1 < radii.Length && radii[i + 1] == radii[i]) continue;
            // At r = radii[i] the input still counts (R ≥ r); just after, it does not.
            points.Add((radii[i], (radii.Length - (i - CountEqualBefore(radii, i))) / n));
            points.Add((radii[i], (radii.Length - i - 1) / n));
        }
        points.Add((rMax, points[^1].Item2));
        return points;
    }

    private static int CountEqualBefore(double[] sorted, int i)
    {
        int k = 0;
        while (i - k - 1 >= 0 && sorted[i - k - 1] == sorted[i]) k++;
        return k;
    }

    private static LinePlot PoisonPlot(RunConfig config, PoisonCurve[] curves)
    {
        long mEnd = curves.Length == 0 ? 1 : Math.Max(1, curves[0].PoisonedExamples[^1]);
        var plot = PoisonReport.Plot(config.Data.Dataset, Inv($"sigma={config.Sigma:R}"), "poisoned training examples m (trigger also on test input)", mEnd);
        for (int k = 0; k < curves.Length; k++)
        {
            var c = curves[k];
            bool actual = config.Attack is { } a && a.TriggerL2Norm == c.TriggerNorm;
            string name = Inv($"t = {c.TriggerNorm:0.####}") + (actual ? " (attack)" : "");
            var points = c.PoisonedExamples.Select((m, i) => ((double)m, c.CertifiedAccuracy[i])).ToList();
            plot.Series.Add(new PlotSeries(name, points, LinePlot.Palette[k % LinePlot.Palette.Length]));
        }
        return plot;
    }

    private static string FormatText(RunConfig config, RunSummary s)
    {
        var o = new SummaryTable();
        void Line(string label, string value) => o.Line(label, value);
        string Pct(double x) => SummaryTable.Percent(x);
        o.Text(Inv($"NativeCert certificates: {s.Dataset}, {s.Method}, sigma = {s.Sigma:R}, N = {s.Models}{(s.SelectionModels > 0 ? Inv($" (+ n0 = {s.SelectionModels})") : "")}, alpha = {s.Alpha:R}{(s.Simultaneous ? Inv($" simultaneous (alpha/T = {s.AlphaPerInput:G6} per input)") : " per input")}"));
        Line("test inputs", Inv($"{s.TestInputs}"));
        Line("majority-vote accuracy (no certificate)", Pct(s.MajorityVoteAccuracy));
        Line("abstain rate (no class certified)", Pct(s.AbstainRate));
        Line("certified accuracy at R = 0 (abstain = wrong)", Pct(s.CertifiedAccuracyAtZeroRadius));
        Line("median certified radius (correct inputs)", Inv($"{s.MedianRadiusCorrect:0.####}"));
        foreach (var r in s.CertifiedAccuracy.Where(r => r.Radius != 0)) Line(Inv($"certified accuracy at R = {r.Radius:0.###}"), Pct(r.CertifiedAccuracy));
        if (s.PoisonCurves.Length > 0)
        {
            // Certified accuracy against m poisoned examples with a trigger of norm t (on the test input too).
            long[] ms = s.PoisonCurves[0].PoisonedExamples.Where(m => m <= 100).ToArray();
            o.Counts("certified accuracy vs poisoned examples m", ms);
            foreach (var c in s.PoisonCurves)
                o.Accuracies(Inv($"  trigger norm t = {c.TriggerNorm:0.####}"), c.CertifiedAccuracy.Take(ms.Length));
        }
        if (s.Attack is { } a)
        {
            o.Text(Inv($"attack: {a.Kind}, target label {a.Target}, {a.LabelMode}-label, {a.PoisonedExamples} poisoned training examples, trigger l2 norm t = {a.TriggerL2Norm:0.######} (largest actual)"));
            Line("attack success rate, smoothed", Pct(a.AttackSuccessRateSmoothed) + Inv($" of {a.TriggeredInputs} triggered inputs"));
            Line("attack success rate, undefended (sigma = 0)", Pct(a.AttackSuccessRateUndefended));
            Line("clean accuracy, undefended (sigma = 0)", Pct(a.CleanAccuracyUndefended));
            Line("triggered inputs correct, smoothed", Pct(a.TriggeredAccuracySmoothed));
            Line("triggered inputs correct and certified", Pct(a.TriggeredCertifiedFraction) + " (R > exact joint trigger norm)");
            Line("clean inputs certified against this attack", Pct(a.CleanCertifiedAgainstAttack) + " (R > t*sqrt(M+1))");
            Line("median largest certified poison count", Inv($"{a.MedianLargestCertifiedPoisonCount} (at t = {a.TriggerL2Norm:0.####})"));
            o.Text("coverage: " + a.Coverage);
        }
        o.Text("guarantee: " + s.Guarantee);
        return o.ToString();
    }

    private static double Median(double[] values)
    {
        if (values.Length == 0) return 0;
        Array.Sort(values);
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
    }

    private static double NiceCeiling(double x)
    {
        if (x <= 0) return 1;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(x)));
        foreach (double m in new[] { 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10 }) if (m * mag >= x) return m * mag;
        return 10 * mag;
    }

    private static int[] Indices(VoteFile votes, InputKind kind) =>
        Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == kind).ToArray();

    private static T[] Pick<T>(T[] all, int[] rows) => rows.Select(i => all[i]).ToArray();

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

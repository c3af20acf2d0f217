using System.Globalization;
using System.Text;
using System.Text.Json;
using NativeCert.Certification;
using NativeCert.IO;
using NativeCert.Plotting;
using NativeCert.Runs;

namespace NativeCert.Defenses;

/// <summary>Certified accuracy against m poisoned training examples of one defense (one trigger norm for smoothing).</summary>
/// <param name="Label">e.g. "dpa k=100" or "smoothing sigma=0.5 N=1000, t=0.1".</param>
/// <param name="TriggerNorm">Smoothing: the trigger ℓ2 norm t of the curve (certified at m when t·√(m+1) &lt; R); null for DPA and bagging (certified when m ≤ the modified-examples certificate).</param>
/// <param name="MedianCertified">Median over clean inputs of the largest certified m (−1 for wrong or abstaining inputs).</param>
/// <param name="Points">Certified accuracy at the table's m.</param>
internal sealed record ComparedCurve(string Label, double? TriggerNorm, long MedianCertified, ExampleAccuracy[] Points);

/// <summary>What an attack run's triggered inputs show under its defense.</summary>
/// <param name="Kind">Attack kind: patch, blend or mask.</param>
/// <param name="LabelMode">dirty or clean.</param>
/// <param name="PoisonedExamples">Poisoned training examples M.</param>
/// <param name="TriggerL2Norm">Largest actual trigger ℓ2 norm, input units.</param>
/// <param name="TriggeredInputs">Triggered test inputs (non-target classes).</param>
/// <param name="TriggeredCertifiedAccuracy">Triggered inputs predicted correctly and certified against this attack (smoothing: R above the exact joint trigger norm; DPA/bagging: certificate ≥ M modified examples).</param>
/// <param name="AttackSuccessRate">Triggered inputs (non-target classes) the aggregate assigns to the target.</param>
/// <param name="AttackSuccessRateUndefended">The same for one model trained without the defense on the poisoned data.</param>
internal sealed record ComparedAttack(string Kind, string LabelMode, int PoisonedExamples, double TriggerL2Norm, int TriggeredInputs,
                                    double TriggeredCertifiedAccuracy, double AttackSuccessRate, double AttackSuccessRateUndefended);

/// <summary>One run of a comparison.</summary>
internal sealed record ComparedRun(string Directory, string Defense, string Label, string GuaranteeType, double CleanAccuracy, double BaseModelAccuracy,
                                 ComparedCurve[] Curves, ComparedAttack? Attack);

/// <summary>compare.json: runs on the same clean test inputs, certified accuracy against m poisoned training examples.</summary>
internal sealed record Comparison(string Dataset, int TestInputs, long[] PoisonedExamples, ComparedRun[] Runs);

/// <summary>
/// <c>nativecert compare</c>: several runs on the same data side by side, in one unit, the number m of poisoned
/// (modified) training examples: smoothing is certified at m for a trigger of ℓ2 norm t when t·√(m+1) &lt; R (features
/// only: label flips are outside it), DPA and bagging when m ≤ the modified-examples certificate (features and labels).
/// Computed from each run's config.json and votes.bin alone.
/// </summary>
internal static class RunComparison
{
    public const string TableFile = "compare.txt", JsonFile = "compare.json", PlotFile = "certified-accuracy-vs-poison.png";

    /// <summary>Compares the complete runs in <paramref name="runDirectories"/>; smoothing curves at <paramref name="triggerNorms"/> (else each run's own).</summary>
    public static Comparison Compare(IReadOnlyList<string> runDirectories, double[]? triggerNorms = null) => Build(runDirectories, triggerNorms).Comparison;

    /// <summary>The comparison and, for the plot, every curve's largest certified m of each clean input.</summary>
    private static (Comparison Comparison, List<(string Label, long[] Largest)> Curves) Build(IReadOnlyList<string> runDirectories, double[]? triggerNorms)
    {
        if (runDirectories.Count == 0) throw new UserInputException("compare: give one or more run directories");
        var loaded = new List<(string Dir, RunConfig Config, VoteFile Votes, int[] Clean)>();
        foreach (string path in runDirectories)
        {
            var dir = RunDirectory.OpenExisting(path);
            var (config, votes) = RunReport.ReadComplete(dir);
            loaded.Add((path, config, votes, Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == InputKind.Clean).ToArray()));
        }
        var first = loaded[0];
        int[] labels = first.Clean.Select(i => first.Votes.Labels[i]).ToArray();
        foreach (var run in loaded.Skip(1))
        {
            int[] other = run.Clean.Select(i => run.Votes.Labels[i]).ToArray();
            if (run.Config.Data?.Dataset != first.Config.Data?.Dataset || !other.AsSpan().SequenceEqual(labels))
                throw new UserInputException($"compare: {run.Dir} was run on other test data than {first.Dir} ({run.Config.Data?.Dataset}, {other.Length} test inputs vs {first.Config.Data?.Dataset}, {labels.Length})");
        }

        // Largest certified m of every clean input, per curve.
        var perRun = new List<(string Dir, RunConfig Config, double Clean, double Base, List<(string Label, double? T, long[] Largest)> Curves, ComparedAttack? Attack)>();
        foreach (var (dirPath, config, votes, clean) in loaded)
        {
            var curves = new List<(string, double?, long[])>();
            double cleanAccuracy;
            ComparedAttack? attack = null;
            int[] trig = Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == InputKind.Triggered).ToArray();
            int undefendedHits = 0;
            if (config.Attack is { } a && votes.Undefended is { } u)
                foreach (int i in trig) if (VoteFile.ArgMax(u.Row(i)) == a.Target) undefendedHits++;
            double Fraction(int hits, int of) => of == 0 ? 0 : (double)hits / of;
            string label = Label(config);
            if (config.Defense == RunConfig.SmoothingDefense)
            {
                Certificate[] certs = RunReport.Certify(config, votes);
                cleanAccuracy = Fraction(clean.Count(i => !certs[i].IsAbstain && certs[i].Prediction == votes.Labels[i]), clean.Length);
                double[] norms = triggerNorms ?? [.. config.TriggerNorms.Concat(config.Attack is { } at && at.TriggerL2Norm > 0 ? [at.TriggerL2Norm] : []).Distinct().Order()];
                foreach (double t in norms)
                    curves.Add((label + Inv($", t={t:0.####}"), t, clean.Select(i => certs[i].IsAbstain || certs[i].Prediction != votes.Labels[i] ? -1
                        : Math.Min(PoisoningUnits.LargestCertifiedPoisonCount(certs[i].Radius, t), 1_000_000_000)).ToArray()));
                if (config.Attack is { } att)
                {
                    bool exact = att.PoisonedRowNorms.Length == att.PoisonedExamples && att.TriggeredRowNorms.Length == trig.Length;
                    int certified = trig.Where((i, k) => !certs[i].IsAbstain && certs[i].Prediction == votes.Labels[i] && (exact
                        ? PoisoningUnits.IsCertified(certs[i].Radius, att.PoisonedRowNorms, att.TriggeredRowNorms[k])
                        : PoisoningUnits.IsCertified(certs[i].Radius, att.TriggerL2Norm, att.PoisonedExamples))).Count();
                    attack = new ComparedAttack(att.Kind, att.LabelMode, att.PoisonedExamples, att.TriggerL2Norm, trig.Length, Fraction(certified, trig.Length),
                        Fraction(trig.Count(i => certs[i].Prediction == att.Target), trig.Length), Fraction(undefendedHits, trig.Length));
                }
            }
            else
            {
                ExampleCertificate[] certs = DefenseReport.Certify(config, votes);
                cleanAccuracy = Fraction(clean.Count(i => !certs[i].IsAbstain && certs[i].Prediction == votes.Labels[i]), clean.Length);
                curves.Add((label, null, clean.Select(i => certs[i].IsAbstain || certs[i].Prediction != votes.Labels[i] ? -1 : certs[i].Modified).ToArray()));
                if (config.Attack is { } att)
                {
                    int certified = trig.Count(i => !certs[i].IsAbstain && certs[i].Prediction == votes.Labels[i] && certs[i].Modified >= att.PoisonedExamples);
                    attack = new ComparedAttack(att.Kind, att.LabelMode, att.PoisonedExamples, att.TriggerL2Norm, trig.Length, Fraction(certified, trig.Length),
                        Fraction(trig.Count(i => certs[i].Prediction == att.Target), trig.Length), Fraction(undefendedHits, trig.Length));
                }
            }
            perRun.Add((dirPath, config, cleanAccuracy, DefenseReport.BaseModelAccuracy(votes.Estimation, votes.Labels, clean), curves, attack));
        }

        long largest = perRun.SelectMany(r => r.Curves).SelectMany(c => c.Largest).DefaultIfEmpty(0).Max();
        long[] points = DefenseReport.TablePoints(Math.Max(0, Math.Min(largest, 1_000_000)));
        var runs = perRun.Select(r => new ComparedRun(r.Dir, r.Config.Defense, Label(r.Config),
            r.Config.Defense == RunConfig.SmoothingDefense ? RunSummary.L2RadiusGuarantee : RunSummary.TrainingExamplesGuarantee, r.Clean, r.Base,
            r.Curves.Select(c => new ComparedCurve(c.Label, c.T, Median(c.Largest), points.Select(m => new ExampleAccuracy(m, AtLeast(c.Largest, m))).ToArray())).ToArray(),
            r.Attack)).ToArray();
        return (new Comparison(first.Config.Data?.Dataset ?? "", labels.Length, points, runs),
                perRun.SelectMany(r => r.Curves.Select(c => (c.Label, c.Largest))).ToList());
    }

    /// <summary>Writes compare.txt, compare.json and the plot into <paramref name="outDirectory"/> (created; refused if it holds a comparison).</summary>
    public static string Write(string outDirectory, IReadOnlyList<string> runDirectories, double[]? triggerNorms = null)
    {
        var (comparison, curves) = Build(runDirectories, triggerNorms);
        if (File.Exists(Path.Combine(outDirectory, JsonFile))) throw new UserInputException($"{outDirectory}: already holds a comparison ({JsonFile}); give a new directory");
        Directory.CreateDirectory(outDirectory);
        string text = Format(comparison);
        AtomicFile.WriteAllBytes(Path.Combine(outDirectory, PlotFile), Plot(comparison, curves).Render().ToPng());
        AtomicFile.WriteAllText(Path.Combine(outDirectory, TableFile), text);
        AtomicFile.WriteAllText(Path.Combine(outDirectory, JsonFile), JsonSerializer.Serialize(comparison, RunReport.SummaryJson) + "\n");
        return text;
    }

    /// <summary>The run's defense in a few words: "smoothing sigma=0.5 N=1000", "dpa k=100", "bagging k=100 N=1000".</summary>
    public static string Label(RunConfig config) => config.Defense == RunConfig.SmoothingDefense
        ? Inv($"smoothing sigma={config.Sigma:R} N={config.Models}")
        : DefenseReport.Describe(config);

    private static double AtLeast(long[] largest, long m) => largest.Length == 0 ? 0 : (double)largest.Count(l => l >= m) / largest.Length;

    private static long Median(long[] values)
    {
        if (values.Length == 0) return -1;
        long[] sorted = values.Order().ToArray();
        return sorted[(sorted.Length - 1) / 2];
    }

    public static string Format(Comparison c)
    {
        var o = new StringBuilder();
        string Pct(double x) => Inv($"{100 * x:0.0}%");
        o.Append(Inv($"NativeCert comparison: {c.Dataset}, {c.TestInputs} clean test inputs; certified accuracy against m poisoned (modified) training examples\n"));
        o.Append("smoothing: certified at m when t*sqrt(m+1) < R for a trigger of l2 norm t on the m examples and the input (features only, label flips are not covered);\n");
        o.Append("dpa, bagging: certified when m <= the certificate in modified examples (features and labels)\n");
        long[] ms = c.PoisonedExamples.Where(m => m <= 1000).ToArray();
        const int LabelWidth = 44;
        o.Append("run".PadRight(LabelWidth)).Append("clean".PadLeft(7)).Append("base".PadLeft(7)).Append("median m".PadLeft(10));
        foreach (long m in ms) o.Append(Inv($"m={m}").PadLeft(8));
        o.Append('\n');
        foreach (var run in c.Runs)
            foreach (var curve in run.Curves)
            {
                o.Append(curve.Label.PadRight(LabelWidth)).Append(Pct(run.CleanAccuracy).PadLeft(7)).Append(Pct(run.BaseModelAccuracy).PadLeft(7))
                 .Append(Inv($"{curve.MedianCertified}").PadLeft(10));
                foreach (long m in ms) o.Append(Pct(curve.Points.First(p => p.Examples == m).CertifiedAccuracy).PadLeft(8));
                o.Append('\n');
            }
        if (c.Runs.Any(r => r.Attack is not null))
        {
            o.Append('\n').Append("attack runs".PadRight(LabelWidth)).Append("attack".PadLeft(26)).Append("triggered certified".PadLeft(21))
             .Append("attack success".PadLeft(16)).Append("undefended".PadLeft(12)).Append('\n');
            foreach (var run in c.Runs.Where(r => r.Attack is not null))
            {
                var a = run.Attack!;
                o.Append(run.Label.PadRight(LabelWidth)).Append(Inv($"{a.Kind} {a.LabelMode}-label M={a.PoisonedExamples}").PadLeft(26))
                 .Append(Pct(a.TriggeredCertifiedAccuracy).PadLeft(21)).Append(Pct(a.AttackSuccessRate).PadLeft(16))
                 .Append(Pct(a.AttackSuccessRateUndefended).PadLeft(12)).Append('\n');
            }
        }
        o.Append("clean: accuracy of the aggregate (abstain = wrong); base: mean accuracy of the single models; median m: over all clean inputs (-1: wrong or abstaining)\n");
        return o.ToString();
    }

    private static LinePlot Plot(Comparison c, List<(string Label, long[] Largest)> curves)
    {
        long mEnd = Math.Max(1, Math.Min(1_000_000, curves.SelectMany(x => x.Largest).DefaultIfEmpty(0).Max() + 1));
        var plot = new LinePlot
        {
            Title = Inv($"Certified accuracy vs poisoned training examples ({c.Dataset})"),
            XLabel = "poisoned (modified) training examples m",
            YLabel = "certified accuracy",
            XMin = 0,
            XMax = mEnd,
        };
        long[] ms = DefenseReport.PlotCounts(mEnd);
        for (int k = 0; k < curves.Count; k++)
            plot.Series.Add(new PlotSeries(curves[k].Label, ms.Select(m => ((double)m, AtLeast(curves[k].Largest, m))).ToList(),
                                           LinePlot.Palette[k % LinePlot.Palette.Length]));
        return plot;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

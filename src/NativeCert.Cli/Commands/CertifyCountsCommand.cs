using System.CommandLine;
using System.Globalization;
using NativeCert.Certification;
using NativeCert.IO;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert certify-counts --counts FILE --sigma S ...</c>: certificates from vote counts made elsewhere.
/// Counts file format: see <see cref="VoteCountsTsv"/> (one row per input, C count columns; with a header, columns by
/// name, so the votes.tsv of <c>nativecert vote</c> and of a run directory are read as they are; without one,
/// <c>--has-label</c> marks a leading label). <c>--set</c> keeps the rows of one set (clean, triggered, train). Cohen's
/// method takes the class-selection votes from the file's <c>n0_*</c> columns, or from a second file of the same shape
/// (<c>--selection-counts</c>). Output: certificates.tsv format
/// (<see cref="CertificateTsv"/>), written atomically to <c>--out</c> or printed to stdout; a one-line summary goes
/// to stdout with <c>--out</c>, else to stderr.
/// </summary>
internal static class CertifyCountsCommand
{
    public static Command Create()
    {
        var cmd = new Command("certify-counts", "Certify inputs from a TSV of vote counts (one row per input, one column per class)");
        var counts = new Option<string>("--counts") { Description = "TSV of vote counts; for cohen the estimation votes", Required = true };
        var sigma = new Option<double>("--sigma") { Description = "Noise standard deviation in input units", Required = true };
        var alpha = new Option<double>("--alpha") { Description = "One-sided failure probability per input (jointly with --simultaneous)", DefaultValueFactory = _ => 0.001 };
        var method = new Option<string>("--method") { Description = "simuem (Jia et al. 2020) or cohen (Cohen et al. 2019)", DefaultValueFactory = _ => "simuem" };
        method.AcceptOnlyFromAmong("simuem", "cohen");
        var selection = new Option<string?>("--selection-counts") { Description = "cohen: TSV of class-selection votes (same rows and classes as --counts), unless --counts has n0_* columns" };
        var n0 = new Option<long?>("--n0") { Description = "cohen: expected number of selection models per row (checked against --selection-counts)" };
        var trigger = new Option<double?>("--trigger-norm") { Description = "Trigger l2 norm t: adds max_poison, the largest m with t*sqrt(m+1) < R" };
        var simultaneous = new Option<bool>("--simultaneous") { Description = "Make the guarantee hold jointly over all inputs (alpha / T per input)" };
        var set = new Option<string?>("--set") { Description = "Certify only the rows whose set column is this (clean, triggered or train)" };
        var hasLabel = new Option<bool>("--has-label") { Description = "Without a header: the first column is the true label (with a header, a 'label' column is used)" };
        var output = new Option<string?>("--out") { Description = "Write certificates TSV here (atomically) instead of stdout" };
        foreach (Option o in new Option[] { counts, sigma, alpha, method, selection, n0, trigger, simultaneous, set, hasLabel, output }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            double s = parse.GetValue(sigma), a = parse.GetValue(alpha);
            if (!(s > 0) || double.IsInfinity(s)) throw new UserInputException($"--sigma: {Inv(s)} must be positive and finite");
            if (!(a > 0 && a < 1)) throw new UserInputException($"--alpha: {Inv(a)} is not in (0, 1)");
            double? t = parse.GetValue(trigger);
            if (t is { } tv && (!(tv >= 0) || double.IsInfinity(tv))) throw new UserInputException($"--trigger-norm: {Inv(tv)} must be finite and non-negative");
            bool cohen = parse.GetValue(method) == "cohen";
            string? selectionPath = parse.GetValue(selection);
            if (!cohen && selectionPath is not null) throw new UserInputException("--selection-counts is only used with --method cohen");
            if (!cohen && parse.GetValue(n0) is not null) throw new UserInputException("--n0 is only used with --method cohen");

            string countsPath = parse.GetValue(counts)!;
            string? outPath = parse.GetValue(output);
            if (outPath is not null) AtomicFile.CheckWritableFile(outPath, "--out", (countsPath, "--counts"), (selectionPath, "--selection-counts"));
            var estimation = VoteCountsTsv.Read(countsPath, parse.GetValue(hasLabel));
            if (parse.GetValue(set) is { } only)
            {
                string[] sets = estimation.Sets ?? throw new UserInputException($"--set {only}: {countsPath} has no set column");
                estimation = estimation.Where(only);
                if (estimation.Counts.Inputs == 0)
                    throw new UserInputException($"--set {only}: no rows of {countsPath} are in that set (it has {string.Join(", ", sets.Distinct())})");
            }
            int[] labels = estimation.Labels;
            bool simult = parse.GetValue(simultaneous);
            Certificate[] certificates;
            if (cohen)
            {
                // Selection votes: the file's own n0_* columns (a run directory's votes.tsv), else --selection-counts.
                VoteCountsTsv.Result sel;
                string selectionSource;
                if (selectionPath is not null)
                {
                    if (estimation.Selection is not null)
                        throw new UserInputException($"--selection-counts: {countsPath} already holds selection counts (n0_* columns); give one or the other");
                    if (parse.GetValue(set) is not null) throw new UserInputException("--set works on one file; with --selection-counts select the rows beforehand");
                    sel = VoteCountsTsv.Read(selectionPath, parse.GetValue(hasLabel));
                    selectionSource = selectionPath;
                }
                else if (estimation.Selection is { } own)
                {
                    sel = new VoteCountsTsv.Result(own, estimation.Labels, own.Inputs == 0 ? 0 : own.Total(0));
                    selectionSource = $"{countsPath} (n0_* columns)";
                }
                else throw new UserInputException($"--method cohen needs class-selection votes: n0_* columns in {countsPath}, or --selection-counts FILE");
                if (sel.Counts.Inputs != estimation.Counts.Inputs || sel.Counts.Classes != estimation.Counts.Classes)
                    throw new UserInputException($"{selectionSource}: {sel.Counts.Inputs} rows × {sel.Counts.Classes} classes, but {countsPath} has {estimation.Counts.Inputs} × {estimation.Counts.Classes}");
                if (parse.GetValue(n0) is { } expected && sel.ModelsPerInput != expected)
                    throw new UserInputException($"{selectionSource}: rows sum to {sel.ModelsPerInput} selection votes, but --n0 is {expected}");
                if (labels.Length == 0) labels = sel.Labels;
                else if (sel.Labels.Length != 0 && !sel.Labels.AsSpan().SequenceEqual(labels))
                    throw new UserInputException($"{selectionSource}: labels differ from those in {countsPath}");
                certificates = Certifier.CertifyCohen(sel.Counts, estimation.Counts, s, a, simult);
            }
            else certificates = Certifier.CertifySimuEM(estimation.Counts, s, a, simult);

            var stdout = parse.InvocationConfiguration.Output;
            if (outPath is not null) CertificateTsv.Write(outPath, certificates, labels, t);
            else CertificateTsv.WriteTo(stdout, certificates, labels, t);

            int certified = certificates.Count(c => !c.IsAbstain);
            string summary = Inv($"certify-counts: {certificates.Length} inputs, {estimation.ModelsPerInput} votes each, method {(cohen ? "cohen" : "simuem")}, alpha {a:R}{(simult ? " (simultaneous)" : " (per input)")}: certified {certified}, abstained {certificates.Length - certified}");
            if (labels.Length > 0)
                summary += Inv($", clean accuracy {CertifiedAccuracy.Clean(certificates, labels):0.####}");
            if (certified > 0)
            {
                var radii = certificates.Where(c => !c.IsAbstain).Select(c => c.Radius).Order().ToArray();
                summary += Inv($", median radius {radii[radii.Length / 2]:0.######}");
            }
            (outPath is not null ? stdout : parse.InvocationConfiguration.Error).WriteLine(summary);
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    private static string Inv(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}

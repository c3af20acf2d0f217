using System.Globalization;
using System.Text;
using NativeCert.Engine;
using NativeCert.IO;

namespace NativeCert.Certification;

/// <summary>
/// The one text format of vote counts (<c>votes.tsv</c>), written by <c>nativecert vote</c> and by every run directory,
/// and read by <c>certify-counts</c> as it is. One header line, then one row per input:
/// <code>
/// idx  set  label  models  n_0 … n_{C−1}  [n0_0 … n0_{C−1}]  [undefended]
/// </code>
/// <c>set</c>: which inputs the row belongs to (<c>clean</c> test inputs, <c>triggered</c> test inputs of an attack run,
/// <c>train</c> rows of the training split that <c>nativecert vote</c> was asked to vote on); <c>models</c>: N, the number of models whose votes
/// <c>n_c</c> holds (the row total); <c>n_c</c>: models that voted class c; <c>n0_c</c> (Cohen's method): the
/// class-selection votes of the n0 other models; <c>undefended</c> (attack runs): the class the undefended model
/// (σ = 0) predicts.
/// <para>
/// Reading is lenient about where the counts came from: with a header (a first line with any non-integer field)
/// columns are found by name (<c>label</c>; counts in <c>n_*</c>, else the older <c>count_*</c>, else every column
/// that is not <c>idx</c>, <c>set</c>, <c>label</c>, <c>models</c>, <c>prediction</c> or <c>undefended</c>); without one
/// every column is a count, except the first when <c>hasLabel</c> is set. Counts are non-negative integers; lines
/// starting with '#' and empty lines are skipped; all rows must have the same number of columns and the same total
/// (the number of models that voted; it must equal <c>models</c> where given); at least two classes. Any violation is a
/// <see cref="UserInputException"/> naming the file and line.
/// </para>
/// </summary>
internal static class VoteCountsTsv
{
    /// <summary>Values of the <c>set</c> column.</summary>
    public const string Clean = "clean", Triggered = "triggered", Train = "train";

    /// <summary>
    /// Parsed counts (T, C); labels (empty when the file has none); the common row total N; the selection counts
    /// (T, C) when the file has <c>n0_*</c> columns, else null; each row's <c>set</c> (empty when the file has none).
    /// </summary>
    public readonly record struct Result(VoteCounts Counts, int[] Labels, long ModelsPerInput, VoteCounts? Selection = null, string[]? Sets = null)
    {
        /// <summary>The rows whose <c>set</c> is <paramref name="set"/>, in order (all rows when <paramref name="set"/> is null).</summary>
        public Result Where(string? set)
        {
            if (set is null) return this;
            string[] sets = Sets ?? [];
            int[] labels = Labels;
            int[] rows = Enumerable.Range(0, Counts.Inputs).Where(i => i < sets.Length && sets[i] == set).ToArray();
            return new Result(Take(Counts, rows)!, labels.Length == 0 ? [] : rows.Select(i => labels[i]).ToArray(), ModelsPerInput,
                              Take(Selection, rows), rows.Select(_ => set).ToArray());
        }

        private static VoteCounts? Take(VoteCounts? counts, int[] rows)
        {
            if (counts is null) return null;
            var taken = new VoteCounts(rows.Length, counts.Classes);
            for (int i = 0; i < rows.Length; i++) counts.Row(rows[i]).CopyTo(taken.Row(i));
            return taken;
        }
    }

    /// <summary>
    /// Writes the format above atomically. <paramref name="sets"/> has one entry per row; <paramref name="selection"/>
    /// (Cohen) and <paramref name="undefended"/> (one class per row) add their columns when given.
    /// </summary>
    public static void Write(string path, IReadOnlyList<int> labels, IReadOnlyList<string> sets, VoteCounts estimation,
                             VoteCounts? selection = null, IReadOnlyList<int>? undefended = null)
    {
        int inputs = estimation.Inputs, classes = estimation.Classes;
        if (labels.Count != inputs || sets.Count != inputs || undefended is { } u0 && u0.Count != inputs)
            throw new ArgumentException("labels, sets and undefended need one entry per row of the counts");
        if (selection is { } s0 && (s0.Inputs != inputs || s0.Classes != classes))
            throw new ArgumentException("selection counts must have the shape of the estimation counts");
        var sb = new StringBuilder();
        sb.Append("idx\tset\tlabel\tmodels");
        for (int k = 0; k < classes; k++) sb.Append("\tn_").Append(k.ToString(CultureInfo.InvariantCulture));
        if (selection is not null) for (int k = 0; k < classes; k++) sb.Append("\tn0_").Append(k.ToString(CultureInfo.InvariantCulture));
        if (undefended is not null) sb.Append("\tundefended");
        sb.Append('\n');
        for (int t = 0; t < inputs; t++)
        {
            sb.Append(t.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(sets[t]).Append('\t')
              .Append(labels[t].ToString(CultureInfo.InvariantCulture)).Append('\t')
              .Append(estimation.Total(t).ToString(CultureInfo.InvariantCulture));
            foreach (uint v in estimation.Row(t)) sb.Append('\t').Append(v.ToString(CultureInfo.InvariantCulture));
            if (selection is not null) foreach (uint v in selection.Row(t)) sb.Append('\t').Append(v.ToString(CultureInfo.InvariantCulture));
            if (undefended is not null) sb.Append('\t').Append(undefended[t].ToString(CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    public static Result Read(string path, bool hasLabel = false)
    {
        if (!File.Exists(path)) throw new UserInputException($"{path}: file not found");
        var counts = new List<uint>();
        var selection = new List<uint>();
        var labels = new List<int>();
        var sets = new List<string>();
        int columns = -1, labelColumn = -1, setColumn = -1, modelsColumn = -1;
        int[] countColumns = [], selectionColumns = [];
        long total = -1, selectionTotal = -1;
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            string[] fields = line.Split('\t');
            if (columns < 0)
            {
                columns = fields.Length;
                bool header = fields.Any(f => !long.TryParse(f, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _));
                if (header)
                {
                    string[] names = fields.Select(f => f.Trim().ToLowerInvariant()).ToArray();
                    labelColumn = Array.IndexOf(names, "label");
                    setColumn = Array.IndexOf(names, "set");
                    modelsColumn = Array.IndexOf(names, "models");
                    if (hasLabel && labelColumn < 0) throw new UserInputException($"{path}:{lineNumber}: labels were asked for but the header has no 'label' column");
                    countColumns = Named("n_");
                    selectionColumns = Named("n0_");
                    if (countColumns.Length == 0) countColumns = Named("count_");
                    if (countColumns.Length == 0)
                        countColumns = Enumerable.Range(0, columns).Where(c => names[c] is not ("label" or "idx" or "prediction" or "set" or "models" or "undefended")).ToArray();
                    if (selectionColumns.Length != 0 && selectionColumns.Length != countColumns.Length)
                        throw new UserInputException($"{path}:{lineNumber}: {selectionColumns.Length} n0_* columns but {countColumns.Length} count columns");

                    int[] Named(string prefix) => Enumerable.Range(0, columns).Where(c => names[c].StartsWith(prefix, StringComparison.Ordinal)).ToArray();
                }
                else
                {
                    labelColumn = hasLabel ? 0 : -1;
                    countColumns = Enumerable.Range(hasLabel ? 1 : 0, columns - (hasLabel ? 1 : 0)).ToArray();
                }
                if (countColumns.Length < 2) throw new UserInputException($"{path}:{lineNumber}: {countColumns.Length} count column(s); at least 2 classes are needed");
                if (header) continue;
            }
            if (fields.Length != columns) throw new UserInputException($"{path}:{lineNumber}: {fields.Length} columns, expected {columns} like the first row");
            int classes = countColumns.Length;
            if (labelColumn >= 0)
            {
                if (!int.TryParse(fields[labelColumn], NumberStyles.None, CultureInfo.InvariantCulture, out int label) || label >= classes)
                    throw new UserInputException($"{path}:{lineNumber}: label '{fields[labelColumn]}' is not a class index in [0, {classes})");
                labels.Add(label);
            }
            if (setColumn >= 0) sets.Add(fields[setColumn]);
            long rowTotal = ReadCounts(countColumns, counts);
            if (total < 0) total = rowTotal;
            else if (rowTotal != total) throw new UserInputException($"{path}:{lineNumber}: counts sum to {rowTotal}, but earlier rows sum to {total} (every input needs votes from the same models)");
            if (modelsColumn >= 0 && fields[modelsColumn] != rowTotal.ToString(CultureInfo.InvariantCulture))
                throw new UserInputException($"{path}:{lineNumber}: models is '{fields[modelsColumn]}' but the counts sum to {rowTotal}");
            if (selectionColumns.Length > 0)
            {
                long n0 = ReadCounts(selectionColumns, selection);
                if (selectionTotal < 0) selectionTotal = n0;
                else if (n0 != selectionTotal) throw new UserInputException($"{path}:{lineNumber}: n0_* counts sum to {n0}, but earlier rows sum to {selectionTotal}");
            }

            long ReadCounts(int[] at, List<uint> into)
            {
                long sum = 0;
                foreach (int c in at)
                {
                    string f = fields[c];
                    if (!uint.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out uint k))
                    {
                        string why = long.TryParse(f, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v < 0 ? "is negative" : "is not a non-negative integer count";
                        throw new UserInputException($"{path}:{lineNumber}: column {c + 1} value '{f}' {why}");
                    }
                    into.Add(k);
                    sum += k;
                }
                return sum;
            }
        }
        if (total < 0) throw new UserInputException($"{path}: no count rows");
        int inputs = counts.Count / countColumns.Length;
        VoteCounts? selected = selectionColumns.Length > 0 ? new VoteCounts(inputs, countColumns.Length, selection.ToArray()) : null;
        return new Result(new VoteCounts(inputs, countColumns.Length, counts.ToArray()), labels.ToArray(), total, selected,
                          setColumn >= 0 ? sets.ToArray() : null);
    }
}

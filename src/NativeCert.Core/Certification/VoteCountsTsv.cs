using System.Globalization;
using NativeCert.Engine;

namespace NativeCert.Certification;

/// <summary>
/// Reads vote counts made elsewhere: a tab-separated file with one row per test input.
/// <list type="bullet">
/// <item>With a header (a first line with any non-integer field), columns are found by name: <c>label</c> is the true
/// label; the counts are the <c>count_*</c> columns if there are any, else every column other than <c>label</c>,
/// <c>idx</c> and <c>prediction</c>. This reads the TSV of <c>nativecert vote</c>
/// (<c>idx label prediction count_0 … count_{C−1}</c>) as well as a plain <c>label c0 c1 …</c>.</item>
/// <item>Without a header every column is a count, except the first when <c>hasLabel</c> is set.</item>
/// <item>Counts are non-negative integers; lines starting with '#' and empty lines are skipped; all rows must have the
/// same number of columns and the same total (the number of models that voted); at least two classes.</item>
/// </list>
/// Any violation is a <see cref="UserInputException"/> naming the file and line.
/// </summary>
public static class VoteCountsTsv
{
    /// <summary>Parsed counts (T, C), labels (empty when the file has none), and the common row total N.</summary>
    public readonly record struct Result(VoteCounts Counts, int[] Labels, long ModelsPerInput);

    public static Result Read(string path, bool hasLabel = false)
    {
        if (!File.Exists(path)) throw new UserInputException($"{path}: file not found");
        var counts = new List<uint>();
        var labels = new List<int>();
        int columns = -1, labelColumn = -1;
        int[] countColumns = [];
        long total = -1;
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
                    if (hasLabel && labelColumn < 0) throw new UserInputException($"{path}:{lineNumber}: --has-label given but the header has no 'label' column");
                    countColumns = Enumerable.Range(0, columns).Where(c => names[c].StartsWith("count_", StringComparison.Ordinal)).ToArray();
                    if (countColumns.Length == 0)
                        countColumns = Enumerable.Range(0, columns).Where(c => names[c] is not ("label" or "idx" or "prediction")).ToArray();
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
            long rowTotal = 0;
            foreach (int c in countColumns)
            {
                string f = fields[c];
                if (!uint.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out uint k))
                {
                    string why = long.TryParse(f, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v < 0 ? "is negative" : "is not a non-negative integer count";
                    throw new UserInputException($"{path}:{lineNumber}: column {c + 1} value '{f}' {why}");
                }
                counts.Add(k);
                rowTotal += k;
            }
            if (total < 0) total = rowTotal;
            else if (rowTotal != total) throw new UserInputException($"{path}:{lineNumber}: counts sum to {rowTotal}, but earlier rows sum to {total} (every input needs votes from the same models)");
        }
        if (total < 0) throw new UserInputException($"{path}: no count rows");
        int inputs = counts.Count / countColumns.Length;
        return new Result(new VoteCounts(inputs, countColumns.Length, counts.ToArray()), labels.ToArray(), total);
    }
}

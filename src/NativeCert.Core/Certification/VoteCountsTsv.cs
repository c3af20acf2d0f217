using System.Globalization;
using NativeCert.Engine;

namespace NativeCert.Certification;

/// <summary>
/// Reads vote counts made elsewhere: a tab-separated file with one row per test input and one column per class
/// (non-negative integer vote counts), optionally preceded by the input's true label.
/// <list type="bullet">
/// <item>An optional first line that is a header (any non-integer field). A header whose first column is
/// <c>label</c> means every row starts with the true label; other header names are ignored.</item>
/// <item>Without a header, <c>hasLabel</c> says whether the first column is the label.</item>
/// <item>Lines starting with '#' and empty lines are skipped. All rows must have the same number of columns and
/// the same total (the number of models that voted).</item>
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
        int columns = -1, classes = -1;
        long total = -1;
        bool labelled = hasLabel;
        bool first = true;
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            string[] fields = line.Split('\t');
            if (first)
            {
                first = false;
                if (fields.Any(f => !long.TryParse(f, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
                {
                    bool headerLabel = string.Equals(fields[0].Trim(), "label", StringComparison.OrdinalIgnoreCase);
                    if (hasLabel && !headerLabel) throw new UserInputException($"{path}:{lineNumber}: --has-label given but the header's first column is '{fields[0]}', not 'label'");
                    labelled = headerLabel;
                    columns = fields.Length;
                    classes = columns - (labelled ? 1 : 0);
                    if (classes < 2) throw new UserInputException($"{path}:{lineNumber}: header names {classes} class column(s); at least 2 are needed");
                    continue;
                }
            }
            if (columns < 0)
            {
                columns = fields.Length;
                classes = columns - (labelled ? 1 : 0);
                if (classes < 2) throw new UserInputException($"{path}:{lineNumber}: {classes} class column(s); at least 2 are needed");
            }
            if (fields.Length != columns) throw new UserInputException($"{path}:{lineNumber}: {fields.Length} columns, expected {columns} like the first row");
            int offset = 0;
            if (labelled)
            {
                if (!int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out int label) || label >= classes)
                    throw new UserInputException($"{path}:{lineNumber}: label '{fields[0]}' is not a class index in [0, {classes})");
                labels.Add(label);
                offset = 1;
            }
            long rowTotal = 0;
            for (int c = 0; c < classes; c++)
            {
                string f = fields[offset + c];
                if (!uint.TryParse(f, NumberStyles.None, CultureInfo.InvariantCulture, out uint k))
                {
                    string why = long.TryParse(f, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long v) && v < 0 ? "is negative" : "is not a non-negative integer count";
                    throw new UserInputException($"{path}:{lineNumber}: column {offset + c + 1} value '{f}' {why}");
                }
                counts.Add(k);
                rowTotal += k;
            }
            if (total < 0) total = rowTotal;
            else if (rowTotal != total) throw new UserInputException($"{path}:{lineNumber}: counts sum to {rowTotal}, but earlier rows sum to {total} (every input needs votes from the same models)");
        }
        if (total < 0) throw new UserInputException($"{path}: no count rows");
        int inputs = counts.Count / classes;
        return new Result(new VoteCounts(inputs, classes, counts.ToArray()), labels.ToArray(), total);
    }
}

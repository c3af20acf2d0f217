using System.Globalization;
using System.Text;

namespace NativeCert.Data;

/// <summary>
/// Comma-separated tabular data: label in the first column (a non-negative integer), then the features
/// (finite numbers, invariant culture, used as they are: input units are the file's units). An optional header
/// row is recognised when its first row does not parse as numbers. Blank lines are skipped. Labels are class
/// indices below <see cref="Dataset.MaxClasses"/>; NUL bytes anywhere are refused.
/// </summary>
internal static class CsvFormat
{
    /// <summary>Parsed rows: features <c>(Count, Dimension)</c> row-major, labels <c>(Count)</c>.</summary>
    public sealed record Table(float[] Features, int[] Labels, int Dimension, string[]? Header)
    {
        public int Count => Labels.Length;
    }

    public static Table Read(string path)
    {
        byte[] bytes = DataFiles.ReadMaybeGzip(path);
        string text;
        try { text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes); }
        catch (DecoderFallbackException e) { throw new UserInputException($"{path}: not a UTF-8 text file", e); }
        // .NET's number parsing ignores trailing NUL characters, so "1.5\0\0" would load as 1.5: refuse them here.
        int nul = text.IndexOf('\0');
        if (nul >= 0)
            throw new UserInputException($"{path}: line {text.AsSpan(0, nul).Count('\n') + 1}: NUL byte (a binary file, or padding after the numbers)");

        var features = new List<float>();
        var labels = new List<int>();
        string[]? header = null;
        int dimension = -1, firstDataLine = 0;
        int lineNumber = 0;
        foreach (ReadOnlySpan<char> rawLine in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            ReadOnlySpan<char> line = rawLine.Trim();
            if (lineNumber == 1 && line.Length > 0 && line[0] == '\uFEFF') line = line[1..];
            if (line.IsEmpty) continue;

            int fields = line.Count(',') + 1;
            if (dimension < 0 && labels.Count == 0 && header is null && !LooksNumeric(line))
            {
                header = line.ToString().Split(',', StringSplitOptions.TrimEntries);
                if (header.Length < 2) throw new UserInputException($"{path}: line {lineNumber}: header has {header.Length} column; expected a label column and at least one feature");
                dimension = header.Length - 1;
                continue;
            }
            if (dimension < 0)
            {
                if (fields < 2) throw new UserInputException($"{path}: line {lineNumber}: {fields} field; expected a label and at least one feature");
                dimension = fields - 1;
                firstDataLine = lineNumber;
            }
            if (fields != dimension + 1)
                throw new UserInputException($"{path}: line {lineNumber}: ragged row with {fields} fields, expected {dimension + 1} ({(header is null ? $"as on line {firstDataLine}" : "as in the header")})");

            int column = 0;
            foreach (Range r in line.Split(','))
            {
                ReadOnlySpan<char> field = line[r].Trim();
                column++;
                if (column == 1)
                {
                    if (!int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int label))
                        throw new UserInputException($"{path}: line {lineNumber}: label '{field}' is not a non-negative integer");
                    if (label >= Dataset.MaxClasses)
                        throw new UserInputException($"{path}: line {lineNumber}: label {label} is not a class index below {Dataset.MaxClasses} (at most {Dataset.MaxClasses} classes)");
                    labels.Add(label);
                    continue;
                }
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new UserInputException($"{path}: line {lineNumber}, column {column}: '{field}' is not a number");
                float f = (float)v;
                if (!double.IsFinite(v) || !float.IsFinite(f))
                    throw new UserInputException($"{path}: line {lineNumber}, column {column}: value '{field}' is not a finite float");
                features.Add(f);
            }
        }
        if (labels.Count == 0) throw new UserInputException($"{path}: no data rows");
        return new Table(features.ToArray(), labels.ToArray(), dimension, header);
    }

    /// <summary>True when every field of the row parses as a number (so the row is data, not a header).</summary>
    private static bool LooksNumeric(ReadOnlySpan<char> line)
    {
        foreach (Range r in line.Split(','))
            if (!double.TryParse(line[r].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)) return false;
        return true;
    }

    /// <summary>
    /// Loads a CSV as a dataset with the given class count (labels must be below it) and no image shape.
    /// </summary>
    public static Dataset Load(string path, int classCount, string source) => ToDataset(Read(path), path, classCount, source);

    internal static Dataset ToDataset(Table table, string path, int classCount, string source)
    {
        for (int i = 0; i < table.Count; i++)
            if (table.Labels[i] >= classCount)
                throw new UserInputException($"{path}: data row {i + 1} has label {table.Labels[i]}, not below the class count {classCount}");
        return new Dataset(table.Features, table.Labels, table.Dimension, classCount, null, source);
    }

    /// <summary>Writes a dataset as CSV atomically (label, then features in shortest round-trip form).</summary>
    public static void Write(string path, Dataset data, bool header)
    {
        var sb = new StringBuilder();
        if (header)
        {
            sb.Append("label");
            for (int f = 0; f < data.Dimension; f++) sb.Append(",x").Append(f);
            sb.Append('\n');
        }
        for (int i = 0; i < data.Count; i++)
        {
            sb.Append(data.Labels[i].ToString(CultureInfo.InvariantCulture));
            foreach (float v in data.Row(i)) sb.Append(',').Append(v.ToString("R", CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        DataFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(sb.ToString()));
    }
}

using System.Globalization;
using System.Text;
using NativeCert.IO;

namespace NativeCert.Certification;

/// <summary>
/// The certificates.tsv format, one row per test input after a header:
/// <c>idx  label  prediction  p_a  p_b  radius  correct  [max_poison]</c>.
/// label is −1 when unknown (then correct is −1), prediction −1 means abstain, correct is 1/0, numbers use
/// round-trip ("R") formatting, radius is the certified ℓ2 radius in input units, and max_poison (present when a
/// trigger norm is given) is <see cref="PoisoningUnits.LargestCertifiedPoisonCount"/> (−1: none covered).
/// Files are written atomically and streamed (<see cref="AtomicFile.WriteText"/>).
/// </summary>
internal static class CertificateTsv
{
    public const string Header = "idx\tlabel\tprediction\tp_a\tp_b\tradius\tcorrect";
    public const string PoisonColumn = "max_poison";

    /// <summary>Writes the table atomically to <paramref name="path"/>. labels: empty when unknown, else one per certificate.</summary>
    public static void Write(string path, ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels,
                             double? triggerNorm = null, bool withTestTrigger = true)
    {
        if (labels.Length != 0 && labels.Length != certificates.Length)
            throw new ArgumentException($"{certificates.Length} certificates but {labels.Length} labels");
        Certificate[] rows = certificates.ToArray();
        int[] rowLabels = labels.ToArray();
        AtomicFile.WriteText(path, writer => WriteTo(writer, rows, rowLabels, triggerNorm, withTestTrigger));
    }

    /// <summary>Writes the table (header included) to a text writer.</summary>
    public static void WriteTo(TextWriter writer, ReadOnlySpan<Certificate> certificates, ReadOnlySpan<int> labels,
                               double? triggerNorm = null, bool withTestTrigger = true)
    {
        if (labels.Length != 0 && labels.Length != certificates.Length)
            throw new ArgumentException($"{certificates.Length} certificates but {labels.Length} labels");
        writer.Write(Header);
        writer.Write(triggerNorm.HasValue ? "\t" + PoisonColumn + "\n" : "\n");
        var line = new StringBuilder(128);
        for (int i = 0; i < certificates.Length; i++)
        {
            Certificate c = certificates[i];
            int label = labels.Length == 0 ? -1 : labels[i];
            int correct = label < 0 ? -1 : (!c.IsAbstain && c.Prediction == label ? 1 : 0);
            line.Clear();
            line.Append(i).Append('\t').Append(label).Append('\t').Append(c.Prediction).Append('\t')
                .Append(c.PA.ToString("R", CultureInfo.InvariantCulture)).Append('\t')
                .Append(c.PB.ToString("R", CultureInfo.InvariantCulture)).Append('\t')
                .Append(c.Radius.ToString("R", CultureInfo.InvariantCulture)).Append('\t')
                .Append(correct);
            if (triggerNorm.HasValue)
                line.Append('\t').Append(c.IsAbstain ? -1 : PoisoningUnits.LargestCertifiedPoisonCount(c.Radius, triggerNorm.Value, withTestTrigger));
            line.Append('\n');
            writer.Write(line);
        }
    }

    /// <summary>Reads a certificates.tsv written by <see cref="Write"/>; labels are −1 where unknown.</summary>
    public static (Certificate[] Certificates, int[] Labels) Read(string path)
    {
        var certificates = new List<Certificate>();
        var labels = new List<int>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            if (lineNumber == 1)
            {
                if (!line.StartsWith(Header, StringComparison.Ordinal)) throw new UserInputException($"{path}:1: not a certificates table (expected header '{Header}')");
                continue;
            }
            if (line.Length == 0) continue;
            string[] f = line.Split('\t');
            if (f.Length < 7) throw new UserInputException($"{path}:{lineNumber}: expected at least 7 columns, found {f.Length}");
            try
            {
                labels.Add(int.Parse(f[1], CultureInfo.InvariantCulture));
                certificates.Add(new Certificate(int.Parse(f[2], CultureInfo.InvariantCulture),
                    double.Parse(f[3], CultureInfo.InvariantCulture), double.Parse(f[4], CultureInfo.InvariantCulture),
                    double.Parse(f[5], CultureInfo.InvariantCulture)));
            }
            catch (FormatException) { throw new UserInputException($"{path}:{lineNumber}: malformed number"); }
        }
        return (certificates.ToArray(), labels.ToArray());
    }
}

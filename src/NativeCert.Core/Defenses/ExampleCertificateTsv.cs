using System.Globalization;
using System.Text;
using NativeCert.IO;

namespace NativeCert.Defenses;

/// <summary>
/// certificates.tsv of a DPA or bagging run, one row per input after a header:
/// <c>idx label prediction p_a p_b correct guarantee inserted deleted modified relabelled any</c>. guarantee is
/// <c>training-examples</c>; the four counts are the largest numbers of training examples inserted, deleted, modified
/// (features and label) or relabelled that cannot change the prediction, and any covers every mix of that many
/// insertions, deletions and modifications (−1 everywhere when abstaining). Numbers round-trip ("R").
/// </summary>
internal static class ExampleCertificateTsv
{
    public const string Header = "idx\tlabel\tprediction\tp_a\tp_b\tcorrect\tguarantee\tinserted\tdeleted\tmodified\trelabelled\tany";

    public static void Write(string path, IReadOnlyList<ExampleCertificate> certificates, IReadOnlyList<int> labels)
    {
        if (certificates.Count != labels.Count) throw new ArgumentException($"{certificates.Count} certificates but {labels.Count} labels");
        AtomicFile.WriteText(path, writer =>
        {
            writer.Write(Header);
            writer.Write('\n');
            var line = new StringBuilder(128);
            for (int i = 0; i < certificates.Count; i++)
            {
                var c = certificates[i];
                line.Clear();
                line.Append(i).Append('\t').Append(labels[i]).Append('\t').Append(c.Prediction).Append('\t')
                    .Append(c.PA.ToString("R", CultureInfo.InvariantCulture)).Append('\t')
                    .Append(c.PB.ToString("R", CultureInfo.InvariantCulture)).Append('\t')
                    .Append(!c.IsAbstain && c.Prediction == labels[i] ? 1 : 0).Append('\t')
                    .Append(NativeCert.Runs.RunSummary.TrainingExamplesGuarantee).Append('\t')
                    .Append(c.Inserted).Append('\t').Append(c.Deleted).Append('\t').Append(c.Modified).Append('\t')
                    .Append(c.Relabelled).Append('\t').Append(c.Any).Append('\n');
                writer.Write(line);
            }
        });
    }
}

using System.Globalization;
using System.Text;

namespace NativeCert.Plotting;

/// <summary>
/// What the smoothing report (<see cref="Runs.RunReport"/>) and the defense report (<see cref="Defenses.DefenseReport"/>)
/// share: the certified-accuracy-vs-poisoned-examples plot, and the layout of summary.txt (a label column, values, and
/// tables of certified accuracy by number of poisoned examples m). The reports choose the series and the wording.
/// </summary>
internal static class PoisonReport
{
    /// <summary>The plot frame: m from 0 to <paramref name="mEnd"/> across, certified accuracy up; series added by the caller.</summary>
    /// <param name="dataset">Dataset name for the title.</param>
    /// <param name="configuration">What was certified, for the title: <c>sigma=0.5</c>, <c>dpa k=100</c>, …</param>
    /// <param name="xLabel">What m counts.</param>
    /// <param name="mEnd">Right end of the m axis.</param>
    public static LinePlot Plot(string? dataset, string configuration, string xLabel, long mEnd) => new()
    {
        Title = string.Create(CultureInfo.InvariantCulture, $"Certified accuracy vs poisoned examples ({dataset}, {configuration})"),
        XLabel = xLabel,
        YLabel = "certified accuracy",
        XMin = 0,
        XMax = mEnd,
    };
}

/// <summary>summary.txt as both reports write it: 46-character labels, then the value; accuracy tables in 8-character cells.</summary>
internal sealed class SummaryTable
{
    private const int LabelWidth = 46, CellWidth = 8;
    private readonly StringBuilder _text = new();

    /// <summary>A line as it is (headers, the attack's description, coverage, guarantee); the newline is added.</summary>
    public void Text(string line) => _text.Append(line).Append('\n');

    /// <summary>One labelled value.</summary>
    public void Line(string label, string value) => _text.Append(label.PadRight(LabelWidth)).Append(value).Append('\n');

    /// <summary>The header of an accuracy table: its title, then <c>m=…</c> for each column.</summary>
    public void Counts(string title, IEnumerable<long> examples)
    {
        _text.Append(title.PadRight(LabelWidth));
        foreach (long m in examples) _text.Append(Invariant($"m={m}").PadLeft(CellWidth));
        _text.Append('\n');
    }

    /// <summary>One row of an accuracy table: its label (may be empty), then each accuracy as a percentage.</summary>
    public void Accuracies(string label, IEnumerable<double> accuracies)
    {
        _text.Append(label.PadRight(LabelWidth));
        foreach (double a in accuracies) _text.Append(Percent(a).PadLeft(CellWidth));
        _text.Append('\n');
    }

    /// <summary>A fraction as "12.3 %".</summary>
    public static string Percent(double fraction) => Invariant($"{100 * fraction:0.0} %");

    /// <inheritdoc/>
    public override string ToString() => _text.ToString();

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

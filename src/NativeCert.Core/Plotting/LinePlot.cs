using System.Globalization;

namespace NativeCert.Plotting;

/// <summary>One line of a plot: its legend name, its points in data units, and its colour.</summary>
internal sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points, Rgb Color);

/// <summary>
/// A line plot with a title, labelled axes, "nice" ticks, grid lines and a legend, rendered by
/// <see cref="Canvas"/> with the built-in bitmap font. Deterministic: same plot, same pixels.
/// </summary>
internal sealed class LinePlot
{
    /// <summary>Distinct colours for up to ten series (matplotlib's tab10, in its order); callers cycle beyond ten.</summary>
    public static readonly Rgb[] Palette =
    [
        new(31, 119, 180), new(255, 127, 14), new(44, 160, 44), new(214, 39, 40),
        new(148, 103, 189), new(140, 86, 75), new(227, 119, 194), new(127, 127, 127),
        new(188, 189, 34), new(23, 190, 207),
    ];

    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public required double XMin { get; init; }
    public required double XMax { get; init; }
    public double YMin { get; init; }
    public double YMax { get; init; } = 1;
    public List<PlotSeries> Series { get; } = [];

    public const int TextScale = 2;
    private const int MarginLeft = 96, MarginRight = 24, MarginTop = 48, MarginBottom = 76;

    /// <summary>The rectangle of the plotting area in pixels: left, top, width, height.</summary>
    public static (int Left, int Top, int Width, int Height) PlotArea(int width, int height) =>
        (MarginLeft, MarginTop, width - MarginLeft - MarginRight, height - MarginTop - MarginBottom);

    public Canvas Render(int width = 800, int height = 560)
    {
        if (!(XMax > XMin) || !(YMax > YMin)) throw new ArgumentException("plot axis range is empty");
        var canvas = new Canvas(width, height, Rgb.White);
        var (left, top, w, h) = PlotArea(width, height);
        int PxX(double x) => left + (int)Math.Round((Math.Clamp(x, XMin, XMax) - XMin) / (XMax - XMin) * (w - 1));
        int PxY(double y) => top + h - 1 - (int)Math.Round((Math.Clamp(y, YMin, YMax) - YMin) / (YMax - YMin) * (h - 1));
        int s = TextScale, charH = BitmapFont.GlyphHeight * s;

        // Grid and ticks.
        foreach (double t in NiceTicks(XMin, XMax, 8))
        {
            int px = PxX(t);
            canvas.Line(px, top, px, top + h - 1, Rgb.Grid);
            canvas.FillRect(px, top + h, 1, 6, Rgb.Axis);
            string label = FormatTick(t, XMin, XMax, 8);
            canvas.Text(px - BitmapFont.MeasureWidth(label, s) / 2, top + h + 10, label, Rgb.Axis, s);
        }
        foreach (double t in NiceTicks(YMin, YMax, 6))
        {
            int py = PxY(t);
            canvas.Line(left, py, left + w - 1, py, Rgb.Grid);
            canvas.FillRect(left - 6, py, 6, 1, Rgb.Axis);
            string label = FormatTick(t, YMin, YMax, 6);
            canvas.Text(left - 10 - BitmapFont.MeasureWidth(label, s), py - charH / 2 + s, label, Rgb.Axis, s);
        }
        canvas.StrokeRect(left, top, w, h, Rgb.Axis);

        // Title, axis labels.
        canvas.Text((width - BitmapFont.MeasureWidth(Title, s)) / 2, 14, Title, Rgb.Black, s);
        canvas.Text(left + (w - BitmapFont.MeasureWidth(XLabel, s)) / 2, height - charH - 14, XLabel, Rgb.Black, s);
        canvas.TextVertical(12, top + (h + BitmapFont.MeasureWidth(YLabel, s)) / 2, YLabel, Rgb.Black, s);

        // Series, then the legend on top of them.
        foreach (var series in Series)
        {
            for (int i = 0; i + 1 < series.Points.Count; i++)
                canvas.Line(PxX(series.Points[i].X), PxY(series.Points[i].Y), PxX(series.Points[i + 1].X), PxY(series.Points[i + 1].Y), series.Color, 3);
            if (series.Points.Count == 1) canvas.FillRect(PxX(series.Points[0].X) - 2, PxY(series.Points[0].Y) - 2, 5, 5, series.Color);
        }
        if (Series.Count > 0)
        {
            int lineH = charH + 8, sample = 28;
            int boxW = Series.Max(x => BitmapFont.MeasureWidth(x.Name, s)) + sample + 30;
            int boxH = Series.Count * lineH + 10;
            int bx = left + w - boxW - 10, by = top + 10;
            canvas.FillRect(bx, by, boxW, boxH, Rgb.White);
            canvas.StrokeRect(bx, by, boxW, boxH, Rgb.Axis);
            for (int i = 0; i < Series.Count; i++)
            {
                int y = by + 8 + i * lineH;
                canvas.FillRect(bx + 10, y + charH / 2 - 1, sample, 3, Series[i].Color);
                canvas.Text(bx + 10 + sample + 8, y, Series[i].Name, Rgb.Black, s);
            }
        }
        return canvas;
    }

    /// <summary>Tick positions at a 1-2-5 step giving at most about <paramref name="maxTicks"/> ticks in [min, max].</summary>
    public static List<double> NiceTicks(double min, double max, int maxTicks)
    {
        double step = NiceStep(min, max, maxTicks);
        var ticks = new List<double>();
        for (long k = (long)Math.Ceiling(min / step - 1e-9); k * step <= max + step * 1e-9; k++) ticks.Add(k * step);
        return ticks;
    }

    private static double NiceStep(double min, double max, int maxTicks)
    {
        double raw = (max - min) / maxTicks;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (double m in new[] { 1.0, 2.0, 5.0, 10.0 })
            if (m * magnitude >= raw) return m * magnitude;
        return 10 * magnitude;
    }

    private static string FormatTick(double t, double min, double max, int maxTicks)
    {
        double step = NiceStep(min, max, maxTicks);
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        return t.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }
}

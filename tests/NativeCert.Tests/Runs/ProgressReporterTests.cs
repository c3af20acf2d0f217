using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

public sealed class ProgressReporterTests
{
    [Fact]
    public void PlainLinesEveryTenPercentOrInterval()
    {
        var now = TimeSpan.Zero;
        var text = new StringWriter();
        var p = new ProgressReporter(text, interactive: false, total: 100, alreadyDone: 0, clock: () => now);
        for (int m = 1; m <= 100; m++)
        {
            now += TimeSpan.FromMilliseconds(100); // 10 models/s
            p.Report(m);
        }
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(10, lines.Length); // one per 10 %, the 5 s interval never comes first
        Assert.Equal("models 10/100 (10%), 10.0 models/s, elapsed 0:01, ETA 0:09", lines[0]);
        Assert.StartsWith("models 100/100 (100%)", lines[^1]);
        Assert.DoesNotContain('\r', text.ToString());
    }

    [Fact]
    public void TerminalBarRedrawsInPlaceAndExcludesResumedModelsFromTheRate()
    {
        var now = TimeSpan.Zero;
        var text = new StringWriter();
        var p = new ProgressReporter(text, interactive: true, total: 200, alreadyDone: 100, clock: () => now);
        now = TimeSpan.FromSeconds(2);
        p.Report(150);
        p.Finish();
        string s = text.ToString();
        Assert.StartsWith("\r[", s);
        Assert.Contains("150/200 models", s);
        Assert.Contains("25.0 models/s", s);
        Assert.Contains("ETA 0:02", s);
        Assert.EndsWith("\n", s);
    }
}

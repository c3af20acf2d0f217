using System.Diagnostics;
using System.Globalization;

namespace NativeCert.Runs;

/// <summary>
/// Shows how far an ensemble run is: on a terminal a bar redrawn in place with <c>\r</c> (models done,
/// models/s, ETA); otherwise (a log file, a pipe) a plain line every <see cref="PlainInterval"/> or every
/// 10 % of the models, whichever comes first. Thread-safe: backends report from worker threads.
/// </summary>
internal sealed class ProgressReporter
{
    private readonly TextWriter _writer;
    private readonly bool _interactive;
    private readonly int _total;
    private readonly int _startDone;
    private readonly Func<TimeSpan> _clock;
    private readonly object _lock = new();
    private TimeSpan? _lastDraw;
    private int _lastDecile;
    private int _done;
    private bool _drewBar;

    /// <summary>Time between plain progress lines.</summary>
    public TimeSpan PlainInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Minimum time between redraws of the terminal bar.</summary>
    public TimeSpan BarInterval { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Also told every new count of models done (a library caller's progress), under the same lock, in order.</summary>
    public IProgress<int>? Listener { get; init; }

    /// <param name="writer">Where progress goes (stderr).</param>
    /// <param name="interactive">True for a terminal (<c>!Console.IsErrorRedirected</c>): redraw a bar.</param>
    /// <param name="total">Models of the whole run.</param>
    /// <param name="alreadyDone">Models done before this process started (resume); not counted in the rate.</param>
    /// <param name="clock">Elapsed time since start; a stopwatch by default (tests pass a fake).</param>
    public ProgressReporter(TextWriter writer, bool interactive, int total, int alreadyDone, Func<TimeSpan>? clock = null)
    {
        _writer = writer;
        _interactive = interactive;
        _total = total;
        _startDone = alreadyDone;
        _done = alreadyDone;
        _lastDecile = Decile(alreadyDone);
        if (clock is null)
        {
            var sw = Stopwatch.StartNew();
            clock = () => sw.Elapsed;
        }
        _clock = clock;
    }

    /// <summary>Models per second in this process, 0 before any model finished.</summary>
    public double ModelsPerSecond
    {
        get { lock (_lock) return Rate(_clock()); }
    }

    /// <summary>Reports that models <c>[0, modelsDone)</c> of the run are done.</summary>
    public void Report(int modelsDone)
    {
        lock (_lock)
        {
            // Reports from worker threads may arrive out of order; a repeated count has nothing new to show.
            if (modelsDone < _done || (modelsDone == _done && _lastDraw is not null)) return;
            if (modelsDone > _done) Listener?.Report(modelsDone);
            _done = modelsDone;
            var now = _clock();
            if (_interactive)
            {
                if (now - _lastDraw < BarInterval && modelsDone < _total) return; // null compares false: first report draws
                _writer.Write("\r" + Bar(now));
                _writer.Flush();
                _drewBar = true;
                _lastDraw = now;
            }
            else
            {
                int decile = Decile(modelsDone);
                bool due = now - (_lastDraw ?? TimeSpan.Zero) >= PlainInterval;
                if (!due && decile == _lastDecile) return;
                _writer.WriteLine(Line(now));
                _writer.Flush();
                _lastDraw = now;
                _lastDecile = decile;
            }
        }
    }

    /// <summary>Ends the bar's line on a terminal (so later output starts on a fresh line).</summary>
    public void Finish()
    {
        lock (_lock)
        {
            if (_interactive && _drewBar)
            {
                _writer.Write("\r" + Bar(_clock()) + "\n");
                _writer.Flush();
                _drewBar = false;
            }
        }
    }

    private int Decile(int done) => _total <= 0 ? 10 : (int)(10L * done / _total);

    private double Rate(TimeSpan now) =>
        now.TotalSeconds <= 0 || _done <= _startDone ? 0 : (_done - _startDone) / now.TotalSeconds;

    private string Eta(TimeSpan now)
    {
        double rate = Rate(now);
        if (rate <= 0) return "--:--";
        return FormatDuration(TimeSpan.FromSeconds((_total - _done) / rate));
    }

    public static string FormatDuration(TimeSpan t)
    {
        long s = (long)Math.Ceiling(t.TotalSeconds);
        return s >= 3600
            ? string.Create(CultureInfo.InvariantCulture, $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{s / 60}:{s % 60:00}");
    }

    private string Bar(TimeSpan now)
    {
        const int width = 30;
        int filled = _total <= 0 ? width : (int)((long)width * _done / _total);
        return string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', filled)}{new string('.', width - filled)}] {_done}/{_total} models  {Rate(now),6:F1} models/s  ETA {Eta(now)} ");
    }

    private string Line(TimeSpan now) => string.Create(CultureInfo.InvariantCulture,
        $"models {_done}/{_total} ({(_total <= 0 ? 100 : 100L * _done / _total)}%), {Rate(now):F1} models/s, elapsed {FormatDuration(now)}, ETA {Eta(now)}");
}

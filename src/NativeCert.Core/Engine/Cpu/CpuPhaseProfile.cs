using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NativeCert.Engine.Cpu;

/// <summary>The phases of CPU ensemble training that <see cref="CpuPhaseProfile"/> times.</summary>
internal enum CpuPhase
{
    /// <summary>Drawing the model's noisy training copy (once per model).</summary>
    Noise,
    /// <summary>He initialisation and clearing the momentum (once per model).</summary>
    Init,
    /// <summary>The epoch's shuffle and copying each batch's noisy rows contiguously.</summary>
    Gather,
    /// <summary>First layer forward GEMM, input·W₀ + b₀ with fused ReLU (≈ half the flops of an MLP); for a model that starts with a convolution, its im2col and GEMM.</summary>
    FirstForwardGemm,
    /// <summary>First layer weight-gradient GEMM dW₀ = inputᵀ·dH (≈ half the flops of an MLP); for a model that starts with a convolution, its transposed im2col and GEMM.</summary>
    FirstWeightGradientGemm,
    /// <summary>Everything after the first layer with parameters: later layers' forward and backward (GEMMs, convolutions, pooling), softmax cross-entropy, ReLU backward, bias gradients.</summary>
    Tail,
    /// <summary>The SGD momentum step over all parameters.</summary>
    Optimizer,
    /// <summary>Noising the test inputs and the forward passes that vote on them.</summary>
    Vote,
}

/// <summary>
/// Where a CPU ensemble run spends its time, as shares of threads × wall that add up to 1: the CPU seconds each
/// worker thread spends inside each <see cref="CpuPhase"/> (thread CPU clock on Linux, so time the OS gives to
/// other processes on a shared machine is not charged to a phase; wall clock elsewhere), the threading overhead
/// (worker CPU time outside any phase, thread start, and idle workers waiting for the last model), and the time
/// workers were runnable but descheduled. Set one as <see cref="CpuEnsembleBackend.Profile"/> (or use
/// <see cref="Measure"/>); timing reads the clock once per phase and does not change any result.
/// </summary>
internal sealed class CpuPhaseProfile
{
    private readonly double[] _seconds = new double[PhaseCount];
    private readonly object _gate = new();
    private double _workerWallSeconds; // Σ over workers of (worker end − worker start)
    private double _pendingEnds;       // Σ of this run's worker ends (seconds since the run started), until AddRun
    private int _pendingWorkers;
    private double _idleAtEndSeconds;

    /// <summary>Number of <see cref="CpuPhase"/> values.</summary>
    public static readonly int PhaseCount = Enum.GetValues<CpuPhase>().Length;

    private double _threadWallSeconds;

    /// <summary>SIMD level of the profiled runs.</summary>
    public IsaLevel Isa { get; private set; }
    /// <summary>Models trained in the profiled runs.</summary>
    public int Models { get; private set; }
    /// <summary>Test inputs each model voted on (0: training only).</summary>
    public int Inputs { get; private set; }
    /// <summary>Worker threads of the (last) profiled run.</summary>
    public int Threads { get; private set; }
    /// <summary>Wall seconds of the profiled runs (start of the first worker to the end of the last).</summary>
    public double WallSeconds { get; private set; }
    /// <summary>CPU seconds the workers ran (thread CPU clock), summed; NaN where that clock is unavailable.</summary>
    public double CpuSeconds { get; private set; }

    /// <summary>Whether phase times are thread CPU seconds (Linux) rather than wall seconds.</summary>
    public static bool PhasesInCpuTime => !double.IsNaN(ThreadCpuSeconds());

    /// <summary>Seconds inside <paramref name="phase"/>, summed over threads (CPU seconds where <see cref="PhasesInCpuTime"/>).</summary>
    public double Seconds(CpuPhase phase) => _seconds[(int)phase];

    /// <summary>Seconds workers were runnable but not running (worker wall − worker CPU): other load on a shared machine. 0 without a CPU clock.</summary>
    public double DescheduledSeconds => double.IsNaN(CpuSeconds) ? 0 : Math.Max(0, _workerWallSeconds - CpuSeconds);

    /// <summary>
    /// Threading overhead: threads × wall minus the phases and the descheduled time, i.e. worker CPU outside any
    /// phase (trainer set-up, progress), thread start, and workers idle at the end while the last models finish.
    /// </summary>
    public double ThreadingSeconds => Math.Max(0, _threadWallSeconds - DescheduledSeconds - Enumerable.Range(0, PhaseCount).Sum(p => Seconds((CpuPhase)p)));

    /// <summary>Of <see cref="ThreadingSeconds"/>, the part where finished workers waited for the others (load imbalance at the end of the run).</summary>
    public double IdleAtEndSeconds => _idleAtEndSeconds;

    /// <summary>Share of threads × wall spent in <paramref name="phase"/>.</summary>
    public double Share(CpuPhase phase) => _threadWallSeconds > 0 ? Seconds(phase) / _threadWallSeconds : 0;

    /// <summary>Share of threads × wall that is threading overhead.</summary>
    public double ThreadingShare => _threadWallSeconds > 0 ? ThreadingSeconds / _threadWallSeconds : 0;

    /// <summary>Share of threads × wall that workers spent descheduled.</summary>
    public double DescheduledShare => _threadWallSeconds > 0 ? DescheduledSeconds / _threadWallSeconds : 0;

    /// <summary>
    /// Trains <paramref name="models"/> models (and votes on <paramref name="inputs"/> when given) on a fresh
    /// <see cref="CpuEnsembleBackend"/> with <paramref name="threads"/> threads at <paramref name="isa"/>, after a
    /// one-epoch warm-up that is not profiled, and returns the profile of the timed run.
    /// </summary>
    public static CpuPhaseProfile Measure(EnsembleConfig config, NativeCert.Data.Dataset train, NativeCert.Data.Dataset? inputs,
        int models, int threads, IsaLevel isa)
    {
        using var backend = new CpuEnsembleBackend(threads, isa);
        var warmUp = config with { Training = config.Training with { Epochs = 1 } };
        backend.Run(warmUp, train, inputs, 0, Math.Min(models, backend.Threads),
            inputs != null ? new VoteCounts(inputs.Count, config.Model.Classes) : null, keptParameters: null);
        var profile = new CpuPhaseProfile { Isa = backend.Isa, Models = models, Inputs = inputs?.Count ?? 0 };
        backend.Profile = profile;
        backend.Run(config, train, inputs, 0, models, inputs != null ? new VoteCounts(inputs.Count, config.Model.Classes) : null, keptParameters: null);
        return profile;
    }

    /// <summary>snake_case name of a phase for JSON (noise, init, gather, gemm_forward_first, …).</summary>
    public static string Key(CpuPhase phase) => phase switch
    {
        CpuPhase.Noise => "noise",
        CpuPhase.Init => "init",
        CpuPhase.Gather => "gather",
        CpuPhase.FirstForwardGemm => "gemm_forward_first_layer",
        CpuPhase.FirstWeightGradientGemm => "gemm_weight_gradient_first_layer",
        CpuPhase.Tail => "tail",
        CpuPhase.Optimizer => "optimizer",
        CpuPhase.Vote => "vote",
        _ => throw new ArgumentOutOfRangeException(nameof(phase)),
    };

    /// <summary>Records one profiled run of <paramref name="threads"/> workers that took <paramref name="wallSeconds"/>.</summary>
    internal void AddRun(int threads, double wallSeconds)
    {
        Threads = threads;
        WallSeconds += wallSeconds;
        _threadWallSeconds += threads * wallSeconds;
        lock (_gate)
        {
            _idleAtEndSeconds += Math.Max(0, _pendingWorkers * wallSeconds - _pendingEnds);
            (_pendingEnds, _pendingWorkers) = (0, 0);
        }
    }

    /// <summary>
    /// Adds one worker's phase seconds and CPU seconds, and its start and end in seconds since the run started
    /// (called once per worker, at its end).
    /// </summary>
    internal void Add(double[] seconds, double cpuSeconds, double startSeconds, double endSeconds)
    {
        lock (_gate)
        {
            for (int p = 0; p < PhaseCount; p++) _seconds[p] += seconds[p];
            CpuSeconds += cpuSeconds;
            _workerWallSeconds += endSeconds - startSeconds;
            _pendingEnds += endSeconds;
            _pendingWorkers++;
        }
    }

    /// <summary>CPU seconds the calling thread has run (Linux thread CPU clock; elsewhere NaN).</summary>
    internal static double ThreadCpuSeconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        try { return clock_gettime(ClockThreadCpuTime, out var ts) == 0 ? ts.Seconds + ts.Nanoseconds * 1e-9 : double.NaN; }
        catch (DllNotFoundException) { return double.NaN; }
        catch (EntryPointNotFoundException) { return double.NaN; }
    }

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec { public long Seconds; public long Nanoseconds; }

    [DllImport("libc", SetLastError = false)]
    private static extern int clock_gettime(int clock, out TimeSpec time);
}

/// <summary>
/// One worker's phase clock: <see cref="Lap"/> charges the time since the previous lap to a phase, on the thread
/// CPU clock where there is one (else the wall clock). No locking; merged at the end.
/// </summary>
internal sealed class CpuPhaseClock
{
    public readonly double[] Seconds = new double[CpuPhaseProfile.PhaseCount];
    private readonly bool _cpu = CpuPhaseProfile.PhasesInCpuTime;
    private double _last;

    public CpuPhaseClock() => _last = Now();

    private double Now() => _cpu ? CpuPhaseProfile.ThreadCpuSeconds() : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>Restarts the lap without charging anything (time since the last lap belongs to no phase).</summary>
    public void Restart() => _last = Now();

    /// <summary>Charges the time since the last lap to <paramref name="phase"/>.</summary>
    public void Lap(CpuPhase phase)
    {
        double now = Now();
        Seconds[(int)phase] += now - _last;
        _last = now;
    }
}

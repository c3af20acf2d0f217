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
    /// <summary>
    /// MLP: everything after the first layer with parameters (later layers' forward and backward, softmax cross-entropy,
    /// ReLU backward, bias gradients). Layer-list model: only the softmax cross-entropy and the loss sum (each layer has
    /// its own <see cref="CpuLayerPhases"/> phases).
    /// </summary>
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
/// workers were runnable but descheduled. For a layer-list model (anything but an MLP) the first-layer and tail
/// phases are replaced by one phase per layer and direction (<see cref="CpuLayerPhases"/>: conv1_forward,
/// conv1_backward_weight, conv2_backward_input, pool1_forward, dense1_backward, …) and tail is the loss alone; an
/// MLP keeps the <see cref="CpuPhase"/> list. Set one as <see cref="CpuEnsembleBackend.Profile"/> (or use
/// <see cref="Measure"/>); timing reads the clock once per phase and does not change any result.
/// </summary>
internal sealed class CpuPhaseProfile
{
    private double[] _seconds = new double[PhaseCount]; // CpuPhase values, then the layer phases of LayerPhases
    private readonly object _gate = new();
    private double _workerWallSeconds; // Σ over workers of (worker end − worker start)
    private double _runQueueSeconds;   // Σ over workers of the time they were runnable but waited for a core; NaN when unknown
    private double _pendingEnds;       // Σ of this run's worker ends (seconds since the run started), until AddRun
    private int _pendingWorkers;
    private double _idleAtEndSeconds;

    /// <summary>Number of <see cref="CpuPhase"/> values.</summary>
    public static readonly int PhaseCount = Enum.GetValues<CpuPhase>().Length;

    private double _threadWallSeconds;

    /// <summary>The per-layer phases of the profiled layer-list model; null for an MLP (or before any run).</summary>
    internal CpuLayerPhases? LayerPhases { get; private set; }

    /// <summary>Whether the profiled model is a layer list (per-layer phases) rather than an MLP (the <see cref="CpuPhase"/> list).</summary>
    public bool HasLayerPhases => LayerPhases != null;

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

    /// <summary>
    /// Seconds workers were runnable but waited for a core: other load on a shared machine (the kernel's run-queue wait,
    /// /proc/thread-self/schedstat; where that is unavailable, worker wall − worker CPU). 0 without a CPU clock.
    /// </summary>
    public double DescheduledSeconds => double.IsNaN(CpuSeconds) ? 0
        : double.IsNaN(_runQueueSeconds) ? Math.Max(0, _workerWallSeconds - CpuSeconds) : Math.Min(_runQueueSeconds, Math.Max(0, _workerWallSeconds - CpuSeconds));

    /// <summary>
    /// Seconds workers were neither running nor waiting for a core (worker wall − CPU − run-queue wait): blocked inside
    /// the process (a garbage-collection pause, a page fault served from disk, a lock). 0 where the run-queue wait is unknown.
    /// </summary>
    public double BlockedSeconds => double.IsNaN(CpuSeconds) || double.IsNaN(_runQueueSeconds) ? 0
        : Math.Max(0, _workerWallSeconds - CpuSeconds - DescheduledSeconds);

    /// <summary>
    /// Threading overhead: threads × wall minus the phases and the descheduled time, i.e. worker CPU outside any
    /// phase (trainer set-up, progress), thread start, and workers idle at the end while the last models finish.
    /// </summary>
    public double ThreadingSeconds => Math.Max(0, _threadWallSeconds - DescheduledSeconds - BlockedSeconds - _seconds.Sum());

    /// <summary>Of <see cref="ThreadingSeconds"/>, the part where finished workers waited for the others (load imbalance at the end of the run).</summary>
    public double IdleAtEndSeconds => _idleAtEndSeconds;

    /// <summary>Share of threads × wall spent in <paramref name="phase"/>.</summary>
    public double Share(CpuPhase phase) => _threadWallSeconds > 0 ? Seconds(phase) / _threadWallSeconds : 0;

    /// <summary>
    /// The phases in report order, each with its seconds, its share of threads × wall and the forward multiply–adds per
    /// training example it computes (0 where it is not a conv or dense product). MLP: the <see cref="CpuPhase"/> values
    /// by <see cref="Key"/>, as before layer lists. Layer-list model: noise, init, gather, each layer's forward in model
    /// order, tail (the loss), each layer's backward in reverse order, optimizer, vote.
    /// </summary>
    public IReadOnlyList<(string Key, double Seconds, double Share, long MacsPerExample)> PhaseRows()
    {
        var rows = new List<(string, double, double, long)>();
        void Add(string key, double seconds, long macs) => rows.Add((key, seconds, _threadWallSeconds > 0 ? seconds / _threadWallSeconds : 0, macs));
        void AddPhase(CpuPhase p) => Add(Key(p), Seconds(p), 0);
        if (LayerPhases is not { } layers)
        {
            foreach (var p in Enum.GetValues<CpuPhase>()) AddPhase(p);
            return rows;
        }
        AddPhase(CpuPhase.Noise);
        AddPhase(CpuPhase.Init);
        AddPhase(CpuPhase.Gather);
        for (int i = 0; i < layers.Count; i++)
            if (layers[i].Forward) Add(layers[i].Key, _seconds[PhaseCount + i], layers[i].Macs);
        AddPhase(CpuPhase.Tail);
        for (int i = 0; i < layers.Count; i++)
            if (!layers[i].Forward) Add(layers[i].Key, _seconds[PhaseCount + i], layers[i].Macs);
        AddPhase(CpuPhase.Optimizer);
        AddPhase(CpuPhase.Vote);
        return rows;
    }

    /// <summary>Share of threads × wall that is threading overhead.</summary>
    public double ThreadingShare => _threadWallSeconds > 0 ? ThreadingSeconds / _threadWallSeconds : 0;

    /// <summary>Share of threads × wall that workers spent descheduled.</summary>
    public double DescheduledShare => _threadWallSeconds > 0 ? DescheduledSeconds / _threadWallSeconds : 0;

    /// <summary>Share of threads × wall that workers spent blocked.</summary>
    public double BlockedShare => _threadWallSeconds > 0 ? BlockedSeconds / _threadWallSeconds : 0;

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
    internal void Add(double[] seconds, CpuLayerPhases? layerPhases, double cpuSeconds, double startSeconds, double endSeconds,
        double runQueueSeconds = double.NaN)
    {
        lock (_gate)
        {
            if (layerPhases != null && LayerPhases == null)
            {
                LayerPhases = layerPhases;
                Array.Resize(ref _seconds, PhaseCount + layerPhases.Count);
            }
            else if ((layerPhases?.Count ?? 0) != (LayerPhases?.Count ?? 0) || (layerPhases != null && !layerPhases.SameKeys(LayerPhases!)))
                throw new InvalidOperationException("one profile covers runs of one model");
            for (int p = 0; p < _seconds.Length; p++) _seconds[p] += seconds[p];
            CpuSeconds += cpuSeconds;
            _runQueueSeconds += runQueueSeconds; // one worker without it makes the sum unknown (NaN)
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

    /// <summary>
    /// Seconds the calling thread has been runnable but waiting for a core (Linux: the second field of
    /// /proc/thread-self/schedstat, nanoseconds); NaN where the kernel does not provide it.
    /// </summary>
    internal static double ThreadRunQueueSeconds()
    {
        if (!OperatingSystem.IsLinux()) return double.NaN;
        try
        {
            var fields = File.ReadAllText("/proc/thread-self/schedstat").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length >= 2 && long.TryParse(fields[1], out long ns) ? ns * 1e-9 : double.NaN;
        }
        catch (IOException) { return double.NaN; }
        catch (UnauthorizedAccessException) { return double.NaN; }
    }

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
    /// <summary>Seconds per <see cref="CpuPhase"/>, then per layer phase (<see cref="LapLayer"/>).</summary>
    public readonly double[] Seconds;
    private readonly bool _cpu = CpuPhaseProfile.PhasesInCpuTime;
    private double _last;

    /// <param name="layerPhases">Number of per-layer phases (<see cref="CpuLayerPhases.Count"/>; 0 for an MLP).</param>
    public CpuPhaseClock(int layerPhases = 0)
    {
        Seconds = new double[CpuPhaseProfile.PhaseCount + layerPhases];
        _last = Now();
    }

    private double Now() => _cpu ? CpuPhaseProfile.ThreadCpuSeconds() : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>Restarts the lap without charging anything (time since the last lap belongs to no phase).</summary>
    public void Restart() => _last = Now();

    /// <summary>Charges the time since the last lap to <paramref name="phase"/>.</summary>
    public void Lap(CpuPhase phase) => LapSlot((int)phase);

    /// <summary>Charges the time since the last lap to layer phase <paramref name="index"/> (<see cref="CpuLayerPhases"/>); nothing for −1.</summary>
    public void LapLayer(int index)
    {
        if (index >= 0) LapSlot(CpuPhaseProfile.PhaseCount + index);
    }

    private void LapSlot(int slot)
    {
        double now = Now();
        Seconds[slot] += now - _last;
        _last = now;
    }
}

/// <summary>Which pass of a layer a <see cref="CpuLayerPhases"/> phase times.</summary>
internal enum LayerPass
{
    Forward = 0,
    /// <summary>Weight and bias gradients (a convolution's transposed im2col, dW GEMM and bias sums); the whole backward of a dense layer.</summary>
    BackwardWeight = 1,
    /// <summary>The input gradient (a convolution's Wᵀ·dY GEMM and col2im); the backward of a layer without parameters.</summary>
    BackwardInput = 2,
}

/// <summary>
/// The per-layer phases of a layer-list model's profile: one per (layer, pass) the trainer runs, named by the layer's
/// kind and ordinal (conv1, conv2, pool1, relu3, flatten1, dense2) and the pass (<c>_forward</c>, <c>_backward_weight</c>
/// and <c>_backward_input</c> for a convolution, <c>_backward</c> otherwise). A dense layer's backward (weights and
/// input together) is one phase; the first parameter layer has no input-gradient pass, and layers before it no
/// backward. Built from the trainer's plan, so the trainer's laps and the names agree by construction.
/// </summary>
internal sealed class CpuLayerPhases
{
    private readonly List<(string Key, bool Forward, long Macs)> _phases = [];
    private readonly int[] _index; // [3·step + pass] → phase index, −1 when the trainer does not run that pass

    public int Count => _phases.Count;
    public (string Key, bool Forward, long Macs) this[int i] => _phases[i];

    /// <summary>The phase index of <paramref name="pass"/> of step <paramref name="step"/>, −1 when it is not run.</summary>
    public int Index(int step, LayerPass pass) => _index[3 * step + (int)pass];

    public bool SameKeys(CpuLayerPhases other) => _phases.Select(p => p.Key).SequenceEqual(other._phases.Select(p => p.Key));

    /// <summary>The phases of <paramref name="layers"/> (the trainer's steps; <paramref name="skipForward"/>[s] when step s's
    /// forward is fused into the previous one), given the first step that has parameters.</summary>
    public CpuLayerPhases(IReadOnlyList<ResolvedLayer> layers, IReadOnlyList<bool> skipForward, IReadOnlyList<bool> skipBackward, int firstParameterStep)
    {
        _index = Enumerable.Repeat(-1, 3 * layers.Count).ToArray();
        var names = new string[layers.Count];
        var ordinals = new Dictionary<LayerKind, int>();
        for (int s = 0; s < layers.Count; s++)
        {
            var kind = layers[s].Spec.Kind;
            ordinals[kind] = ordinals.GetValueOrDefault(kind) + 1;
            names[s] = kind switch { LayerKind.Conv2d => "conv", LayerKind.MaxPool2d => "pool", LayerKind.Dense => "dense", LayerKind.Relu => "relu", _ => "flatten" }
                       + ordinals[kind].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        void Add(int s, LayerPass pass, string suffix, long macs)
        {
            _index[3 * s + (int)pass] = _phases.Count;
            _phases.Add((names[s] + suffix, pass == LayerPass.Forward, macs));
        }
        for (int s = 0; s < layers.Count; s++)
            if (!skipForward[s]) Add(s, LayerPass.Forward, "_forward", layers[s].Spec.HasParameters ? layers[s].ForwardMacs : 0);
        for (int s = layers.Count - 1; s >= firstParameterStep; s--)
        {
            if (skipBackward[s]) continue;
            var l = layers[s];
            if (l.Spec.Kind == LayerKind.Conv2d)
            {
                Add(s, LayerPass.BackwardWeight, "_backward_weight", l.ForwardMacs);
                if (s > firstParameterStep) Add(s, LayerPass.BackwardInput, "_backward_input", l.ForwardMacs);
            }
            else if (l.Spec.Kind == LayerKind.Dense)
                Add(s, LayerPass.BackwardWeight, "_backward", s > firstParameterStep ? 2 * l.ForwardMacs : l.ForwardMacs);
            else if (s > firstParameterStep)
                Add(s, LayerPass.BackwardInput, "_backward", 0);
        }
    }
}

using NativeCert.Data;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// The CPU engine: trains noisy MLPs with the SIMD kernels, one model per thread at a time (each thread owns a
/// <see cref="CpuTrainer"/> workspace), and adds their votes. Models are handed out in order from a shared
/// counter; each model's votes depend only on (config, m, data), and integer vote counts add in any order, so
/// results are bit-identical for any thread count and any split of the model range. Every call first checks its
/// <see cref="CpuMemoryPlan"/> against the memory available.
/// </summary>
internal sealed class CpuEnsembleBackend : IEnsembleBackend
{
    private readonly int _threads;
    private readonly IsaLevel _isa;

    /// <summary>
    /// Whether a worker with no model left lends its core to one still training (<see cref="CpuAssist"/>); a benchmark
    /// knob (`ab assist`): the same bits either way.
    /// </summary>
    internal static bool AssistsLastModels = true;

    /// <param name="threads">Worker threads (models trained concurrently); ≤ 0 means all logical processors.</param>
    /// <param name="isa">Widest SIMD level to use (clamped to the CPU); lower it to test the fallbacks.</param>
    public CpuEnsembleBackend(int threads = 0, IsaLevel isa = IsaLevel.Avx512)
    {
        _threads = threads > 0 ? threads : Environment.ProcessorCount;
        _isa = CpuIsa.Clamp(isa);
    }

    public string Name => "cpu";
    public int Threads => _threads;
    public int ModelsInParallel => _threads;
    public IsaLevel Isa => _isa;
    public string Device => $"{CpuIsa.ModelName()} ({_threads} threads, {CpuIsa.Name(_isa)})";

    /// <summary>
    /// When set, every following run adds its per-phase times to it (results are unchanged; null, the default, times nothing).
    /// </summary>
    public CpuPhaseProfile? Profile { get; set; }

    public void Run(EnsembleConfig config, Dataset train, Dataset inputs, int modelStart, int modelEnd,
        VoteCounts votes, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default) =>
        Run(config, train, inputs, modelStart, modelEnd, votes, keptParameters: null, progress, cancellation);

    /// <summary>
    /// Trains models [modelStart, modelEnd) and, when <paramref name="inputs"/> is not null, adds their votes into
    /// <paramref name="votes"/>. When <paramref name="keptParameters"/> is given <c>(modelEnd − modelStart, P)</c>,
    /// each model's trained parameters are copied there (for <see cref="EnsembleFile"/>); otherwise they are discarded.
    /// </summary>
    public void Run(EnsembleConfig config, Dataset train, Dataset? inputs, int modelStart, int modelEnd,
        VoteCounts? votes, float[]? keptParameters, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        int p = new ParameterLayout(config.Model).Count;
        if (keptParameters != null && keptParameters.Length != (long)(modelEnd - modelStart) * p)
            throw new ArgumentException("keptParameters must hold (models, parameters) floats");
        var sink = keptParameters is null ? null : new SpanSink(keptParameters, modelStart, p);
        Run(config, train, inputs, modelStart, modelEnd, votes, sink, progress, cancellation);
    }

    private sealed class SpanSink(float[] kept, int start, int p) : IModelSink
    {
        public void Accept(int model, ReadOnlySpan<float> parameters) => parameters.CopyTo(kept.AsSpan((model - start) * p, p));
    }

    /// <summary>
    /// A session of the CPU engine: nothing is uploaded or compiled, so each chunk is one <see cref="Run(EnsembleConfig, Dataset, Dataset?, int, int, VoteCounts?, IModelSink?, IProgress{EnsembleProgress}?, CancellationToken)"/>;
    /// trained models go to the sink.
    /// </summary>
    public IEnsembleSession Open(EnsembleConfig config, Dataset train, Dataset inputs, int models) => new Session(this, config, train, inputs);

    private sealed class Session(CpuEnsembleBackend backend, EnsembleConfig config, Dataset train, Dataset inputs) : IEnsembleSession
    {
        public void Run(int modelStart, int modelEnd, VoteCounts votes, IModelSink? models = null,
                        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default) =>
            backend.Run(config, train, inputs.Count == 0 && votes.Inputs == 0 ? null : inputs, modelStart, modelEnd,
                        inputs.Count == 0 && votes.Inputs == 0 ? null : votes, models, progress, cancellation);

        public void Dispose() { }
    }

    /// <summary>
    /// Trains models [modelStart, modelEnd) and, when <paramref name="inputs"/> is not null, adds their votes into
    /// <paramref name="votes"/>; each trained model goes to <paramref name="models"/> when given (from the worker
    /// thread that trained it), otherwise it is discarded.
    /// </summary>
    public void Run(EnsembleConfig config, Dataset train, Dataset? inputs, int modelStart, int modelEnd,
        VoteCounts? votes, IModelSink? models, IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(train);
        if (modelStart < 0 || modelEnd < modelStart) throw new ArgumentOutOfRangeException(nameof(modelEnd), "model range must satisfy 0 ≤ start ≤ end");
        // Before any workspace exists: a plan that cannot fit is refused naming the option, not OOM-killed.
        CpuMemoryPlan.CheckFits(config, train.Count, inputs?.Count ?? 0, _threads, modelEnd - modelStart);
        if (inputs != null)
        {
            ArgumentNullException.ThrowIfNull(votes);
            if (votes.Inputs != inputs.Count || votes.Classes != config.Model.Classes)
                throw new ArgumentException($"vote counts are ({votes.Inputs}, {votes.Classes}) but there are {inputs.Count} inputs and {config.Model.Classes} classes");
        }
        int count = modelEnd - modelStart;
        if (count == 0) return;

        var view = config.View.Bind(train, config.Seed);
        int threads = Math.Min(_threads, count);
        int next = modelStart - 1, done = 0;
        var partial = new VoteCounts?[threads];
        var errors = new Exception?[threads];
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var profile = Profile;
        // A worker with no model left helps one still training (CpuAssist), where every worker has a core of its own and
        // the model's first layer splits.
        bool assists = AssistsLastModels && threads > 1 && threads <= Environment.ProcessorCount && CpuTrainer.SplitsFirstLayer(config.Model);
        var assist = new CpuAssist[threads];
        for (int w = 0; w < threads; w++) assist[w] = new CpuAssist();
        long startTicks = System.Diagnostics.Stopwatch.GetTimestamp();

        void Worker(int w)
        {
            double cpuStart = profile != null ? CpuPhaseProfile.ThreadCpuSeconds() : 0;
            double queueStart = profile != null ? CpuPhaseProfile.ThreadRunQueueSeconds() : 0;
            double wallStart = System.Diagnostics.Stopwatch.GetElapsedTime(startTicks).TotalSeconds;
            CpuTrainer? trainer = null;
            try
            {
                trainer = new CpuTrainer(config, _isa) { Assist = assists ? assist[w] : null };
                if (profile != null) trainer.Clock = new CpuPhaseClock(trainer.LayerPhases?.Count ?? 0);
                VoteCounts? mine = inputs != null ? new VoteCounts(inputs.Count, config.Model.Classes) : null;
                partial[w] = mine;
                int m;
                while ((m = Interlocked.Increment(ref next)) < modelEnd)
                {
                    failed.Token.ThrowIfCancellationRequested();
                    trainer.Train(train, m, cancellation: failed.Token, rows: view.Of(m));
                    if (inputs != null) trainer.Vote(inputs, m, mine!);
                    models?.Accept(m, trainer.Parameters);
                    progress?.Report(new EnsembleProgress(Interlocked.Increment(ref done), count));
                }
            }
            catch (Exception e)
            {
                errors[w] = e;
                failed.Cancel();
            }
            finally
            {
                assist[w].Close();
            }
            if (assists && errors[w] == null) Help(w, trainer?.Clock);
            if (profile != null && trainer?.Clock != null)
                profile.Add(trainer.Clock.Seconds, trainer.LayerPhases, CpuPhaseProfile.ThreadCpuSeconds() - cpuStart, wallStart,
                    System.Diagnostics.Stopwatch.GetElapsedTime(startTicks).TotalSeconds, CpuPhaseProfile.ThreadRunQueueSeconds() - queueStart);
        }

        // Serves each other worker still training, one after another, that no other helper has taken.
        void Help(int w, CpuPhaseClock? clock)
        {
            for (bool served = true; served && !failed.IsCancellationRequested;)
            {
                served = false;
                for (int o = 0; o < threads && !served; o++)
                    if (o != w && assist[o].TryClaim())
                    {
                        assist[o].Serve(clock);
                        served = true;
                    }
            }
        }

        if (threads == 1) Worker(0);
        else
        {
            var workers = new Thread[threads];
            for (int w = 0; w < threads; w++)
            {
                int id = w;
                workers[w] = new Thread(() => Worker(id)) { IsBackground = true, Name = $"nativecert-cpu-{id}" };
                workers[w].Start();
            }
            foreach (var t in workers) t.Join();
        }
        profile?.AddRun(threads, System.Diagnostics.Stopwatch.GetElapsedTime(startTicks).TotalSeconds);

        cancellation.ThrowIfCancellationRequested();
        var first = errors.FirstOrDefault(e => e != null && e is not OperationCanceledException) ?? errors.FirstOrDefault(e => e != null);
        if (first != null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(first).Throw();
        if (votes != null)
            foreach (var p in partial) if (p != null) votes.Add(p);
    }

    public void Dispose() { }
}

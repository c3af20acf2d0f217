using System.Collections.Concurrent;
using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert;

/// <summary>
/// A trained noisy ensemble deployed as a certified classifier: give it one new input, get the smoothed prediction
/// (or abstain), the bounds p_A and p_B, and the certified ℓ2 radius. The shape of Cohen et al.'s
/// <c>Smooth.certify(x, n0, n, alpha)</c> and IBM ART's <c>certify(x, n) → (prediction, radius)</c>, with the ensemble
/// fixed: N is the number of stored models, each model votes once on the input plus its own test-noise draw, and the
/// votes are bounded by SimuEM (Jia et al. 2020: Clopper–Pearson at α/C per class).
/// <para>
/// Guarantee of each <see cref="Certify(ReadOnlySpan{float}, CancellationToken)"/> result: with probability ≥ 1 − α over
/// the models' noise, the smoothed prediction is the same for every change of the training features and of the input
/// whose total ℓ2 norm, in input units (the units of the features the ensemble was trained on, e.g. pixels in [0,1]),
/// is below the radius. A trigger of norm t on m training examples and on the input is covered when t·√(m+1) &lt; R.
/// </para>
/// <para>
/// Thread-safe: any number of callers may certify concurrently; the instance is immutable after construction.
/// Deterministic: the same input gives the same certificate on every call, every thread count and every machine with
/// the same ISA level, and equals <c>nativecert vote</c> then <c>certify-counts</c> on a dataset whose first row is the
/// input (model m votes with its test noise for row 0). Runs on the CPU SIMD engine: one input costs N forward
/// passes, far below what a GPU round trip would save.
/// </para>
/// </summary>
public sealed class SmoothedClassifier
{
    /// <summary>α used when the caller gives none: one-sided failure probability of each certificate.</summary>
    public const double DefaultAlpha = 0.001;

    private readonly EnsembleFile _ensemble;
    private readonly int _threads;
    private readonly BoundCache _bounds = new();
    // Trainers own megabytes of buffers (sized for a training batch): reused across calls instead of allocated per
    // input, so a busy service does not churn the large-object heap. At most one per concurrently voting thread.
    private readonly ConcurrentBag<CpuTrainer> _trainers = new();

    private SmoothedClassifier(EnsembleFile ensemble, double alpha, int threads)
    {
        if (!(alpha > 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in (0, 1)");
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        if (ensemble.ModelCount == 0) throw new ArgumentException("the ensemble holds no models", nameof(ensemble));
        if (!(ensemble.Config.Sigma > 0)) throw new ArgumentException("the ensemble was trained with sigma = 0: there is no smoothing to certify with", nameof(ensemble));
        _ensemble = ensemble;
        Alpha = alpha;
        _threads = threads;
    }

    /// <summary>Features per input (the ensemble's input width).</summary>
    public int InputDimension => _ensemble.Config.Model.InputSize;

    /// <summary>Number of classes C; predictions are in [0, C) or −1 (abstain).</summary>
    public int Classes => _ensemble.Config.Model.Classes;

    /// <summary>
    /// The dataset's class id of each output (prediction k means class <c>ClassIds[k]</c>, e.g. 1 and 7 for an ensemble
    /// trained with <c>data.classes</c> [1, 7]); null when the file records none (then prediction k is class k).
    /// </summary>
    public IReadOnlyList<int>? ClassIds => _ensemble.ClassIds;

    /// <summary>N: models that vote on every input.</summary>
    public int Models => _ensemble.ModelCount;

    /// <summary>σ: standard deviation of the smoothing noise on every feature, input units.</summary>
    public double Sigma => _ensemble.Config.Sigma;

    /// <summary>α: one-sided failure probability of each certificate.</summary>
    public double Alpha { get; }

    /// <summary>The models behind this classifier (advanced use: config, parameters, saving).</summary>
    internal EnsembleFile Ensemble => _ensemble;

    /// <summary>Loads an ensemble file written by <c>nativecert train</c> or <see cref="Save"/>.</summary>
    /// <param name="path">Ensemble file.</param>
    /// <param name="alpha">One-sided failure probability of each certificate, in (0, 1).</param>
    /// <param name="threads">CPU threads one certification may use; 0 = all logical processors.</param>
    /// <exception cref="UserInputException">The file is missing, unreadable or not a valid ensemble file (the message names it).</exception>
    public static SmoothedClassifier Load(string path, double alpha = DefaultAlpha, int threads = 0) =>
        new(EnsembleFile.Load(path), alpha, threads);

    /// <summary>Wraps an ensemble already in memory (advanced: one trained with the engine directly, <see cref="EnsembleFile.Train"/>).</summary>
    internal static SmoothedClassifier FromEnsemble(EnsembleFile ensemble, double alpha = DefaultAlpha, int threads = 0) =>
        new(ensemble ?? throw new ArgumentNullException(nameof(ensemble)), alpha, threads);

    /// <summary>
    /// Trains the ensemble <paramref name="spec"/> describes (model, training, σ, seed, N = <c>smoothing.models</c>; an
    /// attack in the spec poisons the training set first) on the CPU engine, exactly as <c>nativecert train</c> would,
    /// and deploys it with α = <c>certification.alpha</c>. Certification is SimuEM: a spec with method cohen is refused.
    /// </summary>
    /// <param name="spec">The job; <see cref="JobSpec.Default"/> holds the defaults.</param>
    /// <param name="data">null: the data the spec names (built-in <c>mnist</c>, or a path such as <c>csv:FILE</c>);
    /// otherwise in-memory data used as given (the spec's data selection fields must be unset).</param>
    /// <param name="threads">CPU threads for training and for each certification; 0 = all logical processors.</param>
    /// <param name="progress">Reported after each model: models trained so far, of N.</param>
    /// <param name="cancellation">Stops training between models (and between epochs).</param>
    /// <exception cref="SpecException">An invalid field, named by its path (e.g. <c>smoothing.sigma</c>).</exception>
    public static Task<SmoothedClassifier> TrainAsync(JobSpec spec, DataSplit? data = null, int threads = 0,
        IProgress<JobProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        if (data is not null)
        {
            InMemoryData.Check(data, spec.Data);
            spec = spec with { Data = spec.Data with { Dataset = InMemoryData.Prefix + data.Name } };
        }
        spec = spec.Validate();
        if (spec.Smoothing.Method != SmoothingSpec.SimuEM)
            throw SpecException.Invalid("smoothing.method", spec.Smoothing.Method, "a deployed classifier certifies with simuem (every model bounds every class)");
        return Task.Run(() =>
        {
            JobData job = data is null ? JobData.Load(spec) : JobData.FromSplit(spec, data);
            EnsembleConfig config = spec.ToEnsembleConfig(job.Train.Dimension, job.Train.ClassCount);
            int models = spec.Smoothing.Models;
            using var backend = new CpuEnsembleBackend(threads);
            var ensemble = EnsembleFile.Train(backend, config, job.Train, 0, models, progress is null ? null : new Forward(progress, models), cancellation, job.Split.ClassIds);
            return new SmoothedClassifier(ensemble, spec.Certification.Alpha, threads);
        }, cancellation);
    }

    /// <summary>Engine progress as job progress, on the reporting thread (in order, before training returns).</summary>
    private sealed class Forward(IProgress<JobProgress> progress, int total) : IProgress<EnsembleProgress>
    {
        private readonly Lock _lock = new();
        public void Report(EnsembleProgress value) { lock (_lock) progress.Report(new JobProgress(value.ModelsDone, total)); }
    }

    /// <summary>Saves the ensemble atomically, in the format <c>nativecert train</c> writes.</summary>
    public void Save(string path) => _ensemble.Save(path);

    /// <summary>
    /// Votes of the N models on one input, one count per class (they sum to N): model m classifies
    /// input + σ·z(m), z(m) its own standard Gaussian test-noise draw.
    /// </summary>
    /// <param name="input"><see cref="InputDimension"/> finite features, input units.</param>
    /// <param name="cancellation">Stops voting between models.</param>
    /// <exception cref="ArgumentException">Wrong length or a non-finite feature.</exception>
    public uint[] Vote(ReadOnlySpan<float> input, CancellationToken cancellation = default)
    {
        CheckInput(input);
        var row = new Dataset(input.ToArray(), [0], input.Length, Classes, null, "input");
        int models = _ensemble.ModelCount;
        int workers = Math.Min(_threads > 0 ? _threads : Environment.ProcessorCount, models);
        var votes = new VoteCounts(1, Classes);
        if (workers == 1)
        {
            VoteModels(row, votes, 0, models, cancellation);
            return votes.Counts;
        }
        // Contiguous model ranges, one per worker: integer counts add up the same in any order (bit-identical for any thread count).
        var partial = new VoteCounts[workers];
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancellation }, w =>
        {
            partial[w] = new VoteCounts(1, Classes);
            VoteModels(row, partial[w], (int)((long)models * w / workers), (int)((long)models * (w + 1) / workers), cancellation);
        });
        foreach (var p in partial) votes.Add(p);
        return votes.Counts;
    }

    /// <summary>
    /// Certifies one input: the class most models vote for, p_A (lower confidence bound on its probability), p_B
    /// (upper bound on the runner-up's) and the certified radius R = σ/2 (Φ⁻¹(p_A) − Φ⁻¹(p_B)), ℓ2 in input units;
    /// or abstain (<see cref="Certificate.Prediction"/> = −1, R = 0) when p_A ≤ p_B. Each bound holds one-sided at α/C.
    /// </summary>
    /// <param name="input"><see cref="InputDimension"/> finite features, input units.</param>
    /// <param name="cancellation">Stops voting between models.</param>
    /// <exception cref="ArgumentException">Wrong length or a non-finite feature (the message says which).</exception>
    public Certificate Certify(ReadOnlySpan<float> input, CancellationToken cancellation = default)
    {
        var counts = new VoteCounts(1, Classes, Vote(input, cancellation));
        return Certifier.CertifySimuEM(counts, Sigma, Alpha, cache: _bounds)[0];
    }

    /// <summary>Stored models [first, end) vote on <paramref name="row"/> (model index ModelStart + i keys its test noise).</summary>
    private void VoteModels(Dataset row, VoteCounts votes, int first, int end, CancellationToken cancellation)
    {
        if (!_trainers.TryTake(out CpuTrainer? trainer)) trainer = new CpuTrainer(_ensemble.Config);
        try
        {
            for (int i = first; i < end; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                _ensemble.Model(i).CopyTo(trainer.Parameters);
                trainer.Vote(row, _ensemble.ModelStart + i, votes);
            }
        }
        finally { _trainers.Add(trainer); }
    }

    // The messages carry no parameter suffix so that services can show them to clients as one line.
    private void CheckInput(ReadOnlySpan<float> input)
    {
        if (input.Length != InputDimension)
            throw new ArgumentException($"input has {input.Length} features but the ensemble's models take {InputDimension}");
        for (int i = 0; i < input.Length; i++)
            if (!float.IsFinite(input[i]))
                throw new ArgumentException($"input feature {i} is {input[i]}; every feature must be finite");
    }
}

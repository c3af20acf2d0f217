using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Kernels;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert;

/// <summary>How and where a <see cref="CertificationJob"/> runs; none of it changes the votes beyond float rounding between backends.</summary>
public sealed record JobOptions
{
    /// <summary>cpu, cuda, ilgpu-cpu or auto (CUDA when a device starts, else cpu).</summary>
    public string Backend { get; init; } = BackendFactory.Auto;
    /// <summary>CPU threads; 0 = all logical processors.</summary>
    public int Threads { get; init; }
    /// <summary>Models per durable chunk; 0 sizes chunks to about 5 s each.</summary>
    public int ChunkModels { get; init; }
    /// <summary>
    /// Run directory to write (config.json, votes, certificates, summary, plots: the files <c>nativecert certify</c> writes), which
    /// must not hold a run yet; null: the job runs in a temporary directory that is deleted when it ends.
    /// </summary>
    public string? RunDirectory { get; init; }
    /// <summary>Where the data description, backend choice and device notes go; null discards them.</summary>
    public TextWriter? Log { get; init; }
}


/// <summary>What a certification job produced.</summary>
public sealed class JobResult
{
    internal JobResult(JobSpec spec, RunSummary summary, string summaryText, Certificate[] certificates, int[] labels,
                       Certificate[] triggered, int[] triggeredLabels, string backend, string device, string? runDirectory)
    {
        Spec = spec; Summary = summary; SummaryText = summaryText; Certificates = certificates; Labels = labels;
        TriggeredCertificates = triggered; TriggeredLabels = triggeredLabels; Backend = backend; Device = device; RunDirectory = runDirectory;
    }

    /// <summary>The job as it ran (validated, canonical).</summary>
    public JobSpec Spec { get; }
    /// <summary>The headline numbers (summary.json): majority-vote accuracy, abstain rate, certified accuracy by radius, the attack's figures.</summary>
    public RunSummary Summary { get; }
    /// <summary>The summary table as <c>nativecert certify</c> prints it.</summary>
    public string SummaryText { get; }
    /// <summary>One certificate per clean test input, in test-set order (radii ℓ2, input units).</summary>
    public IReadOnlyList<Certificate> Certificates { get; }
    /// <summary>True labels of the clean test inputs (the model's outputs 0..C−1).</summary>
    public IReadOnlyList<int> Labels { get; }
    /// <summary>Certificates of the triggered test inputs (attack jobs; empty otherwise).</summary>
    public IReadOnlyList<Certificate> TriggeredCertificates { get; }
    /// <summary>True labels of the triggered test inputs (their source rows' labels, not the attack's target).</summary>
    public IReadOnlyList<int> TriggeredLabels { get; }
    /// <summary>Backend that ran the job: cpu, cuda or ilgpu-cpu (<c>auto</c> resolved).</summary>
    public string Backend { get; }
    /// <summary>The device it ran on, in words (CPU model and ISA level, or the GPU's name).</summary>
    public string Device { get; }
    /// <summary>The run directory when one was asked for (<see cref="JobOptions.RunDirectory"/>), else null.</summary>
    public string? RunDirectory { get; }
}

/// <summary>
/// The whole certification job as a library call: a <see cref="JobSpec"/> and its data in, certificates and summary
/// numbers out; exactly what <c>nativecert certify</c> computes (the same pipeline, the same files when a run directory
/// is asked for, byte-identical votes).
/// </summary>
public static class CertificationJob
{
    /// <summary>
    /// Trains the spec's ensemble on the (possibly poisoned) training set, lets it vote on every test input (and the
    /// triggered ones of an attack), and certifies each: with probability ≥ 1 − α per input (α one-sided;
    /// jointly over a set with <see cref="CertificationSpec.Simultaneous"/>), no change of the training features and
    /// the input of total ℓ2 norm below the radius (input units) changes the prediction.
    /// </summary>
    /// <param name="spec">The job; <see cref="JobSpec.Default"/> is the CLI's no-option run.</param>
    /// <param name="data">
    /// null: the data <paramref name="spec"/> names (<see cref="DataSpec.Dataset"/>: the built-in <c>mnist</c>, or a
    /// path such as <c>csv:FILE</c> or <c>idx:DIR</c>). Otherwise data in memory (features in input units, labels
    /// 0..C−1), to which the spec's class selection and subset sizes are applied as the loaders do.
    /// </param>
    /// <param name="options">Backend, threads, run directory, log; null for the defaults (auto backend, no directory kept).</param>
    /// <param name="progress">Reported after each finished model.</param>
    /// <param name="cancellation">Stops the job between models; a run directory keeps its last complete chunk (<c>nativecert certify</c> resumes it).</param>
    /// <exception cref="SpecException">A field of <paramref name="spec"/> is invalid (the message names it by its path, e.g. <c>smoothing.sigma</c>).</exception>
    /// <exception cref="UserInputException">The data, the backend or the run directory cannot be used (one line saying why).</exception>
    public static Task<JobResult> RunAsync(JobSpec spec, DataSplit? data = null, JobOptions? options = null,
                                           IProgress<JobProgress>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        options ??= new JobOptions();
        return Task.Run(() => Run(spec, data, options, progress, cancellation), cancellation);
    }

    private static JobResult Run(JobSpec spec, DataSplit? data, JobOptions options, IProgress<JobProgress>? progress, CancellationToken cancellation)
    {
        if (data is not null)
        {
            InMemoryData.Check(data, spec.Data);
            // config.json says where the data came from: not a dataset the CLI could load again.
            spec = spec with { Data = spec.Data with { Dataset = $"{InMemoryData.Prefix}{data.Name}" } };
        }
        spec = spec.Validate().Canonical();
        var execution = new RunExecution { Backend = options.Backend, Threads = options.Threads, ChunkModels = options.ChunkModels };
        if (!BackendFactory.Names.Contains(execution.Backend.Trim().ToLowerInvariant()))
            throw SpecException.Invalid("execution.backend", execution.Backend, $"unknown backend; expected one of {string.Join(", ", BackendFactory.Names)}");
        if (execution.Threads < 0) throw SpecException.Invalid("execution.threads", execution.Threads, "must be at least 0");
        if (execution.ChunkModels < 0) throw SpecException.Invalid("execution.chunk_models", execution.ChunkModels, "must be at least 0");

        string root = options.RunDirectory ?? Path.Combine(Path.GetTempPath(), $"nativecert-job-{Guid.NewGuid():N}");
        if (options.RunDirectory is not null) NativeCert.Runs.RunDirectory.CheckNew(root);
        JobData jobData = data is null ? JobData.Load(spec) : JobData.FromSplit(spec, data);
        RunConfig config = RunConfig.Create(spec, execution, jobData.DataFacts, jobData.AttackFacts);
        var request = new CertifyRequest(config, jobData, root, Resume: false, [$"data: {jobData.Split.Describe()}"]);
        TextWriter log = options.Log ?? TextWriter.Null;
        try
        {
            var models = progress is null ? null : new ModelProgress(progress, spec.TotalModels);
            RunReport report = CertifyPipeline.Run(request, BackendFactory.Create, log, TextWriter.Null, interactiveProgress: false, cancellation, models)
                               ?? throw new InvalidOperationException("a whole job is never a shard");
            var dir = new RunDirectory(root);
            RunConfig ran = RunConfig.Read(dir.ConfigPath);
            VoteFile votes = VoteFile.Read(dir.VotesPath);
            Certificate[] all = RunReport.Certify(ran, votes);
            int[] clean = Rows(votes, InputKind.Clean), triggered = Rows(votes, InputKind.Triggered);
            return new JobResult(spec, report.Summary, report.Text,
                                 clean.Select(i => all[i]).ToArray(), clean.Select(i => votes.Labels[i]).ToArray(),
                                 triggered.Select(i => all[i]).ToArray(), triggered.Select(i => votes.Labels[i]).ToArray(),
                                 ran.Backend?.Name ?? execution.Backend, ran.Backend?.Device ?? "", options.RunDirectory);
        }
        finally
        {
            if (options.RunDirectory is null && Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    private static int[] Rows(VoteFile votes, InputKind kind) => Enumerable.Range(0, votes.Inputs).Where(i => votes.Kinds[i] == kind).ToArray();

    private sealed class ModelProgress(IProgress<JobProgress> progress, int total) : IProgress<int>
    {
        public void Report(int modelsDone) => progress.Report(new JobProgress(modelsDone, total));
    }
}

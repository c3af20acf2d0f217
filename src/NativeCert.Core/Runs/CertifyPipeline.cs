using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>Creates the backend a run asks for: name as given to --backend, threads (0 = all cores), a log for device notes.</summary>
public delegate IEnsembleBackend BackendProvider(string name, int threads, TextWriter log);

/// <summary>
/// Everything a certify run needs once the options are resolved and the data loaded: the ensemble
/// configuration, the (possibly poisoned) training set, the inputs to vote on (clean test rows, then
/// triggered rows), and the run's <see cref="RunConfig"/> without backend facts.
/// </summary>
public sealed record CertifyRequest(
    RunConfig Config,
    EnsembleConfig Ensemble,
    Dataset Train,
    Dataset Inputs,
    InputKind[] Kinds,
    string OutDirectory,
    bool Resume,
    string BackendName,
    int Threads,
    int ChunkSize,
    bool KeepModels = false,
    ModelRange? Shard = null);

/// <summary>Models <c>[Start, End)</c> of a run computed by one process (<c>--models-range a:b</c>).</summary>
public readonly record struct ModelRange(int Start, int End)
{
    /// <summary>Parses "a:b" for <c>--models-range</c>, checked against the run's total models.</summary>
    public static ModelRange Parse(string text, int totalModels)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int a)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int b))
            throw new UserInputException($"--models-range {text}: expected START:END, e.g. 0:500");
        if (!(a < b && b <= totalModels))
            throw new UserInputException($"--models-range {text}: need 0 <= START < END <= {totalModels} (all models of the run, n0 included)");
        return new ModelRange(a, b);
    }

    public override string ToString() => $"{Start}:{End}";
}

/// <summary>
/// The certify job from loaded data to a complete run directory: config.json, then votes chunk by chunk
/// (resumable), then the report files, summary.json last. See <see cref="RunDirectory"/> for the layout.
/// </summary>
public static class CertifyPipeline
{
    /// <summary>Options that may differ when a run is resumed: they change how, not what, is computed.</summary>
    public static readonly IReadOnlySet<string> ExecutionOptions = new HashSet<string> { "--backend", "--threads", "--chunk", "--out", "--resume" };

    /// <summary>Option names recorded for the data fingerprints (not command-line options).</summary>
    public const string TrainFingerprint = "train-data-sha256", InputsFingerprint = "inputs-sha256";

    /// <summary>
    /// Runs (or resumes) the job; returns the report, or null for a shard (<see cref="CertifyRequest.Shard"/>), whose
    /// votes are complete once this returns and are combined by <see cref="ShardMerge"/>. Progress goes to <paramref name="progressWriter"/>.
    /// </summary>
    public static RunReport? Run(CertifyRequest request, BackendProvider backends, TextWriter log, TextWriter progressWriter,
                                bool interactiveProgress, CancellationToken cancellation)
    {
        RunConfig config = request.Config;
        var dir = request.Resume ? RunDirectory.OpenExisting(request.OutDirectory, "--resume") : RunDirectory.CreateNew(request.OutDirectory);
        using IDisposable runLock = dir.Lock("--out");
        VoteFile? stored = null;
        if (request.Resume)
        {
            RunConfig before = RunConfig.Read(dir.ConfigPath);
            var diffs = before.Differences(config, ExecutionOptions);
            if (diffs.Count > 0)
                throw new UserInputException($"--resume: {dir.Root} was run with different options: {string.Join("; ", diffs)}");
            if (File.Exists(dir.VotesPath))
            {
                stored = VoteFile.Read(dir.VotesPath);
                if (!stored.ConfigHash.AsSpan().SequenceEqual(config.HashBytes()))
                    throw new UserInputException($"--resume: {dir.VotesPath} belongs to another configuration (config hash differs from config.json)");
                if (!stored.Labels.AsSpan().SequenceEqual(request.Inputs.Labels) || !stored.Kinds.AsSpan().SequenceEqual(request.Kinds)
                    || stored.SelectionModels != config.SelectionModels)
                    throw new UserInputException($"--resume: {dir.VotesPath} does not match the inputs of this configuration");
                int end = request.Shard?.End ?? config.TotalModels;
                if (stored.ModelsDone > end)
                    throw new UserInputException($"--resume: {dir.VotesPath} already holds models up to {stored.ModelsDone}, past the {end} of this run (--models or --models-range changed in {dir.ConfigPath}?)");
            }
            config = MergeForResume(before, config);
        }

        using IEnsembleBackend backend = backends(request.BackendName, request.Threads, log);
        config.Backend = new RunBackendFacts(backend.Name, backend.Device, request.Threads);
        // Whatever happens next, the directory must not look complete until summary.json is rewritten.
        dir.MarkIncomplete();
        config.Write(dir.ConfigPath);

        var range = request.Shard ?? new ModelRange(0, config.TotalModels);
        var votes = stored ?? new VoteFile(config.HashBytes(), request.Inputs.Labels, request.Kinds, request.Inputs.ClassCount, config.SelectionModels, range.Start);
        if (votes.ModelStart != range.Start)
            throw new UserInputException($"--models-range: {dir.VotesPath} starts at model {votes.ModelStart}, not {range.Start}");
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run: {dir.Root}  backend {backend.Name} ({backend.Device})  models [{range.Start}, {votes.ModelsDone}) of [{range.Start}, {range.End}) done"));

        var clock = Stopwatch.StartNew();
        int doneAtStart = votes.ModelsDone;
        if (config.Attack is not null && votes.Undefended is null)
        {
            // One model trained without smoothing noise on the same poisoned data: the attack's effect undefended.
            var undefended = new VoteCounts(votes.Inputs, votes.Classes);
            backend.Run(request.Ensemble with { Sigma = 0f }, request.Train, request.Inputs, 0, 1, undefended, null, cancellation);
            votes.Undefended = undefended;
            votes.Write(dir.VotesPath);
        }
        else if (!File.Exists(dir.VotesPath))
        {
            votes.Write(dir.VotesPath);
        }

        IEnsembleBackend ensembleBackend = backend;
        // Every backend hands back its trained models through a session's model sink.
        if (request.KeepModels) ensembleBackend = new ModelKeepingBackend(backend, dir.ModelsDirectory);
        var progress = new ProgressReporter(progressWriter, interactiveProgress, range.End, votes.ModelsDone);
        ChunkedEnsembleRun.Run(ensembleBackend, request.Ensemble, request.Train, request.Inputs, votes, range.End,
                               request.ChunkSize, dir.VotesPath, progress, cancellation);
        progress.Finish();
        double seconds = clock.Elapsed.TotalSeconds;

        WriteTiming(dir, backend, votes.ModelsDone - doneAtStart, seconds);
        if (range.Start != 0 || range.End != config.TotalModels) return null;
        return RunReport.Write(dir, config, votes);
    }

    /// <summary>The stored config with the current execution facts; creation time kept.</summary>
    private static RunConfig MergeForResume(RunConfig before, RunConfig now)
    {
        var options = new Dictionary<string, string>(before.Options);
        foreach (string name in ExecutionOptions)
            if (now.Options.TryGetValue(name, out var v)) options[name] = v;
        return before.Restamped(options);
    }

    private static void WriteTiming(RunDirectory dir, IEnsembleBackend backend, int modelsThisProcess, double seconds)
    {
        var timing = new Dictionary<string, object>
        {
            ["backend"] = backend.Name,
            ["device"] = backend.Device,
            ["models_this_process"] = modelsThisProcess,
            ["seconds_this_process"] = Math.Round(seconds, 3),
            ["models_per_second"] = seconds > 0 ? Math.Round(modelsThisProcess / seconds, 3) : 0,
            ["finished_utc"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        AtomicFile.WriteAllText(dir.TimingPath, JsonSerializer.Serialize(timing, RunConfig.Json) + "\n");
    }

    /// <summary>Hex SHA-256 of a dataset's features (float32 bits), labels and class count: identifies the data that voted.</summary>
    public static string Fingerprint(Dataset data)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Features.AsSpan()));
        sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Labels.AsSpan()));
        sha.AppendData(BitConverter.GetBytes(data.Dimension));
        sha.AppendData(BitConverter.GetBytes(data.ClassCount));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The clean test rows followed by the triggered rows, as one input set, with each row's kind.</summary>
    public static (Dataset Inputs, InputKind[] Kinds) AppendTriggered(Dataset test, Dataset? triggered)
    {
        if (triggered is null || triggered.Count == 0) return (test, new InputKind[test.Count]);
        if (triggered.Dimension != test.Dimension) throw new ArgumentException("triggered inputs differ in dimension");
        var features = new float[test.Features.Length + triggered.Features.Length];
        test.Features.CopyTo(features, 0);
        triggered.Features.CopyTo(features, test.Features.Length);
        int[] labels = [.. test.Labels, .. triggered.Labels];
        var kinds = new InputKind[labels.Length];
        kinds.AsSpan(test.Count).Fill(InputKind.Triggered);
        return (new Dataset(features, labels, test.Dimension, test.ClassCount, test.Shape, test.Source + " + triggered"), kinds);
    }
}

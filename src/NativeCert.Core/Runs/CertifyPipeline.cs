using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.IO;
using NativeCert.Spec;

namespace NativeCert.Runs;

/// <summary>Creates the backend a run asks for: name as in <see cref="RunExecution.Backend"/>, threads (0 = all cores), a log for device notes.</summary>
internal delegate IEnsembleBackend BackendProvider(string name, int threads, TextWriter log);

/// <summary>
/// Everything a certify run needs once the spec is resolved and the data loaded: the run's <see cref="RunConfig"/>
/// (spec, execution, facts, hash; without backend facts), the data, the run directory, whether to resume it, and
/// the lines describing the data that are logged once every check has passed.
/// </summary>
internal sealed record CertifyRequest(RunConfig Config, JobData Data, string OutDirectory, bool Resume, IReadOnlyList<string>? Description = null);

/// <summary>Models <c>[Start, End)</c> of a run computed by one process (a shard, <see cref="RunExecution.Shard"/>).</summary>
internal readonly record struct ModelRange(int Start, int End)
{
    /// <summary>Parses "a:b" (the <see cref="RunExecution.Shard"/> field), checked against the run's total models.</summary>
    public static ModelRange Parse(string text, int totalModels)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int a)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int b))
            throw SpecException.Invalid(ShardField, text, "expected START:END, e.g. 0:500");
        var range = new ModelRange(a, b);
        range.Validate(totalModels);
        return range;
    }

    /// <summary>The execution field a shard is given by (named in errors).</summary>
    public const string ShardField = "execution.shard";

    /// <summary>Checks 0 ≤ Start &lt; End ≤ <paramref name="totalModels"/>.</summary>
    public void Validate(int totalModels)
    {
        if (!(Start >= 0 && Start < End && End <= totalModels))
            throw SpecException.Invalid(ShardField, this, $"need 0 <= START < END <= {totalModels} (all models of the run, n0 included)");
    }

    public override string ToString() => $"{Start}:{End}";
}

/// <summary>
/// The certify job from loaded data to a complete run directory: config.json, then votes chunk by chunk
/// (resumable), then the report files, summary.json last. See <see cref="RunDirectory"/> for the layout.
/// </summary>
internal static class CertifyPipeline
{
    /// <summary>
    /// Checks, before any data is loaded, that <paramref name="spec"/> and <paramref name="execution"/> continue the run
    /// <paramref name="stored"/>: the same spec and shard, keep-models unchanged. A difference is a
    /// <see cref="SpecException"/> naming each field with both values.
    /// </summary>
    public static void CheckResumable(RunConfig stored, JobSpec spec, RunExecution execution, string directory)
    {
        var diffs = stored.Spec.Differences(spec);
        if (stored.Execution.Shard != execution.Shard)
            diffs.Add((ModelRange.ShardField, stored.Execution.Shard?.ToString() ?? "(whole run)", execution.Shard?.ToString() ?? "(whole run)"));
        if (stored.Execution.KeepModels != execution.KeepModels)
            diffs.Add(("execution.keep_models", SpecJson.Text(stored.Execution.KeepModels), SpecJson.Text(execution.KeepModels)));
        if (diffs.Count > 0)
            throw new SpecException($"{directory} was run with other settings: {string.Join("; ", diffs.Select(d => $"{d.Field} {d.Mine} (run) vs {d.Theirs} (now)"))}",
                                    [.. diffs.Select(d => d.Field)]);
    }

    /// <summary>
    /// The configuration a resumed run continues with: <paramref name="stored"/>'s, with the execution of
    /// <paramref name="now"/> (its backend, threads and chunk). <paramref name="now"/> was built from the same spec
    /// (<see cref="CheckResumable"/>) and freshly loaded data: its facts must be the stored ones, else the data
    /// changed since the run and the votes are not theirs. A version-1 run whose facts all agree is upgraded to the
    /// current format (same votes, new hash).
    /// </summary>
    public static RunConfig ResumedConfig(RunConfig stored, RunConfig now, string configPath)
    {
        var diffs = new List<string>();
        var was = SpecJson.Leaves(JsonSerializer.SerializeToNode(stored.Data, SpecJson.Options), "data")
            .Concat(SpecJson.Leaves(JsonSerializer.SerializeToNode(stored.Attack, SpecJson.Options), "attack")).ToDictionary();
        var isNow = SpecJson.Leaves(JsonSerializer.SerializeToNode(now.Data, SpecJson.Options), "data")
            .Concat(SpecJson.Leaves(JsonSerializer.SerializeToNode(now.Attack, SpecJson.Options), "attack")).ToDictionary();
        foreach (var (path, value) in isNow)
            if (was.GetValueOrDefault(path) is { } old && old != value) diffs.Add(path);
        if (diffs.Count > 0)
            throw new UserInputException($"{configPath}: the data are not those the run voted on ({string.Join(", ", diffs)} differ: the dataset files changed since the run?)");
        if (!stored.IsVersion1 && now.ConfigHash != stored.ConfigHash)
            throw new UserInputException($"{configPath}: the run's spec and data no longer give its config_hash");
        return now.Restamped() with { CreatedUtc = stored.CreatedUtc };
    }

    /// <summary>
    /// Runs (or resumes) the job; returns the report, or null for a shard (<see cref="RunExecution.Shard"/>), whose
    /// votes are complete once this returns and are combined by <see cref="ShardMerge"/>. Nothing is created or written,
    /// and nothing logged, until every check has passed: the backend starts, the directory can hold the run, and on
    /// resume the stored votes belong to it. Progress goes to <paramref name="progressWriter"/>.
    /// </summary>
    public static RunReport? Run(CertifyRequest request, BackendProvider backends, TextWriter log, TextWriter progressWriter,
                                bool interactiveProgress, CancellationToken cancellation, IProgress<int>? modelsDone = null)
    {
        RunConfig config = request.Config;
        RunExecution execution = config.Execution;
        JobData data = request.Data;
        if (!request.Resume) RunDirectory.CheckNew(request.OutDirectory);
        // The backend's own notes wait with the rest of the log until the checks have passed, then go straight to it
        // (a backend also writes when its session opens, e.g. the ILGPU chunk plan).
        var backendLog = new DeferredWriter();
        using IEnsembleBackend backend = backends(execution.Backend, execution.Threads, backendLog);
        if (backend is NativeCert.Engine.Cpu.CpuEnsembleBackend cpu)
        {
            // The memory plan of the largest call the run makes, checked before the directory exists (the engine checks it again per call).
            var range0 = execution.Shard ?? new ModelRange(0, config.TotalModels);
            NativeCert.Engine.Cpu.CpuMemoryPlan.CheckFits(config.Spec.ToEnsembleConfig(data.Train), data.Train.Count,
                data.Inputs.Count, cpu.Threads, range0.End - range0.Start, keepParameters: execution.KeepModels);
        }

        var dir = request.Resume ? RunDirectory.OpenExisting(request.OutDirectory) : RunDirectory.CreateNew(request.OutDirectory);
        using IDisposable runLock = dir.Lock();
        var range = execution.Shard ?? new ModelRange(0, config.TotalModels);
        VoteFile? stored = null;
        if (request.Resume && File.Exists(dir.VotesPath))
        {
            stored = VoteFile.Read(dir.VotesPath);
            RunConfig before = RunConfig.Read(dir.ConfigPath);
            // The hash of the spec and the data just loaded is proof too (a killed upgrade from version 1 leaves it in votes.bin).
            if (!stored.ConfigHash.AsSpan().SequenceEqual(before.HashBytes()) && !stored.ConfigHash.AsSpan().SequenceEqual(config.HashBytes()))
                throw new UserInputException($"{dir.VotesPath} belongs to another configuration (its config hash differs from config.json's)");
            if (!stored.Labels.AsSpan().SequenceEqual(data.Inputs.Labels) || !stored.Kinds.AsSpan().SequenceEqual(data.Kinds)
                || stored.SelectionModels != config.SelectionModels || stored.Classes != data.Inputs.ClassCount)
                throw new UserInputException($"{dir.VotesPath} does not match the inputs of this configuration");
            if (stored.ModelStart != range.Start || stored.ModelsDone > range.End)
                throw new UserInputException($"{dir.VotesPath} holds models [{stored.ModelStart}, {stored.ModelsDone}), not within the [{range.Start}, {range.End}) of this run");
        }

        foreach (string line in request.Description ?? []) log.WriteLine(line);
        backendLog.Release(log);
        config = config with { Backend = new RunBackendFacts(backend.Name, backend.Device, execution.Threads) };
        // Whatever happens next, the directory must not look complete until summary.json is rewritten.
        dir.MarkIncomplete();
        if (stored is not null && !stored.ConfigHash.AsSpan().SequenceEqual(config.HashBytes()))
        {
            // Upgrading a version-1 run: the same votes under the new hash, written before the config that names it.
            stored = stored.WithConfigHash(config.HashBytes());
            stored.Write(dir.VotesPath);
        }
        config.Write(dir.ConfigPath);

        var votes = stored ?? new VoteFile(config.HashBytes(), data.Inputs.Labels, data.Kinds, data.Inputs.ClassCount, config.SelectionModels, range.Start);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run: {dir.Root}  backend {backend.Name} ({backend.Device})  models [{range.Start}, {votes.ModelsDone}) of [{range.Start}, {range.End}) done"));

        EnsembleConfig ensemble = config.Spec.ToEnsembleConfig(data.Train);
        var clock = Stopwatch.StartNew();
        int doneAtStart = votes.ModelsDone;
        if (config.Attack is not null && votes.Undefended is null && range.Start == 0)
        {
            // One model trained without smoothing noise on the same poisoned data: the attack's effect undefended.
            // Of a sharded run only the shard starting at model 0 trains it (merge takes it from there), not every shard.
            var undefended = new VoteCounts(votes.Inputs, votes.Classes);
            backend.Run(UndefendedConfig(ensemble), data.Train, data.Inputs, 0, 1, undefended, null, cancellation);
            votes.Undefended = undefended;
            votes.Write(dir.VotesPath);
        }
        else if (!File.Exists(dir.VotesPath))
        {
            votes.Write(dir.VotesPath);
        }

        IEnsembleBackend ensembleBackend = backend;
        // Every backend hands back its trained models through a session's model sink.
        if (execution.KeepModels) ensembleBackend = new ModelKeepingBackend(backend, dir.ModelsDirectory);
        var progress = new ProgressReporter(progressWriter, interactiveProgress, range.End, votes.ModelsDone) { Listener = modelsDone };
        ChunkedEnsembleRun.Run(ensembleBackend, ensemble, data.Train, data.Inputs, votes, range.End,
                               execution.ChunkModels, dir.VotesPath, progress, cancellation);
        progress.Finish();
        double seconds = clock.Elapsed.TotalSeconds;

        WriteTiming(dir, backend, votes.ModelsDone - doneAtStart, seconds);
        if (range.Start != 0 || range.End != config.TotalModels) return null;
        return RunReport.Write(dir, config, votes);
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
        AtomicFile.WriteAllText(dir.TimingPath, JsonSerializer.Serialize(timing, SpecJson.Options) + "\n");
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
    /// <summary>
    /// The undefended model of an attack run: the ensemble's model without noise on every training row. Under a
    /// defense's view (DPA, bagging, trained for a small-set step budget) it trains the default epochs on the full set.
    /// </summary>
    public static EnsembleConfig UndefendedConfig(EnsembleConfig ensemble) => ensemble.View is NativeCert.Defenses.AllRowsView
        ? ensemble with { Sigma = 0f }
        : ensemble with { Sigma = 0f, View = NativeCert.Defenses.TrainingView.All, Training = ensemble.Training with { Epochs = TrainingDefaults.Epochs } };


    /// <summary>Holds what is written until <see cref="Release"/>, then writes it and everything after to the target.</summary>
    private sealed class DeferredWriter : TextWriter
    {
        private readonly StringWriter _held = new();
        private TextWriter? _target;
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;
        public override void Write(char value) => (_target ?? _held).Write(value);
        public override void Write(string? value) => (_target ?? _held).Write(value);
        public override void WriteLine(string? value) => (_target ?? _held).WriteLine(value);

        public void Release(TextWriter target)
        {
            target.Write(_held.ToString());
            _target = target;
        }
    }
}

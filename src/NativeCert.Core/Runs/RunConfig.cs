using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NativeCert.IO;
using NativeCert.Spec;

namespace NativeCert.Runs;

/// <summary>
/// What the data of a run turned out to be once loaded (and poisoned): the dataset's name, sizes, width, classes,
/// image shape, and the SHA-256 fingerprints of the training set and of the inputs voted on
/// (see <see cref="CertifyPipeline.Fingerprint"/>).
/// </summary>
internal sealed record RunDataFacts(string Dataset, int TrainRows, int TestRows, int Dimension, int Classes, string? ImageShape,
                                  string TrainSha256, string InputsSha256);

/// <summary>
/// What the attack did: its kind, the target label, the largest actual ℓ2 norm of the trigger (input units) over
/// poisoned examples and triggered inputs, how many training examples carry it, whether their labels were flipped
/// to the target (dirty) or not (clean), and the exact per-row norms (training rows, then triggered test inputs in
/// input order) so certificates can be checked against the exact joint norm √(Σᵢ‖δᵢ‖² + ‖δₓ‖²).
/// </summary>
internal sealed record RunAttackFacts(string Kind, int Target, double TriggerL2Norm, int PoisonedExamples, string LabelMode, int TriggeredInputs,
                                    double[] PoisonedRowNorms, double[] TriggeredRowNorms);

/// <summary>Backend that computed the votes (the latest one, on resume).</summary>
internal sealed record RunBackendFacts(string Name, string Device, int Threads);

/// <summary>
/// One shard of a merged run: models [<see cref="Start"/>, <see cref="End"/>) and the backend that computed them (the
/// latest, if the shard was resumed). Shards on different backends (cpu and cuda) may differ by float rounding.
/// </summary>
internal sealed record RunShardFacts(int Start, int End, string Backend, string Device, int Threads);

/// <summary>
/// How a run is computed, never what: the backend (cpu, cuda, ilgpu-cpu or auto), CPU threads (0 = all cores),
/// models per durable chunk (0 = sized to take about 5 s), whether trained models are kept, and the shard
/// (<see cref="ModelRange"/>, null for the whole run). Backend, threads and chunk may change when a run is resumed;
/// the shard and keep-models may not.
/// </summary>
internal sealed record RunExecution
{
    public string Backend { get; init; } = "auto";
    public int Threads { get; init; }
    public int ChunkModels { get; init; }
    public bool KeepModels { get; init; }
    public ModelRange? Shard { get; init; }
}

/// <summary>
/// <c>config.json</c> of a run (format <see cref="CurrentFormat"/>): the <see cref="JobSpec"/>, how it was executed,
/// the facts of its data and attack, versions, and <see cref="ConfigHash"/>, the SHA-256 over every field that
/// determines the votes: the spec but its certification part, the data facts with their fingerprints, and the attack
/// facts (<see cref="ComputeHash"/>). votes.bin carries the same hash. <see cref="VoteFieldDigests"/> names which
/// field an edit changed.
/// </summary>
/// <remarks>
/// Runs written before the spec (format <see cref="Version1Format"/>) are read by <see cref="RunConfigV1"/>: they
/// report when they carry no attack, and resume (which rechecks every fact against the data and rewrites the run in
/// this format).
/// </remarks>
internal sealed record RunConfig
{
    public const string CurrentFormat = "nativecert-run/2", Version1Format = "nativecert-run/1";

    public string Format { get; init; } = CurrentFormat;
    public string NativecertVersion { get; init; } = typeof(RunConfig).Assembly.GetName().Version?.ToString(3) ?? "unknown";
    public string Runtime { get; init; } = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
    public string Os { get; init; } = System.Runtime.InteropServices.RuntimeInformation.OSDescription;
    public string CreatedUtc { get; init; } = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    public JobSpec Spec { get; init; } = JobSpec.Default;
    public RunExecution Execution { get; init; } = new();
    public RunDataFacts Data { get; init; } = new("", 0, 0, 0, 0, null, "", "");
    public RunAttackFacts? Attack { get; init; }

    /// <summary>Hex SHA-256 over the vote-determining fields; votes.bin carries the same hash.</summary>
    public string ConfigHash { get; init; } = "";
    /// <summary>Per vote-determining field (dotted path), the first 8 bytes (hex) of SHA-256 of its value: names the field an edit changed.</summary>
    public SortedDictionary<string, string> VoteFieldDigests { get; init; } = [];
    public RunBackendFacts? Backend { get; init; }
    /// <summary>For a merged run, each shard's model range and backend, in model order; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<RunShardFacts>? Shards { get; init; }

    /// <summary>Read from a <see cref="Version1Format"/> file, whose hash covers other fields (see <see cref="RunConfigV1"/>).</summary>
    [JsonIgnore] public bool IsVersion1 => Format == Version1Format;

    // The fields the report reads, by their old names.
    [JsonIgnore] public double Sigma => Spec.Smoothing.Sigma;
    [JsonIgnore] public int Models => Spec.Smoothing.Models;
    [JsonIgnore] public int SelectionModels => Spec.Smoothing.SelectionModels;
    [JsonIgnore] public string Method => Spec.Smoothing.Method;
    [JsonIgnore] public ulong Seed => Spec.Smoothing.Seed;
    [JsonIgnore] public double Alpha => Spec.Certification.Alpha;
    [JsonIgnore] public bool Simultaneous => Spec.Certification.Simultaneous;
    [JsonIgnore] public double[] TriggerNorms => [.. Spec.Certification.TriggerNorms];
    [JsonIgnore] public double[] Radii => [.. Spec.Certification.Radii];
    /// <summary>All models of the run: selection plus estimation.</summary>
    [JsonIgnore] public int TotalModels => Spec.TotalModels;
    /// <summary>smoothing, dpa or bagging.</summary>
    [JsonIgnore] public string Defense => Spec.Defense?.Kind ?? SmoothingDefense;
    /// <summary>DPA: partitions k; 0 otherwise.</summary>
    [JsonIgnore] public int Partitions => Spec.Defense?.Partitions ?? 0;
    /// <summary>Bagging: rows per bag; 0 otherwise.</summary>
    [JsonIgnore] public int BagSize => Spec.Defense?.BagSize ?? 0;

    public const string SmoothingDefense = NativeCert.Defenses.DefenseSettings.Smoothing, DpaDefense = NativeCert.Defenses.DefenseSettings.Dpa,
                        BaggingDefense = NativeCert.Defenses.DefenseSettings.Bagging;

    /// <summary>A new run's configuration, hashed.</summary>
    public static RunConfig Create(JobSpec spec, RunExecution execution, RunDataFacts data, RunAttackFacts? attack)
    {
        var config = new RunConfig { Spec = spec.Canonical(), Execution = execution, Data = data, Attack = attack };
        return config with { ConfigHash = config.ComputeHash(), VoteFieldDigests = Digests(config.VoteDocument()) };
    }

    /// <summary>This configuration stamped with the versions of the running process (a resumed or merged run).</summary>
    public RunConfig Restamped()
    {
        var current = new RunConfig();
        return this with { NativecertVersion = current.NativecertVersion, Runtime = current.Runtime, Os = current.Os };
    }

    /// <summary>
    /// The document the config hash covers: the spec without its certification part, the data facts with the
    /// fingerprints, and the attack facts (null without an attack). Everything that enters a reported number either
    /// is in here or is recomputed from votes.bin.
    /// </summary>
    public JsonObject VoteDocument() => new()
    {
        ["format"] = CurrentFormat,
        ["spec"] = Spec.VoteFields(),
        ["data"] = JsonSerializer.SerializeToNode(Data, SpecJson.Options),
        ["attack"] = JsonSerializer.SerializeToNode(Attack, SpecJson.Options),
    };

    /// <summary>Hex SHA-256 of the compact canonical JSON of <see cref="VoteDocument"/>.</summary>
    public string ComputeHash() =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(VoteDocument().ToJsonString(SpecJson.Compact))));

    private static SortedDictionary<string, string> Digests(JsonObject document)
    {
        var digests = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, text) in SpecJson.Leaves(document))
            digests[path] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(path + "=" + text)).AsSpan(0, 8));
        return digests;
    }

    public byte[] HashBytes() => Convert.FromHexString(ConfigHash);

    public void Write(string path)
    {
        if (IsVersion1) throw new InvalidOperationException("a nativecert-run/1 configuration is rewritten only after an upgrade");
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, SpecJson.Options) + "\n");
    }

    /// <summary>
    /// Reads and verifies a config.json (either format): a missing, unreadable or malformed file, a field missing,
    /// unknown or not reading back as itself, an invalid spec, or a vote-determining field edited after the run
    /// (its value no longer gives <see cref="ConfigHash"/>) is a <see cref="UserInputException"/> naming the file and field.
    /// </summary>
    public static RunConfig Read(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw new UserInputException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})", e); }
        string? format = (node as JsonObject)?["format"] is JsonValue f && f.TryGetValue(out string? s) ? s : null;
        if (format == Version1Format) return RunConfigV1.Read(node!, path);
        if (format != CurrentFormat)
            throw new UserInputException($"{path}: not a NativeCert run config (format '{format}', this build reads {CurrentFormat} and {Version1Format})");

        // The spec first, so that its errors name its fields; then the whole file, strictly.
        JobSpec.FromJsonNode(node!["spec"], path, "spec");
        RunConfig config = SpecJson.ReadExact<RunConfig>(node, path);
        config.Verify(path);
        return config;
    }

    /// <summary>
    /// The checks a read configuration must pass: the facts agree with each other and with the spec, and the
    /// vote-determining fields still give <see cref="ConfigHash"/>; an edited field is named by its digest.
    /// </summary>
    private void Verify(string path)
    {
        if (ConfigHash.Length != 64 || !ConfigHash.All(char.IsAsciiHexDigitLower))
            throw new UserInputException($"{path}: config_hash is malformed (64 lowercase hex digits expected)");
        if (Execution.Shard is { } shard && !(shard.Start >= 0 && shard.Start < shard.End && shard.End <= TotalModels))
            throw new UserInputException($"{path}: execution.shard {shard} is not within the run's {TotalModels} models");
        if (Spec.Attack is null != Attack is null)
            throw new UserInputException($"{path}: {(Attack is null ? "attack facts are missing for spec.attack" : "attack facts are present but spec.attack is null")}");
        if (Attack is { } attack)
        {
            double largest = attack.PoisonedRowNorms.Concat(attack.TriggeredRowNorms).DefaultIfEmpty(0).Max();
            if (attack.PoisonedRowNorms.Length != attack.PoisonedExamples || attack.TriggeredRowNorms.Length != attack.TriggeredInputs
                || attack.TriggerL2Norm != largest || attack.Kind != Spec.Attack!.Kind || attack.LabelMode != Spec.Attack.LabelMode)
                throw new UserInputException($"{path}: attack facts disagree with each other or with spec.attack (kind, label_mode, poisoned_examples, triggered_inputs, trigger_l2_norm and the per-row norms)");
        }

        JsonObject document = VoteDocument();
        if (ComputeHash() == ConfigHash) return;
        var now = Digests(document);
        var edited = now.Where(kv => VoteFieldDigests.GetValueOrDefault(kv.Key) != kv.Value).Select(kv => kv.Key)
                        .Concat(VoteFieldDigests.Keys.Where(k => !now.ContainsKey(k))).Distinct().ToList();
        string which = edited.Count switch
        {
            0 => "config_hash itself was edited (every field still gives its recorded digest)",
            <= 4 => $"edited: {string.Join(", ", edited)}",
            _ => $"edited: {string.Join(", ", edited.Take(4))} and {edited.Count - 4} more fields",
        };
        throw new UserInputException($"{path}: the vote-determining fields no longer give config_hash, so the file was edited after the run " +
                                     $"({which}); the votes were computed with the original values: restore them, or certify again");
    }

    /// <summary>
    /// Checks that <paramref name="votes"/> (read from <paramref name="votesPath"/>) is this run's: the same config hash,
    /// and the shape the hashed facts fix: data.test_rows clean inputs followed by attack.triggered_inputs triggered ones,
    /// data.classes classes, smoothing.n0 selection models, and the undefended model's votes exactly when there is an
    /// attack and the file starts at model 0 (only that shard trains it). The CRC only catches accidents; without these checks a votes.bin rewritten with another n0, another split of
    /// clean and triggered rows or no undefended model would still report, with other numbers. A mismatch is a
    /// <see cref="UserInputException"/> naming both files.
    /// </summary>
    public void CheckVotes(VoteFile votes, string votesPath, string configPath)
    {
        if (!votes.ConfigHash.AsSpan().SequenceEqual(HashBytes()))
            throw new UserInputException($"{votesPath} does not belong to {configPath} (config hash differs)");
        int triggered = Attack?.TriggeredInputs ?? 0;
        string? problem =
            votes.Inputs != Data.TestRows + triggered ? $"{votes.Inputs} inputs, but data.test_rows + attack.triggered_inputs = {Data.TestRows + triggered}"
            : votes.Kinds.AsSpan(0, Data.TestRows).ContainsAnyExcept(InputKind.Clean) || votes.Kinds.AsSpan(Data.TestRows).ContainsAnyExcept(InputKind.Triggered)
                ? $"its inputs are not the {Data.TestRows} clean test inputs followed by the {triggered} triggered ones"
            : votes.Classes != Data.Classes ? $"{votes.Classes} classes, but data.classes = {Data.Classes}"
            : votes.SelectionModels != SelectionModels ? $"{votes.SelectionModels} selection models, but smoothing.n0 = {SelectionModels}"
            : (votes.Undefended is not null) != (Attack is not null && votes.ModelStart == 0)
                ? (Attack is null ? "votes of an undefended model, but the run has no attack"
                   : votes.ModelStart == 0 ? "no votes of the undefended model, but the run has an attack"
                   : $"votes of the undefended model in a shard starting at model {votes.ModelStart} (the shard starting at 0 trains it)")
            : null;
        if (problem is not null) throw new UserInputException($"{votesPath} does not match {configPath}: {problem}");
    }

    /// <summary>Canonical invariant text for a value (shortest round-trip for floats, lists comma-separated).</summary>
    public static string Canonical(object? value) => value is null ? "" : SpecJson.Text(value);
}

/// <summary>Thrown when a run cannot be reported because it is not complete (a shard, or killed before its last model).</summary>
internal sealed class RunIncompleteException(string message, string root, bool isShard) : UserInputException(message)
{
    /// <summary>The run directory.</summary>
    public string Root { get; } = root;
    /// <summary>True for a complete shard (to merge); false for a run or shard to resume.</summary>
    public bool IsShard { get; } = isShard;
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>What the data of a run turned out to be once loaded (and poisoned).</summary>
public sealed record RunDataFacts(string Dataset, int TrainRows, int TestRows, int Dimension, int Classes, string? ImageShape);

/// <summary>
/// What the attack did: its kind, the target label, the largest actual ℓ2 norm of the trigger (input units) over
/// poisoned examples and triggered inputs, how many training examples carry it, whether their labels were flipped
/// to the target (dirty) or not (clean), and the exact per-row norms (training rows, then triggered test inputs in
/// input order) so certificates can be checked against the exact joint norm √(Σᵢ‖δᵢ‖² + ‖δₓ‖²).
/// </summary>
public sealed record RunAttackFacts(string Kind, int Target, double TriggerL2Norm, int PoisonedExamples, string LabelMode, int TriggeredInputs,
                                    double[] PoisonedRowNorms, double[] TriggeredRowNorms);

/// <summary>Backend that computed the votes (the latest one, on resume).</summary>
public sealed record RunBackendFacts(string Name, string Device, int Threads);

/// <summary>
/// <c>config.json</c> of a run: every resolved option as given or defaulted, the facts the report needs,
/// versions, and <see cref="ConfigHash"/>, the SHA-256 of every option that determines the votes.
/// </summary>
public sealed record RunConfig
{
    public const string CurrentFormat = "nativecert-run/1";

    public string Format { get; init; } = CurrentFormat;
    public string NativecertVersion { get; init; } = typeof(RunConfig).Assembly.GetName().Version?.ToString(3) ?? "unknown";
    public string Runtime { get; init; } = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;
    public string Os { get; init; } = System.Runtime.InteropServices.RuntimeInformation.OSDescription;
    public string CreatedUtc { get; init; } = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    /// <summary>Every option of the command, resolved, as canonical invariant text: option name → value.</summary>
    public Dictionary<string, string> Options { get; init; } = [];
    /// <summary>The options among <see cref="Options"/> that determine the votes (hashed into <see cref="ConfigHash"/>).</summary>
    public List<string> VoteOptions { get; init; } = [];
    /// <summary>Hex SHA-256 over the vote-determining options; votes.bin carries the same hash.</summary>
    public string ConfigHash { get; set; } = "";

    /// <summary>Smoothing noise σ, input units.</summary>
    public double Sigma { get; init; }
    /// <summary>Models that estimate p_A and p_B (N).</summary>
    public int Models { get; init; }
    /// <summary>Models that only select the top class (Cohen's n0); 0 for simultaneous estimation.</summary>
    public int SelectionModels { get; init; }
    /// <summary>simuem or cohen.</summary>
    public string Method { get; init; } = "simuem";
    /// <summary>Failure probability of the certificates (all inputs jointly for simuem's per-input bounds: see the certifier).</summary>
    public double Alpha { get; init; }
    /// <summary>
    /// Whether <see cref="Alpha"/> bounds the failure of all certificates jointly (each input certified at α/T) rather
    /// than of each one. Clean and triggered inputs are two separate guarantees, each joint over its own T rows.
    /// Not a vote option: it changes only how the stored votes are turned into certificates.
    /// </summary>
    public bool Simultaneous { get; init; }
    public ulong Seed { get; init; }
    /// <summary>Trigger ℓ2 norms (input units) for the certified-accuracy-vs-poison plot.</summary>
    public double[] TriggerNorms { get; init; } = [];
    /// <summary>Radii (input units) at which the summary reports certified accuracy.</summary>
    public double[] Radii { get; init; } = [];

    /// <summary>
    /// smoothing (an ℓ2 radius over training features and the test input), dpa or bagging (a count of training examples
    /// changed in any way, labels included). Runs from before defenses have no entry and are smoothing runs.
    /// </summary>
    public string Defense { get; init; } = SmoothingDefense;
    /// <summary>DPA: partitions k (one model each); 0 otherwise.</summary>
    public int Partitions { get; init; }
    /// <summary>Bagging: rows per bag k, drawn with replacement; 0 otherwise.</summary>
    public int BagSize { get; init; }

    public RunDataFacts? Data { get; init; }
    public RunAttackFacts? Attack { get; init; }
    public RunBackendFacts? Backend { get; set; }

    /// <summary>
    /// This run's configuration with <paramref name="options"/> in place of its options (only execution options may
    /// differ), stamped with the versions of the running process. Used when a run is resumed or its shards merged.
    /// </summary>
    public RunConfig Restamped(Dictionary<string, string> options)
    {
        var current = new RunConfig();
        return this with { Options = options, NativecertVersion = current.NativecertVersion, Runtime = current.Runtime, Os = current.Os };
    }

    /// <summary>All models of the run: selection plus estimation.</summary>
    [JsonIgnore] public int TotalModels => SelectionModels + Models;

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>SHA-256 (hex) of the vote-determining options, as "name=value" lines in ordinal order.</summary>
    public static string ComputeHash(IReadOnlyDictionary<string, string> options, IEnumerable<string> voteOptions)
    {
        var sb = new StringBuilder("nativecert-votes/1\n");
        foreach (string name in voteOptions.Order(StringComparer.Ordinal))
            sb.Append(name).Append('=').Append(options.TryGetValue(name, out var v) ? v : "").Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>Sets <see cref="ConfigHash"/> from the options.</summary>
    public RunConfig WithHash()
    {
        ConfigHash = ComputeHash(Options, VoteOptions);
        return this;
    }

    public byte[] HashBytes() => Convert.FromHexString(ConfigHash);

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    public static RunConfig Read(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        RunConfig? config;
        try { config = JsonSerializer.Deserialize<RunConfig>(text, Json); }
        catch (JsonException e) { throw new UserInputException($"{path}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})", e); }
        if (config is null || config.Format != CurrentFormat)
            throw new UserInputException($"{path}: not a NativeCert run config (format '{config?.Format}', expected '{CurrentFormat}')");
        if (config.ConfigHash.Length != 64) throw new UserInputException($"{path}: config_hash is missing or malformed");
        config.Verify(path);
        return config;
    }

    public const string SmoothingDefense = NativeCert.Defenses.DefenseSettings.Smoothing, DpaDefense = NativeCert.Defenses.DefenseSettings.Dpa,
                        BaggingDefense = NativeCert.Defenses.DefenseSettings.Bagging;
    public const string DefenseOption = "--defense", PartitionsOption = "--partitions", BagSizeOption = "--bag-size";

    /// <summary>Option names behind the typed fields (as recorded by <c>certify</c>).</summary>
    public const string SigmaOption = "--sigma", MethodOption = "--method", N0Option = "--n0", SeedOption = "--seed",
                        ModelsOption = "--models", AlphaOption = "--alpha", SimultaneousOption = "--simultaneous",
                        TriggerNormsOption = "--trigger-norms", RadiiOption = "--radii", AttackOption = "--attack", LabelModeOption = "--label-mode";

    /// <summary>Typed fields whose option determines the votes: these must be among <see cref="VoteOptions"/>.</summary>
    private static readonly string[] VoteDeterminingFieldOptions = [SigmaOption, MethodOption, N0Option, SeedOption];

    /// <summary>
    /// Checks that a stored config.json still describes the run that voted, so that certificates are never computed at
    /// another σ (or method, n0) than the models were trained with: every typed field the report reads agrees with its
    /// stored option; the options behind σ, method, n0 and seed are hashed; and the hashed options still give
    /// <see cref="ConfigHash"/> (which votes.bin must carry too, checked where votes are read). Options that do not
    /// determine votes (--alpha, --simultaneous, --radii, --trigger-norms, --models) may be edited, option and field
    /// together: the report then uses them. Any disagreement is a <see cref="UserInputException"/> naming
    /// <paramref name="path"/> and the options.
    /// </summary>
    public void Verify(string path)
    {
        var wrong = new List<string>();
        string? Stored(string option)
        {
            if (Options.TryGetValue(option, out var text)) return text;
            wrong.Add($"option {option} is missing");
            return null;
        }
        void Agree(string field, string shownField, string option, bool agrees, string? optionText)
        {
            if (optionText is not null && !agrees) wrong.Add($"{field} {shownField} disagrees with option {option} {Shown(optionText)}");
        }
        static bool TryDouble(string? text, out double value) =>
            double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        static bool SameList(double[] values, string text)
        {
            if (text.Length == 0) return values.Length == 0;
            string[] parts = text.Split(',');
            if (parts.Length != values.Length) return false;
            for (int i = 0; i < parts.Length; i++)
                if (!TryDouble(parts[i], out double v) || v != values[i]) return false;
            return true;
        }

        string? sigma = Stored(SigmaOption);
        // σ is recorded from a float: the field is that float widened to double.
        Agree("sigma", Canonical(Sigma), SigmaOption,
              float.TryParse(sigma, NumberStyles.Float, CultureInfo.InvariantCulture, out float s) && (double)s == Sigma, sigma);
        string? method = Stored(MethodOption);
        Agree("method", Method, MethodOption, method == Method && Method is "simuem" or "cohen", method);
        string? n0 = Stored(N0Option);
        Agree("selection_models", Canonical(SelectionModels), N0Option, n0 == Canonical(SelectionModels) && (Method == "cohen" ? SelectionModels > 0 : SelectionModels == 0), n0);
        string? seed = Stored(SeedOption);
        Agree("seed", Canonical(Seed), SeedOption, seed == Canonical(Seed), seed);
        string? models = Stored(ModelsOption);
        Agree("models", Canonical(Models), ModelsOption, models == Canonical(Models), models);
        if (Models < 1) wrong.Add($"models {Models} must be at least 1");
        string? alpha = Stored(AlphaOption);
        Agree("alpha", Canonical(Alpha), AlphaOption, TryDouble(alpha, out double a) && a == Alpha, alpha);
        if (!(Alpha > 0 && Alpha < 1)) wrong.Add($"alpha {Canonical(Alpha)} must be in (0, 1)");
        // Runs from before --simultaneous have no entry and were per input.
        string simultaneous = Options.GetValueOrDefault(SimultaneousOption) ?? "false";
        Agree("simultaneous", Canonical(Simultaneous), SimultaneousOption, simultaneous == Canonical(Simultaneous), simultaneous);
        string? norms = Stored(TriggerNormsOption);
        Agree("trigger_norms", $"[{Canonical(TriggerNorms)}]", TriggerNormsOption,
              norms is not null && SameList(TriggerNorms, norms), norms);
        if (!TriggerNorms.All(t => t > 0 && double.IsFinite(t))) wrong.Add("trigger_norms must be positive numbers");
        string? radii = Stored(RadiiOption);
        Agree("radii", $"[{Canonical(Radii)}]", RadiiOption, radii is not null && SameList(Radii, radii), radii);
        if (!Radii.All(r => r >= 0 && double.IsFinite(r))) wrong.Add("radii must be zero or positive numbers");
        if (Attack is { } attack)
        {
            string? kind = Stored(AttackOption);
            Agree("attack.kind", attack.Kind, AttackOption, kind == attack.Kind, kind);
            string? labelMode = Stored(LabelModeOption);
            Agree("attack.label_mode", attack.LabelMode, LabelModeOption, labelMode == attack.LabelMode, labelMode);
            // The per-row norms decide which triggered inputs count as certified; the largest is the table's t.
            // Runs that stored no per-row norms are reported with the largest t alone (see RunReport).
            bool rowNormsKnown = attack.PoisonedRowNorms.Length > 0 || attack.TriggeredRowNorms.Length > 0;
            double largest = attack.PoisonedRowNorms.Concat(attack.TriggeredRowNorms).DefaultIfEmpty(0).Max();
            if (rowNormsKnown && (attack.PoisonedRowNorms.Length != attack.PoisonedExamples || attack.TriggeredRowNorms.Length != attack.TriggeredInputs
                                  || attack.TriggerL2Norm != largest))
                wrong.Add("attack facts disagree with each other (poisoned_examples, triggered_inputs, trigger_l2_norm and the per-row norms)");
        }
        else if (Options.GetValueOrDefault(AttackOption) is { Length: > 0 } kind && kind != "none")
        {
            wrong.Add($"option {AttackOption} {kind} but no attack facts");
        }
        // Defenses: recorded only when not smoothing, so smoothing runs keep their config hash.
        string defense = Options.GetValueOrDefault(DefenseOption) ?? SmoothingDefense;
        Agree("defense", Defense, DefenseOption, defense == Defense && Defense is SmoothingDefense or DpaDefense or BaggingDefense, defense);
        if (Defense == DpaDefense)
        {
            string? k = Stored(PartitionsOption);
            Agree("partitions", Canonical(Partitions), PartitionsOption, k == Canonical(Partitions) && Partitions >= 1 && Models == Partitions && SelectionModels == 0, k);
        }
        if (Defense == BaggingDefense)
        {
            string? k = Stored(BagSizeOption);
            Agree("bag_size", Canonical(BagSize), BagSizeOption, k == Canonical(BagSize) && BagSize >= 1 && SelectionModels == 0, k);
        }
        if (Defense != SmoothingDefense)
            foreach (string option in new[] { DefenseOption, Defense == DpaDefense ? PartitionsOption : BagSizeOption })
                if (!VoteOptions.Contains(option)) wrong.Add($"{option} is not among vote_options");
        foreach (string option in VoteDeterminingFieldOptions)
            if (!VoteOptions.Contains(option)) wrong.Add($"{option} is not among vote_options");
        if (wrong.Count > 0)
            throw new UserInputException($"{path}: edited after the run? {string.Join("; ", wrong)}");

        if (ComputeHash(Options, VoteOptions) != ConfigHash)
            throw new UserInputException($"{path}: the vote-determining options no longer give config_hash, so one of them was edited after the run " +
                $"(the votes were computed with the original values; restore them, or certify again): {string.Join(", ", VoteOptions.Order(StringComparer.Ordinal))}");
    }

    /// <summary>
    /// The options whose values differ between this (stored) configuration and <paramref name="now"/>,
    /// ignoring <paramref name="mayChange"/>, formatted as "--opt A (run) vs B (now)".
    /// </summary>
    public List<string> Differences(RunConfig now, IReadOnlySet<string> mayChange)
    {
        var diffs = new List<string>();
        foreach (string name in Options.Keys.Union(now.Options.Keys).Order(StringComparer.Ordinal))
        {
            if (mayChange.Contains(name)) continue;
            Options.TryGetValue(name, out var was);
            now.Options.TryGetValue(name, out var isNow);
            if (was != isNow) diffs.Add($"{name} {Shown(was)} (run) vs {Shown(isNow)} (now)");
        }
        return diffs;
    }

    private static string Shown(string? value) => string.IsNullOrEmpty(value) ? "(unset)" : value;

    /// <summary>Canonical invariant text for an option value (shortest round-trip for floats).</summary>
    public static string Canonical(object? value) => value switch
    {
        null => "",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e and not string => string.Join(",", e.Cast<object?>().Select(Canonical)),
        _ => value.ToString() ?? "",
    };
}

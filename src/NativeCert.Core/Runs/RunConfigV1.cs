using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NativeCert.Spec;

namespace NativeCert.Runs;

/// <summary>
/// Reads config.json of format <c>nativecert-run/1</c> (before <see cref="JobSpec"/>): every option of the command
/// line as text, the names of the hashed ones, typed copies of some, and facts. Its hash covers the hashed options
/// and the data fingerprints, not the data name or the attack facts; so a version-1 run is reported only when it
/// has no attack (its data name is checked against the dataset option), and an attack run must be resumed once,
/// which recomputes every fact from the data and rewrites the run in the current format.
/// </summary>
internal static class RunConfigV1
{
    /// <summary>The v1 file as written; names as the CLI spelled its options then.</summary>
    private sealed record File1
    {
        public string Format { get; init; } = "";
        public string NativecertVersion { get; init; } = "";
        public string Runtime { get; init; } = "";
        public string Os { get; init; } = "";
        public string CreatedUtc { get; init; } = "";
        public Dictionary<string, string> Options { get; init; } = [];
        public List<string> VoteOptions { get; init; } = [];
        public string ConfigHash { get; init; } = "";
        public double Sigma { get; init; }
        public int Models { get; init; }
        public int SelectionModels { get; init; }
        public string Method { get; init; } = "";
        public double Alpha { get; init; }
        public bool Simultaneous { get; init; }
        public ulong Seed { get; init; }
        public double[] TriggerNorms { get; init; } = [];
        public double[] Radii { get; init; } = [];
        public Data1? Data { get; init; }
        public RunAttackFacts? Attack { get; init; }
        public RunBackendFacts? Backend { get; init; }
    }

    private sealed record Data1(string Dataset, int TrainRows, int TestRows, int Dimension, int Classes, string? ImageShape);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private const string TrainFingerprint = "train-data-sha256", InputsFingerprint = "inputs-sha256";
    /// <summary>Options whose value the typed fields copy, and the options that determined votes in version 1.</summary>
    private static readonly string[] MustBeHashed = ["--sigma", "--method", "--n0", "--seed"];

    public static RunConfig Read(JsonNode node, string path)
    {
        File1? file;
        try { file = node.Deserialize<File1>(Json); }
        catch (JsonException e) { throw new UserInputException($"{path}: not a valid {RunConfig.Version1Format} config ({e.Message.ReplaceLineEndings(" ")})", e); }
        if (file is null || file.ConfigHash.Length != 64) throw new UserInputException($"{path}: config_hash is missing or malformed");
        if (file.Data is null) throw new UserInputException($"{path}: data facts are missing");

        JobSpec spec;
        RunExecution execution;
        try { (spec, execution) = ToSpec(file.Options); }
        catch (SpecException e) { throw new UserInputException($"{path}: {e.Message}", e); }
        Verify(file, spec, path);

        var data = new RunDataFacts(file.Data.Dataset, file.Data.TrainRows, file.Data.TestRows, file.Data.Dimension, file.Data.Classes, file.Data.ImageShape,
                                    file.Options.GetValueOrDefault(TrainFingerprint) ?? "", file.Options.GetValueOrDefault(InputsFingerprint) ?? "");
        return new RunConfig
        {
            Format = RunConfig.Version1Format,
            NativecertVersion = file.NativecertVersion,
            Runtime = file.Runtime,
            Os = file.Os,
            CreatedUtc = file.CreatedUtc,
            Spec = spec,
            Execution = execution,
            Data = data,
            Attack = file.Attack,
            ConfigHash = file.ConfigHash,
            Backend = file.Backend,
        };
    }

    /// <summary>
    /// The version-1 checks: typed fields agree with their options, σ/method/n0/seed are hashed, the data name is the
    /// dataset option's, and the hashed options still give config_hash.
    /// </summary>
    private static void Verify(File1 file, JobSpec spec, string path)
    {
        var wrong = new List<string>();
        void Agree(string field, bool agrees, string shown, string option)
        {
            if (!agrees) wrong.Add($"{field} {shown} disagrees with option {option} {Shown(file.Options.GetValueOrDefault(option))}");
        }

        Agree("sigma", (double)spec.Smoothing.Sigma == file.Sigma, Text(file.Sigma), "--sigma");
        Agree("method", spec.Smoothing.Method == file.Method, file.Method, "--method");
        Agree("selection_models", spec.Smoothing.SelectionModels == file.SelectionModels, Text(file.SelectionModels), "--n0");
        Agree("seed", spec.Smoothing.Seed == file.Seed, Text(file.Seed), "--seed");
        Agree("models", spec.Smoothing.Models == file.Models, Text(file.Models), "--models");
        Agree("alpha", spec.Certification.Alpha == file.Alpha, Text(file.Alpha), "--alpha");
        Agree("simultaneous", spec.Certification.Simultaneous == file.Simultaneous, Text(file.Simultaneous), "--simultaneous");
        Agree("trigger_norms", spec.Certification.TriggerNorms.SequenceEqual(file.TriggerNorms), $"[{Text(file.TriggerNorms)}]", "--trigger-norms");
        Agree("radii", spec.Certification.Radii.SequenceEqual(file.Radii), $"[{Text(file.Radii)}]", "--radii");
        string datasetOption = spec.Data.Dataset.Trim();
        string name = datasetOption.Equals("mnist", StringComparison.OrdinalIgnoreCase) ? "mnist" : datasetOption;
        Agree("data.dataset", file.Data!.Dataset == name, file.Data.Dataset, "--dataset");
        if (spec.Attack is null != file.Attack is null) wrong.Add($"option --attack {Shown(file.Options.GetValueOrDefault("--attack"))} but {(file.Attack is null ? "no" : "")} attack facts");
        if (file.Attack is { } attack && spec.Attack is { } given)
        {
            Agree("attack.kind", attack.Kind == given.Kind, attack.Kind, "--attack");
            Agree("attack.label_mode", attack.LabelMode == given.LabelMode, attack.LabelMode, "--label-mode");
        }
        foreach (string option in MustBeHashed.Append(TrainFingerprint).Append(InputsFingerprint))
            if (!file.VoteOptions.Contains(option)) wrong.Add($"{option} is not among vote_options");
        if (wrong.Count > 0)
            throw new UserInputException($"{path}: edited after the run? {string.Join("; ", wrong)}");
        if (ComputeHash(file.Options, file.VoteOptions) != file.ConfigHash)
            throw new UserInputException($"{path}: the vote-determining options no longer give config_hash, so one of them was edited after the run " +
                $"(the votes were computed with the original values; restore them, or certify again)");
    }

    /// <summary>The version-1 hash: SHA-256 of "nativecert-votes/1", then "name=value" of every hashed option in ordinal order.</summary>
    public static string ComputeHash(IReadOnlyDictionary<string, string> options, IEnumerable<string> voteOptions)
    {
        var sb = new StringBuilder("nativecert-votes/1\n");
        foreach (string name in voteOptions.Order(StringComparer.Ordinal))
            sb.Append(name).Append('=').Append(options.TryGetValue(name, out var v) ? v : "").Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    /// <summary>The spec and execution the version-1 options describe.</summary>
    private static (JobSpec, RunExecution) ToSpec(Dictionary<string, string> o)
    {
        string Get(string option) => o.TryGetValue(option, out var v) ? v : throw new SpecException($"{option}: missing", option);
        T Parse<T>(string option) where T : ISpanParsable<T>
        {
            string text = Get(option);
            return T.TryParse(text, CultureInfo.InvariantCulture, out T? value) ? value
                : throw new SpecException($"{option} '{text}': not a {typeof(T).Name}", option);
        }
        int? OptionalInt(string option) => Get(option).Length == 0 ? null : Parse<int>(option);
        List<T> List<T>(string option) where T : ISpanParsable<T> =>
            Get(option).Length == 0 ? [] : Get(option).Split(',').Select(part => T.TryParse(part, CultureInfo.InvariantCulture, out T? v) ? v
                : throw new SpecException($"{option} '{Get(option)}': not a list of {typeof(T).Name}", option)).ToList();

        string method = Get("--method");
        var spec = new JobSpec
        {
            Data = new DataSpec
            {
                Dataset = Get("--dataset"),
                TrainSize = OptionalInt("--train-size"),
                TestSize = OptionalInt("--test-size"),
                Classes = Get("--classes").Length == 0 ? null : List<int>("--classes"),
                Seed = Parse<ulong>("--data-seed"),
            },
            Attack = Get("--attack") == AttackSpec.None ? null : new AttackSpec
            {
                Kind = Get("--attack"),
                TriggerSize = Parse<int>("--trigger-size"),
                TriggerValue = Parse<float>("--trigger-value"),
                TriggerNorm = Parse<double>("--trigger-norm"),
                TriggerCorner = Get("--trigger-corner"),
                MaskFile = Get("--mask").Length == 0 ? null : Get("--mask"),
                Poison = Parse<int>("--poison"),
                Target = Parse<int>("--target"),
                LabelMode = Get("--label-mode"),
                Seed = Parse<ulong>("--attack-seed"),
            },
            Model = new ModelSpec { Hidden = List<int>("--hidden") },
            Training = new TrainingSpec
            {
                Epochs = Parse<int>("--epochs"),
                BatchSize = Parse<int>("--batch"),
                LearningRate = Parse<float>("--lr"),
                Momentum = Parse<float>("--momentum"),
                WeightDecay = Parse<float>("--weight-decay"),
            },
            Smoothing = new SmoothingSpec
            {
                Sigma = Parse<float>("--sigma"),
                Seed = Parse<ulong>("--seed"),
                Models = Parse<int>("--models"),
                Method = method,
                N0 = method == SmoothingSpec.Cohen ? Parse<int>("--n0") : 0,
            },
            Certification = new CertificationSpec
            {
                Alpha = Parse<double>("--alpha"),
                // Runs from before --simultaneous have no entry and were per input.
                Simultaneous = (o.GetValueOrDefault("--simultaneous") ?? "false") == "true",
                TriggerNorms = List<double>("--trigger-norms"),
                Radii = List<double>("--radii"),
            },
        };
        spec.Validate();
        string range = o.GetValueOrDefault("--models-range") ?? "";
        var execution = new RunExecution
        {
            Backend = o.GetValueOrDefault("--backend") ?? "auto",
            Threads = o.TryGetValue("--threads", out var t) && int.TryParse(t, CultureInfo.InvariantCulture, out int threads) ? threads : 0,
            ChunkModels = o.TryGetValue("--chunk", out var c) && int.TryParse(c, CultureInfo.InvariantCulture, out int chunk) ? chunk : 0,
            KeepModels = o.GetValueOrDefault("--keep-models") == "true",
            Shard = range.Length == 0 ? null : ModelRange.Parse(range, spec.TotalModels),
        };
        return (spec, execution);
    }

    private static string Shown(string? value) => string.IsNullOrEmpty(value) ? "(unset)" : value;
    private static string Text(object value) => SpecJson.Text(value);
}

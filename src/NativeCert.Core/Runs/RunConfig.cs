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
public sealed class RunConfig
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

    public RunDataFacts? Data { get; init; }
    public RunAttackFacts? Attack { get; init; }
    public RunBackendFacts? Backend { get; set; }

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
        return config;
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

using System.Text.Json;
using System.Text.Json.Nodes;
using NativeCert.Cli;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Tests.Runs;

/// <summary>
/// A finished run's config.json edited by hand. Vote-determining fields (the spec but its certification part, the
/// data facts and the attack facts) are refused by report, resume and merge, naming config.json and the field, with
/// nothing rewritten; the certification fields (α), which only turn votes into certificates, are honoured by report.
/// </summary>
public sealed class ConfigIntegrityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-confighash-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static readonly string[] Tiny =
        ["--train-size", "200", "--test-size", "40", "--classes", "0,1", "--hidden", "8", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--threads", "2", "--models", "20"];

    internal static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private RunDirectory Certify(string name, params string[] extra)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, _, err) = Cli(["certify", .. Tiny, "--out", outDir, .. extra]);
        Assert.True(code == 0, $"exit {code}: {err}");
        return new RunDirectory(outDir);
    }

    private static void Edit(RunDirectory run, string original, Action<JsonNode> edit)
    {
        JsonNode config = JsonNode.Parse(original)!;
        edit(config);
        File.WriteAllText(run.ConfigPath, config.ToJsonString());
    }

    /// <summary>config.json rewritten as a consistent file: the edited spec and facts, with config_hash and digests recomputed.</summary>
    private static void EditAndRehash(RunDirectory run, string original, Action<JsonNode> edit)
    {
        JsonNode node = JsonNode.Parse(original)!;
        edit(node);
        var c = node.Deserialize<RunConfig>(SpecJson.Options)!;
        var rehashed = RunConfig.Create(c.Spec, c.Execution, c.Data, c.Attack) with { Backend = c.Backend, CreatedUtc = c.CreatedUtc };
        rehashed.Write(run.ConfigPath);
    }

    /// <summary>report on the edited run: exit 2, one line naming config.json and <paramref name="named"/>; the run's files are untouched.</summary>
    internal static void AssertRefused(RunDirectory run, params string[] named)
    {
        var before = Snapshot(run);
        var (code, _, err) = Cli("report", "--run", run.Root);
        Assert.True(code == 2, $"exit {code}: {err}");
        Assert.Single(err.Trim().Split('\n'));
        foreach (string n in named) Assert.Contains(n, err);
        Assert.Equal(before, Snapshot(run));
    }

    internal static SortedDictionary<string, string> Snapshot(RunDirectory run) =>
        new(Directory.GetFiles(run.Root).Where(f => Path.GetFileName(f) != ".lock")
                     .ToDictionary(f => Path.GetFileName(f)!, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))))!,
            StringComparer.Ordinal);

    [Fact]
    public void EditedSigmaIsRefusedNamingSigma()
    {
        RunDirectory run = Certify("sigma");
        string original = File.ReadAllText(run.ConfigPath);

        // One σ in the file now; editing it names it, not every hashed field (#9 item 18).
        Edit(run, original, c => c["spec"]!["smoothing"]!["sigma"] = 0.5);
        AssertRefused(run, "config.json", "edited: spec.smoothing.sigma", "config_hash");
        var (code, _, err) = Cli("certify", "--out", run.Root, "--resume");
        Assert.Equal(2, code);
        Assert.Contains("spec.smoothing.sigma", err);
        Assert.Single(err.Trim().Split('\n'));

        // Invalid values are refused by the spec's own rules, naming the field.
        Edit(run, original, c => c["spec"]!["smoothing"]!["sigma"] = -1);
        AssertRefused(run, "config.json", "spec.smoothing.sigma -1: must be a positive number");

        // config_hash recomputed too: votes.bin still carries the hash of σ = 0.25.
        EditAndRehash(run, original, c => c["spec"]!["smoothing"]!["sigma"] = 0.5);
        AssertRefused(run, "votes.bin", "config hash differs");

        // A deleted or unknown field never lets a default stand in.
        Edit(run, original, c => c["spec"]!["certification"]!.AsObject().Remove("alpha"));
        AssertRefused(run, "field spec.certification.alpha is missing");
        Edit(run, original, c => c["spec"]!["smoothing"]!["noise"] = 1);
        AssertRefused(run, "unknown field spec.smoothing.noise");

        File.WriteAllText(run.ConfigPath, original);
        Assert.Equal(0, Cli("report", "--run", run.Root).Code);
    }

    [Fact]
    public void EditedAttackFactsAreRefusedByReportResumeAndMerge()
    {
        RunDirectory run = Certify("attack", "--attack", "patch", "--trigger-size", "3", "--poison", "10", "--target", "1");
        string original = File.ReadAllText(run.ConfigPath);

        // Smaller norms, consistent among themselves, would claim triggered inputs certified (#9 item 1).
        void Shrink(JsonNode c)
        {
            var attack = c["attack"]!;
            attack["trigger_l2_norm"] = 0.001;
            foreach (string rows in new[] { "poisoned_row_norms", "triggered_row_norms" })
            {
                var array = attack[rows]!.AsArray();
                for (int i = 0; i < array.Count; i++) array[i] = 0.001;
            }
        }
        Edit(run, original, Shrink);
        AssertRefused(run, "config.json", "attack.trigger_l2_norm", "attack.triggered_row_norms", "attack.poisoned_row_norms");
        var (code, _, err) = Cli("certify", "--out", run.Root, "--resume");
        Assert.Equal(2, code);
        Assert.Contains("attack.trigger_l2_norm", err);

        Edit(run, original, c => c["attack"]!["target"] = 0);
        AssertRefused(run, "edited: attack.target");
        Edit(run, original, c => c["spec"]!["attack"]!["target"] = 0);
        AssertRefused(run, "edited: spec.attack.target");
        Edit(run, original, c => c["attack"]!["label_mode"] = "clean");
        AssertRefused(run, "attack facts disagree", "label_mode");

        // The data's name is covered too (#9 item 2).
        Edit(run, original, c => c["data"]!["dataset"] = "fashion-mnist");
        AssertRefused(run, "edited: data.dataset");

        // Merge reads shards the same way.
        Edit(run, original, Shrink);
        (code, _, err) = Cli("merge", "--out", Path.Combine(_dir, "merged"), run.Root);
        Assert.Equal(2, code);
        Assert.Contains("attack.trigger_l2_norm", err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "merged")));

        File.WriteAllText(run.ConfigPath, original);
        Assert.Equal(0, Cli("report", "--run", run.Root).Code);
    }

    [Fact]
    public void EditedAlphaRecertifiesTheSameVotes()
    {
        RunDirectory run = Certify("alpha");
        string original = File.ReadAllText(run.ConfigPath);
        double MedianRadius()
        {
            using var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
            return summary.RootElement.GetProperty("median_radius_correct").GetDouble();
        }
        double radiusAtDefault = MedianRadius();
        Assert.True(radiusAtDefault > 0);

        Edit(run, original, c => c["spec"]!["certification"]!["alpha"] = 1.5);
        AssertRefused(run, "spec.certification.alpha 1.5: must be in (0, 1)");

        // The model count is hashed: the votes of 20 models cannot be reported as 10.
        Edit(run, original, c => c["spec"]!["smoothing"]!["models"] = 10);
        AssertRefused(run, "edited: spec.smoothing.models");

        // The same votes certified at α = 0.01: every bound is looser, the radii grow, and the summary says α = 0.01.
        Edit(run, original, c => c["spec"]!["certification"]!["alpha"] = 0.01);
        var (code, output, err) = Cli("report", "--run", run.Root);
        Assert.True(code == 0, err);
        Assert.Contains("alpha = 0.01 per input", output);
        using (var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath)))
            Assert.Equal(0.01, summary.RootElement.GetProperty("alpha").GetDouble());
        Assert.True(MedianRadius() > radiusAtDefault, $"{MedianRadius()} vs {radiusAtDefault}");
        Assert.Equal(RunConfig.Read(run.ConfigPath).ConfigHash, Convert.ToHexStringLower(VoteFile.Read(run.VotesPath).ConfigHash));
    }
}

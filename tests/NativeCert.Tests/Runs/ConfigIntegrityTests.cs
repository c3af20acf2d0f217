using System.Text.Json;
using System.Text.Json.Nodes;
using NativeCert.Cli;
using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

/// <summary>
/// A finished run's config.json edited by hand: vote-determining options (σ) are refused by report and resume,
/// naming config.json and the option, with nothing rewritten; options that only turn votes into certificates (α)
/// are honoured by report, which certifies the same votes with them.
/// </summary>
public sealed class ConfigIntegrityTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-confighash-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Tiny =
        ["--train-size", "200", "--test-size", "40", "--classes", "0,1", "--hidden", "8", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--threads", "2", "--models", "20"];

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private RunDirectory Certify(string name)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, _, err) = Cli(["certify", .. Tiny, "--out", outDir]);
        Assert.True(code == 0, $"exit {code}: {err}");
        return new RunDirectory(outDir);
    }

    private static void Edit(RunDirectory run, string original, Action<JsonNode> edit)
    {
        JsonNode config = JsonNode.Parse(original)!;
        edit(config);
        File.WriteAllText(run.ConfigPath, config.ToJsonString());
    }

    /// <summary>report on the edited run: exit 2, one line naming config.json and <paramref name="named"/>; the run stays complete and untouched.</summary>
    private static void AssertRefused(RunDirectory run, string named)
    {
        byte[] summary = File.ReadAllBytes(run.SummaryPath);
        var (code, _, err) = Cli("report", "--run", run.Root);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("config.json", err);
        Assert.Contains(named, err);
        Assert.Equal(summary, File.ReadAllBytes(run.SummaryPath));
    }

    [Fact]
    public void EditedSigmaIsRefusedByReportAndResume()
    {
        RunDirectory run = Certify("sigma");
        string original = File.ReadAllText(run.ConfigPath);

        // The option alone, the field alone: they disagree, and the message names which.
        Edit(run, original, c => c["options"]!["--sigma"] = "0.5");
        AssertRefused(run, "--sigma 0.5");
        Edit(run, original, c => c["sigma"] = 0.5);
        AssertRefused(run, "sigma 0.5 disagrees with option --sigma 0.25");

        // Both, consistently: the stored options no longer give config_hash.
        Edit(run, original, c => { c["options"]!["--sigma"] = "0.5"; c["sigma"] = 0.5; });
        AssertRefused(run, "--sigma");
        AssertRefused(run, "config_hash");
        var (code, _, err) = Cli("certify", "--out", run.Root, "--resume");
        Assert.Equal(2, code);
        Assert.Contains("config_hash", err);

        // Both, with config_hash recomputed too: votes.bin still carries the hash of σ = 0.25.
        Edit(run, original, c =>
        {
            c["options"]!["--sigma"] = "0.5";
            c["sigma"] = 0.5;
            var options = c["options"].Deserialize<Dictionary<string, string>>()!;
            var voteOptions = c["vote_options"].Deserialize<List<string>>()!;
            c["config_hash"] = RunConfig.ComputeHash(options, voteOptions);
        });
        AssertRefused(run, "config hash differs");

        // Removing σ from the hashed options changes the hash as well.
        Edit(run, original, c =>
        {
            var voteOptions = c["vote_options"]!.AsArray();
            voteOptions.Remove(voteOptions.First(n => (string?)n == "--sigma"));
        });
        AssertRefused(run, "--sigma is not among vote_options");

        // Restored: report regenerates as before.
        File.WriteAllText(run.ConfigPath, original);
        Assert.Equal(0, Cli("report", "--run", run.Root).Code);
    }

    [Fact]
    public void EditedAttackFactsAreRefused()
    {
        string outDir = Path.Combine(_dir, "attack");
        var (code, _, err) = Cli(["certify", .. Tiny, "--out", outDir, "--attack", "patch", "--trigger-size", "3", "--poison", "10", "--target", "1"]);
        Assert.True(code == 0, err);
        var run = new RunDirectory(outDir);
        string original = File.ReadAllText(run.ConfigPath);

        // A smaller trigger norm would claim more triggered inputs certified than the attack allows.
        Edit(run, original, c => c["attack"]!["trigger_l2_norm"] = 0.01);
        AssertRefused(run, "trigger_l2_norm");
        Edit(run, original, c => c["attack"]!["label_mode"] = "clean");
        AssertRefused(run, "attack.label_mode clean disagrees with option --label-mode dirty");
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

        // Option and field must agree, and α must stay a probability.
        Edit(run, original, c => c["options"]!["--alpha"] = "0.01");
        AssertRefused(run, "alpha 0.001 disagrees with option --alpha 0.01");
        Edit(run, original, c => { c["options"]!["--alpha"] = "1.5"; c["alpha"] = 1.5; });
        AssertRefused(run, "alpha 1.5 must be in (0, 1)");

        // --models is not hashed either, but the votes of 20 models cannot be reported as 10.
        Edit(run, original, c => { c["options"]!["--models"] = "10"; c["models"] = 10; });
        AssertRefused(run, "--models");

        // Both edited: the same votes certified at α = 0.01, so every bound is looser and the radii grow.
        Edit(run, original, c => { c["options"]!["--alpha"] = "0.01"; c["alpha"] = 0.01; });
        var (code, output, err) = Cli("report", "--run", run.Root);
        Assert.True(code == 0, err);
        Assert.Contains("alpha = 0.01 per input", output);
        using (var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath)))
            Assert.Equal(0.01, summary.RootElement.GetProperty("alpha").GetDouble());
        Assert.True(MedianRadius() > radiusAtDefault, $"{MedianRadius()} vs {radiusAtDefault}");
        Assert.Equal(RunConfig.Read(run.ConfigPath).ConfigHash, Convert.ToHexStringLower(VoteFile.Read(run.VotesPath).ConfigHash));
    }
}

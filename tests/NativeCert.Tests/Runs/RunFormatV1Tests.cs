using System.Text.Json.Nodes;
using NativeCert.Runs;
using NativeCert.Spec;
using static NativeCert.Tests.Runs.ConfigIntegrityTests;

namespace NativeCert.Tests.Runs;

/// <summary>
/// Run directories written before the job spec (format nativecert-run/1, kept in Fixtures/run-v1 exactly as the
/// previous version wrote them): a plain run reports with the same certificates; an attack run, whose hash does not
/// cover its attack facts, is refused by report with a one-line reason and upgraded by resume (same votes, same
/// certificates, format 2); the votes of their configurations are still computed byte-identically.
/// </summary>
public sealed class RunFormatV1Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-v1-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => ConfigIntegrityTests.Cli(args);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Runs", "Fixtures", "run-v1", name);

    private RunDirectory Copy(string name)
    {
        string target = Path.Combine(_dir, name);
        Directory.CreateDirectory(target);
        foreach (string f in Directory.GetFiles(Fixture(name))) File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        return new RunDirectory(target);
    }

    [Fact]
    public void PlainVersion1RunReportsTheSameCertificates()
    {
        RunDirectory run = Copy("plain");
        var config = RunConfig.Read(run.ConfigPath);
        Assert.True(config.IsVersion1);
        Assert.Equal(0.25f, config.Spec.Smoothing.Sigma);
        Assert.Equal([8], config.Spec.Model.Hidden);
        Assert.Equal([0, 1], config.Spec.Data.Classes!);

        var (code, output, err) = Cli("report", "--run", run.Root);
        Assert.True(code == 0, err);
        Assert.Contains("majority-vote accuracy (no certificate)", output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture("plain"), "certificates.tsv")), File.ReadAllBytes(run.CertificatesPath));
        Assert.Contains(RunConfig.Version1Format, File.ReadAllText(run.ConfigPath)); // report rewrites no config

        // Its own checks still hold: an edited σ (option and field) and an edited data name are refused.
        string original = File.ReadAllText(run.ConfigPath);
        var node = JsonNode.Parse(original)!;
        node["options"]!["--sigma"] = "0.5";
        node["sigma"] = 0.5;
        File.WriteAllText(run.ConfigPath, node.ToJsonString());
        AssertRefused(run, "config.json", "config_hash");
        node = JsonNode.Parse(original)!;
        node["data"]!["dataset"] = "fashion-mnist";
        File.WriteAllText(run.ConfigPath, node.ToJsonString());
        AssertRefused(run, "config.json", "data.dataset fashion-mnist disagrees with option --dataset mnist");

        // A run from before --simultaneous has no entry for it and was per input.
        node = JsonNode.Parse(original)!;
        node["options"]!.AsObject().Remove("--simultaneous");
        File.WriteAllText(run.ConfigPath, node.ToJsonString());
        Assert.False(RunConfig.Read(run.ConfigPath).Simultaneous);
        Assert.Equal(0, Cli("report", "--run", run.Root).Code);
    }

    [Fact]
    public void Version1AttackRunIsRefusedByReportAndUpgradedByResume()
    {
        RunDirectory run = Copy("attack");
        var before = Snapshot(run);
        var (code, _, err) = Cli("report", "--run", run.Root);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("nativecert-run/1", err);
        Assert.Contains("resume the run once", err);
        Assert.Equal(before, Snapshot(run));

        // An edited attack fact is caught by resume, which recomputes them from the data.
        string original = File.ReadAllText(run.ConfigPath);
        var node = JsonNode.Parse(original)!;
        node["attack"]!["target"] = 0;
        File.WriteAllText(run.ConfigPath, node.ToJsonString());
        (code, _, err) = Cli("certify", "--resume", "--out", run.Root);
        Assert.Equal(2, code);
        Assert.Contains("attack.target", err);
        File.WriteAllText(run.ConfigPath, original);

        var votesBefore = VoteFile.Read(run.VotesPath);
        (code, _, err) = Cli("certify", "--resume", "--out", run.Root);
        Assert.True(code == 0, err);
        var config = RunConfig.Read(run.ConfigPath);
        Assert.Equal(RunConfig.CurrentFormat, config.Format);
        var votes = VoteFile.Read(run.VotesPath);
        Assert.Equal(config.ConfigHash, Convert.ToHexStringLower(votes.ConfigHash));
        Assert.Equal(votesBefore.Estimation.Counts, votes.Estimation.Counts);
        Assert.Equal(votesBefore.Selection.Counts, votes.Selection.Counts);
        Assert.Equal(votesBefore.Undefended!.Counts, votes.Undefended!.Counts);
        foreach (string f in new[] { "certificates.tsv", RunReport.TriggeredCertificatesFile })
            Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture("attack"), f)), File.ReadAllBytes(Path.Combine(run.Root, f)));
        Assert.Equal(0, Cli("report", "--run", run.Root).Code);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("attack")]
    public void TheirConfigurationsStillVoteByteIdentically(string name)
    {
        var v1 = RunConfig.Read(Path.Combine(Fixture(name), "config.json"));
        string outDir = Path.Combine(_dir, "again-" + name);
        var spec = v1.Spec;
        string[] args = ["certify", "--out", outDir, "--threads", "2", "--train-size", "200", "--test-size", "40", "--classes", "0,1", "--hidden", "8",
                         "--epochs", "1", "--batch", "32", "--sigma", "0.25", "--models", "20"];
        if (spec.Attack is not null) args = [.. args, "--method", "cohen", "--n0", "5", "--attack", "patch", "--poison", "10", "--target", "1"];
        var (code, _, err) = Cli(args);
        Assert.True(code == 0, err);
        Assert.Equal(spec, RunConfig.Read(Path.Combine(outDir, "config.json")).Spec);
        var was = VoteFile.Read(Path.Combine(Fixture(name), "votes.bin"));
        var now = VoteFile.Read(Path.Combine(outDir, "votes.bin"));
        Assert.Equal(was.Estimation.Counts, now.Estimation.Counts);
        Assert.Equal(was.Selection.Counts, now.Selection.Counts);
        Assert.Equal(was.Undefended?.Counts, now.Undefended?.Counts);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture(name), "certificates.tsv")), File.ReadAllBytes(Path.Combine(outDir, "certificates.tsv")));
    }
}

using System.Text.Json;
using NativeCert.Runs;

namespace NativeCert.Tests.Defenses;

/// <summary>certify --defense dpa|bagging end to end on real digits: run directory, report, shards + merge, resume, errors.</summary>
public sealed class DefenseCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-defense-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Tiny =
        ["--train-size", "300", "--test-size", "60", "--classes", "0,1,7", "--hidden", "16", "--batch", "32", "--threads", "2"];

    private static (int Code, string Out, string Err) Cli(params string[] args) => NativeCert.Tests.Runs.CertifyCommandTests.Cli(args);

    private string Run(string name, params string[] extra)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, output, err) = Cli(["certify", .. Tiny, "--out", outDir, .. extra]);
        Assert.True(code == 0, $"exit {code}: {err}");
        return outDir;
    }

    [Fact]
    public void DpaRunWritesExampleCertificatesAndItsShardsMergeToTheSameVotes()
    {
        string full = Run("dpa", "--defense", "dpa", "--partitions", "10", "--chunk", "3");
        var run = new RunDirectory(full);
        Assert.True(run.IsComplete);
        var config = RunConfig.Read(run.ConfigPath);
        Assert.Equal(("dpa", 10, 10), (config.Defense, config.Partitions, config.Models));
        // No noise and a step budget by default: 30 rows per partition, batch 32 → 300 epochs of one step.
        Assert.Equal((0.0, 300), (config.Sigma, config.Spec.Training.Epochs));
        string[] certs = File.ReadAllLines(run.CertificatesPath);
        Assert.Equal(NativeCert.Defenses.ExampleCertificateTsv.Header, certs[0]);
        Assert.Equal(61, certs.Length);
        Assert.All(certs.Skip(1), l => Assert.Equal("training-examples", l.Split('\t')[6]));
        using (var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath)))
        {
            var root = summary.RootElement;
            Assert.Equal("training-examples", root.GetProperty("guarantee_type").GetString());
            var defense = root.GetProperty("defense");
            Assert.Equal("dpa", defense.GetProperty("defense").GetString());
            Assert.InRange(root.GetProperty("majority_vote_accuracy").GetDouble(), 0.8, 1.0);
            Assert.InRange(defense.GetProperty("base_model_accuracy").GetDouble(), 0.6, 1.0);
            Assert.True(defense.GetProperty("median_certified_inserted").GetInt64() >= 1);
        }
        // The report regenerates byte-identically.
        byte[] before = File.ReadAllBytes(run.SummaryPath);
        Assert.Equal(0, Cli("report", "--run", full).Code);
        Assert.Equal(before, File.ReadAllBytes(run.SummaryPath));

        // Shards merge to the same votes.
        string a = Run("a", "--defense", "dpa", "--partitions", "10", "--models-range", "0:4");
        string b = Run("b", "--defense", "dpa", "--partitions", "10", "--models-range", "4:10");
        string merged = Path.Combine(_dir, "merged");
        var (code, _, err) = Cli("merge", "--out", merged, a, b);
        Assert.True(code == 0, err);
        Assert.Equal(VoteFile.Read(run.VotesPath).Estimation.Counts, VoteFile.Read(new RunDirectory(merged).VotesPath).Estimation.Counts);
        Assert.Equal(File.ReadAllText(run.CertificatesPath), File.ReadAllText(new RunDirectory(merged).CertificatesPath));

        // A run stopped after its first chunk resumes to the same votes: the shard 0:4 holds exactly such votes.
        string resumed = Path.Combine(_dir, "resumed");
        Directory.CreateDirectory(resumed);
        File.Copy(run.ConfigPath, Path.Combine(resumed, "config.json"));
        File.Copy(new RunDirectory(a).VotesPath, Path.Combine(resumed, "votes.bin"));
        (code, _, err) = Cli("certify", "--out", resumed, "--resume");
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllBytes(run.VotesPath), File.ReadAllBytes(Path.Combine(resumed, "votes.bin")));

        // Resuming with another partition count is refused.
        var (refused, _, refusal) = Cli("certify", "--out", resumed, "--resume", "--partitions", "12");
        Assert.Equal(2, refused);
        Assert.Contains("partitions", refusal);
        Assert.Contains("12", refusal);
    }

    [Fact]
    public void BaggingAttackRunCertifiesTriggeredInputsInModifiedExamples()
    {
        string dir = Run("bag", "--defense", "bagging", "--bag-size", "40", "--models", "60", "--epochs", "40",
                         "--attack", "patch", "--poison", "3", "--target", "7", "--simultaneous");
        var run = new RunDirectory(dir);
        using var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
        var root = summary.RootElement;
        Assert.Equal("bagging", root.GetProperty("method").GetString());
        Assert.True(root.GetProperty("simultaneous").GetBoolean());
        var attack = root.GetProperty("attack");
        Assert.Equal(3, attack.GetProperty("poisoned_examples").GetInt32());
        // The certified fraction recomputed from the triggered certificates' modified column.
        var rows = File.ReadAllLines(Path.Combine(dir, RunReport.TriggeredCertificatesFile)).Skip(1).Select(l => l.Split('\t')).ToArray();
        double certified = rows.Count(f => f[5] == "1" && long.Parse(f[9]) >= 3) / (double)rows.Length;
        Assert.Equal(certified, attack.GetProperty("triggered_certified_fraction").GetDouble());
        Assert.Contains("modified examples", File.ReadAllText(run.SummaryTextPath));
    }

    [Fact]
    public void CompareTabulatesAndPlotsSmoothingDpaAndBaggingRunsInPoisonedExamples()
    {
        string[] attack = ["--attack", "patch", "--poison", "2", "--target", "7"];
        string smoothing = Run("smooth", ["--models", "20", "--epochs", "1", "--sigma", "0.25", .. attack]);
        string dpa = Run("dpa", ["--defense", "dpa", "--partitions", "10", .. attack]);
        string bagging = Run("bag", "--defense", "bagging", "--bag-size", "30", "--models", "30", "--epochs", "20");
        string outDir = Path.Combine(_dir, "cmp");
        var (code, output, err) = Cli("compare", smoothing, dpa, bagging, "--out", outDir, "--trigger-norms", "0.1,0.5");
        Assert.True(code == 0, err);
        Assert.Contains("smoothing sigma=0.25 N=20, t=0.1", output);
        Assert.Contains("dpa k=10", output);
        Assert.Contains("bagging k=30 N=30", output);
        Assert.Contains("triggered certified", output);
        PlotTests(Path.Combine(outDir, NativeCert.Defenses.RunComparison.PlotFile));

        // The table's numbers are the runs' own: DPA's certified accuracy at m equals its summary's, triggered ones too.
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, NativeCert.Defenses.RunComparison.JsonFile)));
        var runs = json.RootElement.GetProperty("runs");
        Assert.Equal(3, runs.GetArrayLength());
        using var dpaSummary = JsonDocument.Parse(File.ReadAllText(new RunDirectory(dpa).SummaryPath));
        var dpaRun = runs[1];
        Assert.Equal(dpaSummary.RootElement.GetProperty("majority_vote_accuracy").GetDouble(), dpaRun.GetProperty("clean_accuracy").GetDouble());
        var fromSummary = dpaSummary.RootElement.GetProperty("defense").GetProperty("certified_accuracy_modified").EnumerateArray()
            .ToDictionary(p => p.GetProperty("examples").GetInt64(), p => p.GetProperty("certified_accuracy").GetDouble());
        foreach (var p in dpaRun.GetProperty("curves")[0].GetProperty("points").EnumerateArray())
            if (fromSummary.TryGetValue(p.GetProperty("examples").GetInt64(), out double expected))
                Assert.Equal(expected, p.GetProperty("certified_accuracy").GetDouble());
        Assert.Equal(dpaSummary.RootElement.GetProperty("attack").GetProperty("triggered_certified_fraction").GetDouble(),
                     dpaRun.GetProperty("attack").GetProperty("triggered_certified_accuracy").GetDouble());
        Assert.Equal(2, runs[0].GetProperty("curves").GetArrayLength()); // one per trigger norm
        Assert.Equal("l2-radius", runs[0].GetProperty("guarantee_type").GetString());

        // Runs on other test data are refused; so is an existing comparison.
        string other = Run("other", "--defense", "dpa", "--partitions", "10", "--data-seed", "5");
        (code, _, err) = Cli("compare", dpa, other, "--out", Path.Combine(_dir, "cmp2"));
        Assert.Equal(2, code);
        Assert.Contains("other test data", err);
        Assert.Equal(2, Cli("compare", dpa, "--out", outDir).Code);
    }

    private static void PlotTests(string path) => NativeCert.Tests.Plotting.PngTests.Decode(File.ReadAllBytes(path));

    [Theory]
    [InlineData("--partitions", "5")]                               // without --defense dpa
    [InlineData("--defense", "dpa", "--partitions", "0")]
    [InlineData("--defense", "dpa", "--partitions", "5", "--models", "7")]
    [InlineData("--defense", "bagging", "--bag-size", "0")]
    [InlineData("--defense", "bagging", "--method", "cohen")]
    [InlineData("--defense", "dpa", "--partitions", "100000")]
    public void BadDefenseOptionsAreOneLineUserErrors(params string[] bad)
    {
        var (code, output, err) = Cli(["certify", .. Tiny, "--out", Path.Combine(_dir, "bad"), .. bad]);
        Assert.Equal(2, code);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("nativecert: error"));
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")) && Directory.EnumerateFiles(Path.Combine(_dir, "bad")).Any());
        Assert.Equal("", output);
    }
}

using System.Diagnostics;
using System.Text.Json;
using NativeCert.Cli;
using NativeCert.Runs;
using NativeCert.Tests.Plotting;

namespace NativeCert.Tests.Runs;

/// <summary>
/// certify and report end to end on tiny configurations of the real built-in MNIST with the real CPU engine:
/// run directory contents, attack evaluation, byte-identical report regeneration, kill -9 and resume,
/// refusal to resume with other options, and the exit codes of user errors.
/// </summary>
public sealed class CertifyCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-certify-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A few hundred real digits of three classes, small MLP, one epoch.</summary>
    private static readonly string[] Tiny =
        ["--train-size", "300", "--test-size", "60", "--classes", "0,1,7", "--hidden", "16", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--threads", "2"];

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Run(string name, params string[] extra)
    {
        string outDir = Path.Combine(_dir, name);
        var (code, output, err) = Cli(["certify", .. Tiny, "--out", outDir, .. extra]);
        Assert.True(code == 0, $"exit {code}: {err}");
        Assert.Contains("majority-vote accuracy (no certificate)", output);
        return outDir;
    }

    [Fact]
    public void CertifyWritesACompleteRunDirectory()
    {
        string dir = Run("clean", "--models", "30", "--chunk", "7");
        var run = new RunDirectory(dir);
        Assert.True(run.IsComplete);
        foreach (string f in new[] { run.ConfigPath, run.VotesPath, run.VotesTsvPath, run.CertificatesPath, run.SummaryTextPath, run.RadiusPlotPath, run.PoisonPlotPath, run.TimingPath })
            Assert.True(File.Exists(f), f);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var votes = VoteFile.Read(run.VotesPath);
        Assert.Equal(30, votes.ModelsDone);
        Assert.Equal(60, votes.Inputs);
        Assert.All(Enumerable.Range(0, 60), t => Assert.Equal(30, votes.Estimation.Total(t)));
        var config = RunConfig.Read(run.ConfigPath);
        Assert.Equal(config.ConfigHash, Convert.ToHexStringLower(votes.ConfigHash));
        Assert.Equal(0.25f, config.Spec.Smoothing.Sigma);
        Assert.Equal("cpu", config.Backend!.Name);

        string[] certs = File.ReadAllLines(run.CertificatesPath);
        Assert.Equal("idx\tlabel\tprediction\tp_a\tp_b\tradius\tcorrect\tmax_poison", certs[0]);
        Assert.Equal(61, certs.Length);

        using var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
        double accuracy = summary.RootElement.GetProperty("certified_accuracy_at_zero_radius").GetDouble();
        // Abstentions count as wrong in certified accuracy, so the plain majority vote is at least as accurate.
        Assert.True(summary.RootElement.GetProperty("majority_vote_accuracy").GetDouble() >= accuracy - 1e-12);
        // Three well-separated digit classes: even one epoch on 300 noisy rows should beat chance (1/3) clearly.
        Assert.InRange(accuracy, 0.6, 1.0);
        Assert.Contains("label flips", summary.RootElement.GetProperty("guarantee").GetString());

        var (w, h, _) = PngTests.Decode(File.ReadAllBytes(run.RadiusPlotPath));
        Assert.Equal((800, 560), (w, h));
        PngTests.Decode(File.ReadAllBytes(run.PoisonPlotPath));
    }

    [Fact]
    public void AttackRunReportsSuccessRatesAndTriggeredCertificates()
    {
        string dir = Run("attack", "--models", "20", "--attack", "patch", "--trigger-size", "3", "--poison", "30", "--target", "7");
        var run = new RunDirectory(dir);
        var votes = VoteFile.Read(run.VotesPath);
        Assert.NotNull(votes.Undefended);
        int triggered = votes.Kinds.Count(k => k == InputKind.Triggered);
        Assert.Equal(40, triggered); // the 60 test rows hold 20 of the target class, which get no trigger
        Assert.All(Enumerable.Range(0, votes.Inputs), t => Assert.Equal(1, votes.Undefended!.Total(t)));
        Assert.Equal(41, File.ReadAllLines(Path.Combine(dir, RunReport.TriggeredCertificatesFile)).Length);

        using var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
        var attack = summary.RootElement.GetProperty("attack");
        Assert.Equal(30, attack.GetProperty("poisoned_examples").GetInt32());
        Assert.Equal(2, attack.GetProperty("target").GetInt32()); // class id 7 is label 2 of 0,1,7
        // A 3x3 patch of ones on MNIST changes at most 9 pixels by at most 1.
        Assert.InRange(attack.GetProperty("trigger_l2_norm").GetDouble(), 0.5, 3.0);
        Assert.InRange(attack.GetProperty("attack_success_rate_undefended").GetDouble(), 0, 1);
        // The undefended numbers are those of the σ = 0 model's stored votes: triggered rows sent to the target, clean rows correct.
        int[] trig = Enumerable.Range(0, votes.Inputs).Where(t => votes.Kinds[t] == InputKind.Triggered).ToArray();
        int[] clean = Enumerable.Range(0, votes.Inputs).Where(t => votes.Kinds[t] == InputKind.Clean).ToArray();
        Assert.Equal((double)trig.Count(t => VoteFile.ArgMax(votes.Undefended!.Row(t)) == 2) / trig.Length,
                     attack.GetProperty("attack_success_rate_undefended").GetDouble(), 12);
        Assert.Equal((double)clean.Count(t => VoteFile.ArgMax(votes.Undefended!.Row(t)) == votes.Labels[t]) / clean.Length,
                     attack.GetProperty("clean_accuracy_undefended").GetDouble(), 12);
        Assert.Contains("NOT covered", attack.GetProperty("coverage").GetString());
        Assert.Contains("attack success rate, undefended", File.ReadAllText(run.SummaryTextPath));
    }

    [Fact]
    public void ReportRegeneratesByteIdenticalFiles()
    {
        string dir = Run("report", "--models", "15", "--method", "cohen", "--n0", "5", "--attack", "blend", "--trigger-norm", "0.5", "--poison", "10");
        var run = new RunDirectory(dir);
        string[] files = [run.VotesTsvPath, run.CertificatesPath, Path.Combine(dir, RunReport.TriggeredCertificatesFile),
                          run.SummaryTextPath, run.SummaryPath, run.RadiusPlotPath, run.PoisonPlotPath];
        var before = files.Select(File.ReadAllBytes).ToArray();
        foreach (string f in files) File.Delete(f);

        var (code, output, err) = Cli("report", "--run", dir);
        Assert.True(code == 0, err);
        Assert.Contains("certified accuracy at R", output);
        for (int i = 0; i < files.Length; i++) Assert.True(before[i].AsSpan().SequenceEqual(File.ReadAllBytes(files[i])), files[i]);
        var votes = VoteFile.Read(run.VotesPath);
        Assert.Equal(5, votes.Selection.Total(0));
        Assert.Equal(15, votes.Estimation.Total(0));
    }

    [Fact]
    public void SimultaneousCertifiesTheSameVotesAtAlphaOverTPerSet()
    {
        string[] attack = ["--models", "40", "--attack", "patch", "--trigger-size", "3", "--poison", "10", "--target", "7"];
        string perInput = Run("per-input", attack);
        string joint = Run("simultaneous", [.. attack, "--simultaneous"]);
        var perRun = new RunDirectory(perInput);
        var jointRun = new RunDirectory(joint);

        // Not a vote option: same config hash and the same votes, only the certificates differ.
        var perConfig = RunConfig.Read(perRun.ConfigPath);
        var jointConfig = RunConfig.Read(jointRun.ConfigPath);
        Assert.Equal(perConfig.ConfigHash, jointConfig.ConfigHash);
        Assert.True(jointConfig.Simultaneous);
        Assert.False(perConfig.Simultaneous);
        var perVotes = VoteFile.Read(perRun.VotesPath);
        var jointVotes = VoteFile.Read(jointRun.VotesPath);
        Assert.Equal(perVotes.Estimation.Counts, jointVotes.Estimation.Counts);

        // α/T is smaller than α: p_A can only fall and p_B only rise, so every radius can only shrink.
        int clean = jointVotes.Kinds.Count(k => k == InputKind.Clean), triggered = jointVotes.Inputs - clean;
        Assert.Equal((60, 40), (clean, triggered));
        foreach (string file in new[] { "certificates.tsv", RunReport.TriggeredCertificatesFile })
        {
            double[] per = Radii(Path.Combine(perInput, file)), simultaneous = Radii(Path.Combine(joint, file));
            Assert.Equal(per.Length, simultaneous.Length);
            for (int i = 0; i < per.Length; i++) Assert.True(simultaneous[i] <= per[i], $"{file} row {i}: {simultaneous[i]} > {per[i]}");
            Assert.True(simultaneous.Sum() < per.Sum(), $"{file}: no radius shrank");
            Assert.Contains(simultaneous, r => r > 0); // 40 models: unanimous votes still certify at alpha/T
        }

        // Each set is certified on its own: clean at α/60, triggered at α/40 (α = 0.001 by default).
        var perAll = RunReport.Certify(perConfig, perVotes);
        var jointAll = RunReport.Certify(jointConfig, jointVotes);
        for (int t = 0; t < jointVotes.Inputs; t++)
        {
            double want = jointVotes.Kinds[t] == InputKind.Clean ? 0.001 / 60 : 0.001 / 40;
            var reference = NativeCert.Certification.Certifier.CertifySimuEMReference(jointVotes.Estimation.Row(t), 0.25, want);
            Assert.Equal(reference.Radius, jointAll[t].Radius, 12);
            Assert.True(jointAll[t].Radius <= perAll[t].Radius);
        }

        using var summary = JsonDocument.Parse(File.ReadAllText(jointRun.SummaryPath));
        Assert.True(summary.RootElement.GetProperty("simultaneous").GetBoolean());
        Assert.Equal(0.001 / 60, summary.RootElement.GetProperty("alpha_per_input").GetDouble(), 15);
        Assert.Equal(0.001 / 40, summary.RootElement.GetProperty("alpha_per_triggered_input").GetDouble(), 15);
        string guarantee = summary.RootElement.GetProperty("guarantee").GetString()!;
        Assert.Contains("jointly for all T = 60 clean test inputs (each certified at alpha/T = 1.66667E-05)", guarantee);
        Assert.Contains("T = 40 triggered inputs are certified separately", guarantee);
        string text = File.ReadAllText(jointRun.SummaryTextPath);
        Assert.Contains("simultaneous (alpha/T = ", text);
        Assert.Contains("for each input", File.ReadAllText(perRun.SummaryTextPath));
        using var perSummary = JsonDocument.Parse(File.ReadAllText(perRun.SummaryPath));
        Assert.False(perSummary.RootElement.GetProperty("simultaneous").GetBoolean());

        // report regenerates byte-identical files from config.json, simultaneous included.
        string[] files = [jointRun.CertificatesPath, Path.Combine(joint, RunReport.TriggeredCertificatesFile), jointRun.SummaryTextPath, jointRun.SummaryPath];
        var before = files.Select(File.ReadAllBytes).ToArray();
        foreach (string f in files) File.Delete(f);
        var (code, output, err) = Cli("report", "--run", joint);
        Assert.True(code == 0, err);
        Assert.Contains("simultaneous", output);
        for (int i = 0; i < files.Length; i++) Assert.True(before[i].AsSpan().SequenceEqual(File.ReadAllBytes(files[i])), files[i]);

        // Resuming keeps the stored value and refuses another one.
        var (refused, _, refusal) = Cli("certify", "--out", perInput, "--resume", "--simultaneous");
        Assert.Equal(2, refused);
        Assert.Contains("--simultaneous false (run) vs true (now)", refusal);
        (code, output, err) = Cli("certify", "--out", perInput, "--resume");
        Assert.True(code == 0, err);
        Assert.Contains("for each input", output);
        Assert.False(RunConfig.Read(perRun.ConfigPath).Simultaneous);
    }

    /// <summary>The radius column of a certificates TSV.</summary>
    private static double[] Radii(string path)
    {
        string[] lines = File.ReadAllLines(path);
        int column = Array.IndexOf(lines[0].Split('\t'), "radius");
        return lines.Skip(1).Select(l => double.Parse(l.Split('\t')[column], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    [Fact]
    public void KilledRunResumesToVotesIdenticalToAnUninterruptedRun()
    {
        // Slower than Tiny (more rows, one thread) so that the child is killed mid-run.
        string[] config = ["--dataset", "mnist", "--train-size", "600", "--test-size", "60", "--classes", "0,1,7", "--hidden", "24", "--epochs", "1",
                           "--batch", "32", "--sigma", "0.25", "--models", "360", "--chunk", "12"];
        string full = Path.Combine(_dir, "full");
        var (fullCode, _, fullErr) = Cli(["certify", .. config, "--out", full, "--threads", "1"]);
        Assert.True(fullCode == 0, fullErr);

        string killed = Path.Combine(_dir, "killed");
        string dll = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string a in (string[])[dll, "certify", .. config, "--out", killed, "--threads", "1"]) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        child.ErrorDataReceived += (_, _) => { };
        child.OutputDataReceived += (_, _) => { };
        child.BeginErrorReadLine();
        child.BeginOutputReadLine();
        string votesPath = Path.Combine(killed, "votes.bin");
        int killedAt = -1;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60) && !child.HasExited)
        {
            if (File.Exists(votesPath))
            {
                int done;
                try { done = VoteFile.Read(votesPath).ModelsDone; } catch (Exception e) when (e is IOException or UserInputException) { continue; }
                if (done > 0) { child.Kill(entireProcessTree: true); killedAt = done; break; }
            }
            Thread.Sleep(2);
        }
        child.WaitForExit();
        Assert.True(killedAt > 0 && killedAt < 360, $"child was not killed mid-run (models done at kill: {killedAt}, exit {(child.HasExited ? child.ExitCode : 0)})");
        var run = new RunDirectory(killed);
        Assert.False(run.IsComplete);
        int onDisk = VoteFile.Read(votesPath).ModelsDone;
        Assert.True(onDisk < 360 && onDisk % 12 == 0, $"{onDisk} models on disk");

        // Resuming with another configuration is refused, naming the option.
        var (refused, _, refusal) = Cli("certify", "--out", killed, "--resume", "--sigma", "0.3");
        Assert.Equal(2, refused);
        Assert.Contains("--sigma 0.25 (run) vs 0.3 (now)", refusal);
        Assert.Single(refusal.Split('\n'), l => l.StartsWith("nativecert: error"));

        // Resume with only --out (options come from config.json) and other execution options: votes come out identical.
        var (code, _, err) = Cli("certify", "--out", killed, "--resume", "--threads", "2", "--chunk", "50");
        Assert.True(code == 0, err);
        Assert.True(run.IsComplete);
        Assert.Equal(File.ReadAllBytes(Path.Combine(full, "votes.bin")), File.ReadAllBytes(votesPath));
        Assert.Equal(File.ReadAllBytes(Path.Combine(full, "certificates.tsv")), File.ReadAllBytes(Path.Combine(killed, "certificates.tsv")));
    }

    [Theory]
    [InlineData("--sigma", "-1", "--sigma")]
    [InlineData("--models", "0", "--models")]
    [InlineData("--alpha", "1.5", "--alpha")]
    [InlineData("--trigger-norms", "0.1,x", "--trigger-norms")]
    [InlineData("--hidden", "16,abc", "--hidden")]
    public void BadOptionsAreOneLineUserErrors(string option, string value, string named)
    {
        string outDir = Path.Combine(_dir, "bad");
        var (code, _, err) = Cli(["certify", .. Tiny, "--models", "3", "--out", outDir, option, value]);
        Assert.Equal(2, code);
        Assert.Contains(named, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(outDir, "summary.json")));
    }

    [Fact]
    public void UnwritableOutAndExistingRunsAreUserErrors()
    {
        string blocker = Path.Combine(_dir, "file");
        File.WriteAllText(blocker, "x");
        var (code, _, err) = Cli(["certify", .. Tiny, "--models", "3", "--out", Path.Combine(blocker, "run")]);
        Assert.Equal(2, code);
        Assert.Contains(blocker, err);
        Assert.Single(err.Trim().Split('\n'));

        string dir = Run("twice", "--models", "3");
        (code, _, err) = Cli(["certify", .. Tiny, "--models", "3", "--out", dir]);
        Assert.Equal(2, code);
        Assert.Contains("already holds a run; resume it", err);
        Assert.Single(err.Trim().Split('\n'));

        (code, _, err) = Cli("report", "--run", Path.Combine(_dir, "missing"));
        Assert.Equal(2, code);
        Assert.Contains("missing", err);

        (code, _, err) = Cli(["certify", .. Tiny, "--resume"]);
        Assert.Equal(2, code);
        Assert.Contains("--out", err);
    }
}

public sealed class KeepModelsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-keep-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void KeptModelsRevoteTheRunsVotes()
    {
        string outDir = Path.Combine(_dir, "run");
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(),
            ["certify", "--train-size", "200", "--test-size", "30", "--classes", "3,8", "--hidden", "8", "--epochs", "1", "--models", "10",
             "--chunk", "4", "--backend", "cpu", "--keep-models", "--out", outDir], new StringWriter(), stderr);
        Assert.True(code == 0, stderr.ToString());
        string[] files = Directory.GetFiles(Path.Combine(outDir, "models")).Select(Path.GetFileName).Order().ToArray()!;
        Assert.Equal(["models-000000-000004.bin", "models-000004-000008.bin", "models-000008-000010.bin"], files);

        var split = NativeCert.Data.DatasetCatalog.Load("mnist", new NativeCert.Data.DataLoadOptions { TrainSize = 200, TestSize = 30, Classes = [3, 8] });
        var total = new NativeCert.Engine.VoteCounts(30, 2);
        foreach (string f in files) total.Add(NativeCert.Engine.EnsembleFile.Load(Path.Combine(outDir, "models", f)).Vote(split.Test));
        Assert.Equal(total.Counts, VoteFile.Read(Path.Combine(outDir, "votes.bin")).Estimation.Counts);
    }
}

public sealed class ShardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-shards-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Config =
        ["--train-size", "200", "--test-size", "40", "--classes", "2,5", "--hidden", "8", "--epochs", "1", "--batch", "32",
         "--models", "9", "--method", "cohen", "--n0", "4", "--attack", "patch", "--poison", "10", "--target", "5"];

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void ShardsMergeToTheVotesAndCertificatesOfOneRun()
    {
        string full = Path.Combine(_dir, "full"), a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b"), merged = Path.Combine(_dir, "merged");
        Assert.Equal(0, Cli(["certify", .. Config, "--out", full]).Code);
        // Shards straddle the n0 = 4 selection boundary and come in any order.
        var (code, output, err) = Cli(["certify", .. Config, "--out", b, "--models-range", "6:13"]);
        Assert.True(code == 0, err);
        Assert.Contains("shard: models [6, 13) of 13", output);
        Assert.False(new RunDirectory(b).IsComplete);
        Assert.Equal(2, Cli("report", "--run", b).Code);
        Assert.Equal(0, Cli(["certify", .. Config, "--out", a, "--models-range", "0:6"]).Code);

        var (gapCode, _, gap) = Cli("merge", "--out", merged, b);
        Assert.Equal(2, gapCode);
        Assert.Contains("models [0, 6) are in no shard", gap);

        (code, output, err) = Cli("merge", "--out", merged, b, a);
        Assert.True(code == 0, err);
        Assert.Contains("attack success rate", output);
        foreach (string f in new[] { "votes.bin", "certificates.tsv", RunReport.TriggeredCertificatesFile, "summary.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(full, f)), File.ReadAllBytes(Path.Combine(merged, f)));
    }

    [Fact]
    public void MergeKeepsSimultaneousAndRefusesShardsThatDisagree()
    {
        string full = Path.Combine(_dir, "full"), a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b"), perInput = Path.Combine(_dir, "p");
        string merged = Path.Combine(_dir, "merged");
        Assert.Equal(0, Cli(["certify", .. Config, "--simultaneous", "--out", full]).Code);
        Assert.Equal(0, Cli(["certify", .. Config, "--simultaneous", "--out", a, "--models-range", "0:6"]).Code);
        Assert.Equal(0, Cli(["certify", .. Config, "--simultaneous", "--out", b, "--models-range", "6:13"]).Code);
        Assert.Equal(0, Cli(["certify", .. Config, "--out", perInput, "--models-range", "6:13"]).Code);

        var (code, _, err) = Cli("merge", "--out", Path.Combine(_dir, "mixed"), a, perInput);
        Assert.Equal(2, code);
        Assert.Contains("--simultaneous true (", err);
        Assert.Contains(") vs false (", err);

        (code, var output, err) = Cli("merge", "--out", merged, a, b);
        Assert.True(code == 0, err);
        Assert.Contains("simultaneous (alpha/T = ", output);
        Assert.True(RunConfig.Read(new RunDirectory(merged).ConfigPath).Simultaneous);
        foreach (string f in new[] { "votes.bin", "certificates.tsv", RunReport.TriggeredCertificatesFile, "summary.json", "summary.txt" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(full, f)), File.ReadAllBytes(Path.Combine(merged, f)));
    }

    [Fact]
    public void BadRangesAndMismatchedShardsAreUserErrors()
    {
        Assert.Contains("--models-range", Cli(["certify", .. Config, "--out", Path.Combine(_dir, "x"), "--models-range", "5:3"]).Err);
        Assert.Contains("--models-range", Cli(["certify", .. Config, "--out", Path.Combine(_dir, "x"), "--models-range", "0:99"]).Err);
        string a = Path.Combine(_dir, "a"), c = Path.Combine(_dir, "c");
        Assert.Equal(0, Cli(["certify", .. Config, "--out", a, "--models-range", "0:6"]).Code);
        Assert.Equal(0, Cli(["certify", .. Config, "--out", c, "--models-range", "6:13", "--seed", "1"]).Code);
        var (code, _, err) = Cli("merge", "--out", Path.Combine(_dir, "m"), a, c);
        Assert.Equal(2, code);
        Assert.Contains("--seed 0 (", err);
        Assert.Contains(") vs 1 (", err);
    }
}

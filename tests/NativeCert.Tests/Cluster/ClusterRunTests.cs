using System.Diagnostics;
using NativeCert.Cli;
using NativeCert.Cli.Commands;
using NativeCert.Cli.Cluster;
using NativeCert.Runs;

namespace NativeCert.Tests.Cluster;

/// <summary>
/// A cluster run without a scheduler: <c>slurm submit --dry-run</c> writes the spec and readable scripts; shard workers
/// run from the stored spec with <c>certify --spec --shard i/K</c> (as a Kubernetes Indexed Job would), on mixed
/// backends, and <c>slurm merge</c> gives the bytes of one certify process; bad input is one line, exit 2, nothing written.
/// </summary>
public sealed class ClusterRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-cluster-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Truly tiny (the ILGPU CPU accelerator computes one shard): an attack, so the undefended model runs too.</summary>
    private static readonly string[] Tiny =
        ["--classes", "1,7", "--train-size", "100", "--test-size", "20", "--hidden", "8", "--epochs", "2", "--batch", "16",
         "--models", "8", "--chunk", "3", "--sigma", "0.25", "--attack", "patch", "--trigger-size", "2", "--poison", "5", "--target", "7", "--threads", "1"];

    internal static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void DryRunWritesTheSpecAndScriptsThatCallThisNativeCert()
    {
        string dir = Path.Combine(_dir, "run");
        var (code, output, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, .. Tiny, "--dry-run", "--partition", "short", "--time", "0:10:00",
                                       "--cpus-per-task", "2", "--mem", "2G", "--sbatch-arg", "--account=proj", "--sbatch-arg=--qos=low"]);
        Assert.True(code == 0, err);
        var run = new ClusterRun(dir);
        Assert.Contains($"sbatch --parsable --array=0-2 {run.ShardsScriptPath}", output);
        RunConfig spec = RunConfig.Read(run.SpecPath);
        Assert.Equal(8, spec.TotalModels);
        Assert.Null(spec.Backend);
        Assert.False(run.Run.IsComplete);
        ClusterPlan plan = run.ReadPlan();
        Assert.Equal(3, plan.Shards);
        Assert.Empty(plan.Submissions);

        string shards = File.ReadAllText(run.ShardsScriptPath), merge = File.ReadAllText(run.MergeScriptPath);
        foreach (string line in new[] { "#SBATCH --array=0-2", $"#SBATCH --output={run.LogsDirectory}/shard-%a.log", "#SBATCH --requeue", "#SBATCH --partition=short",
                                        "#SBATCH --time=0:10:00", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=2G", "#SBATCH --account=proj", "#SBATCH --qos=low" })
            Assert.Contains(line + "\n", shards);
        Assert.Contains("certify --spec \"$run/config.json\" --shard \"$shard/$shards\" --out \"$out\"", shards);
        Assert.Contains("--backend cpu", shards);
        Assert.Contains("slurm merge \"$run\"", merge);
        Assert.DoesNotContain("--cpus-per-task", merge);
        string self = string.Join(' ', SlurmCommand.SelfCommand().Select(SlurmScripts.Quote));
        Assert.Contains($"nativecert=({self})", shards);
        Assert.Contains($"nativecert=({self})", merge);
        Assert.True(Path.IsPathRooted(SlurmCommand.SelfCommand()[0]) || SlurmCommand.SelfCommand()[0] == "dotnet");
        foreach (string script in new[] { run.ShardsScriptPath, run.MergeScriptPath })
        {
            var (bash, _, bashErr) = RunProcess("bash", ["-n", script]);
            Assert.True(bash == 0, bashErr);
        }

        // Without a scheduler the status reads progress from disk.
        (code, output, err) = Cli("slurm", "status", dir);
        Assert.True(code == 0, err);
        Assert.Contains("0 of 3 shards complete, models 0 / 8", output);
        Assert.Contains("not submitted", output);
    }

    [Fact]
    public void ShardWorkersFromTheSpecOnMixedBackendsMergeToTheBytesOfOneProcess()
    {
        string single = Path.Combine(_dir, "single"), dir = Path.Combine(_dir, "run");
        var (code, _, err) = Cli(["certify", .. Tiny, "--out", single]);
        Assert.True(code == 0, err);
        (code, _, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, .. Tiny, "--dry-run"]);
        Assert.True(code == 0, err);
        var run = new ClusterRun(dir);

        // The spec's options hold; a worker asked for another job is refused before it computes anything.
        (code, _, err) = Cli("certify", "--spec", run.SpecPath, "--shard", "0/3", "--out", run.ShardDirectory(0), "--sigma", "0.5");
        Assert.Equal(2, code);
        Assert.Contains("differs from the spec", err);
        Assert.Matches("sigma 0.25 .* vs 0.5 ", err);
        Assert.False(Directory.Exists(run.ShardDirectory(0)));

        // Shards 2, 0, 1 in any order, shard 1 on the ILGPU kernels: the Kubernetes Indexed Job way (no Slurm).
        foreach (var (shard, backend) in new[] { (2, "cpu"), (0, "cpu"), (1, "ilgpu-cpu") })
        {
            (code, var output, err) = Cli("certify", "--spec", run.SpecPath, "--shard", $"{shard}/3", "--out", run.ShardDirectory(shard), "--backend", backend);
            Assert.True(code == 0, err);
            Assert.Contains("shard: models", output);
        }
        (code, _, err) = Cli("slurm", "merge", dir);
        Assert.True(code == 0, err);
        foreach (string f in new[] { "votes.bin", "certificates.tsv", RunReport.TriggeredCertificatesFile, "summary.json", "votes.tsv" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(single, f)), File.ReadAllBytes(Path.Combine(dir, f)));

        // Only the shard starting at model 0 trained the undefended model.
        Assert.NotNull(VoteFile.Read(new RunDirectory(run.ShardDirectory(0)).VotesPath).Undefended);
        Assert.Null(VoteFile.Read(new RunDirectory(run.ShardDirectory(1)).VotesPath).Undefended);
        Assert.Null(VoteFile.Read(new RunDirectory(run.ShardDirectory(2)).VotesPath).Undefended);

        // The merged config.json records each shard's range and backend.
        RunConfig merged = RunConfig.Read(run.SpecPath);
        Assert.Equal(["cpu", "ilgpu-cpu", "cpu"], merged.Shards!.Select(s => s.Backend));
        Assert.Equal([0, 2, 5], merged.Shards!.Select(s => s.Start));
        Assert.Equal([2, 5, 8], merged.Shards!.Select(s => s.End));
        Assert.Contains("ILGPU CPU accelerator", merged.Shards![1].Device);
        Assert.Equal("cpu+ilgpu-cpu", merged.Backend!.Name);
        Assert.Equal(RunConfig.Read(new RunDirectory(single).ConfigPath).ConfigHash, merged.ConfigHash);

        // Rerunning the merge gives the same run; a report regenerates it byte for byte.
        byte[] summary = File.ReadAllBytes(run.Run.SummaryPath);
        Assert.Equal(0, Cli("slurm", "merge", dir).Code);
        Assert.Equal(summary, File.ReadAllBytes(run.Run.SummaryPath));
        Assert.Equal(0, Cli("report", "--run", dir).Code);
        Assert.Equal(summary, File.ReadAllBytes(run.Run.SummaryPath));
    }

    [Fact]
    public void MergeRefusesAnIncompleteShardNamingIt()
    {
        string dir = Path.Combine(_dir, "run");
        Assert.Equal(0, Cli(["slurm", "submit", "--shards", "2", "--out", dir, .. Tiny, "--dry-run"]).Code);
        var run = new ClusterRun(dir);
        Assert.Equal(0, Cli("certify", "--spec", run.SpecPath, "--shard", "0/2", "--out", run.ShardDirectory(0)).Code);
        var (code, _, err) = Cli("slurm", "merge", dir);
        Assert.Equal(2, code);
        Assert.Contains($"shard 1 ({run.ShardDirectory(1)}) holds 0 of its 4 models [4, 8)", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(run.Run.IsComplete);
        Assert.False(File.Exists(run.Run.VotesPath));
    }

    public static TheoryData<string[], string> BadSubmissions => new()
    {
        { ["--shards", "0"], "--shards 0: must be at least 1" },
        { [], "--shards: give the number of shards" },
        { ["--shards", "9"], "--shards 9: more than the 8 models" },
        { ["--shards", "2", "--models-range", "0:4"], "--models-range: not an option of slurm submit" },
        { ["--shards", "2", "--shard", "0/2"], "--shard: not an option of slurm submit" },
        { ["--shards", "2", "--partition", "a b"], "--partition 'a b': holds white space" },
        { ["--shards", "2", "--sbatch-arg", "account=x"], "--sbatch-arg 'account=x': expected an sbatch option" },
        { ["--shards", "2", "--sbatch-arg=--array=0-3"], "NativeCert sets the array" },
        { ["--shards", "2", "--cpus-per-task", "0"], "--cpus-per-task 0: must be at least 1" },
        { ["--shards", "2", "--sigma", "-1"], "--sigma" },
        { ["--shards", "2", "--resume"], "holds no cluster run" },
    };

    [Theory]
    [MemberData(nameof(BadSubmissions))]
    public void BadSubmissionsAreOneLineAndWriteNothing(string[] options, string message)
    {
        string dir = Path.Combine(_dir, "bad");
        var (code, output, err) = Cli(["slurm", "submit", "--out", dir, .. Tiny, .. options, "--dry-run"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(message, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public void AnOutThatHoldsAnotherSpecOrIsUnwritableIsRefused()
    {
        string dir = Path.Combine(_dir, "run");
        Assert.Equal(0, Cli(["slurm", "submit", "--shards", "2", "--out", dir, .. Tiny, "--dry-run"]).Code);
        byte[] spec = File.ReadAllBytes(new ClusterRun(dir).SpecPath);
        var (code, _, err) = Cli(["slurm", "submit", "--shards", "2", "--out", dir, .. Tiny, "--seed", "3", "--dry-run"]);
        Assert.Equal(2, code);
        Assert.Contains("holds another job spec", err);
        Assert.Matches("seed 0 .* vs 3 ", err);
        (code, _, err) = Cli(["slurm", "submit", "--shards", "2", "--out", dir, .. Tiny, "--dry-run"]);
        Assert.Equal(2, code);
        Assert.Contains("already holds this cluster run; pass --resume", err);
        (code, _, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, "--resume", "--dry-run"]);
        Assert.Equal(2, code);
        Assert.Contains("--shards 3: ", err);
        Assert.Equal(spec, File.ReadAllBytes(new ClusterRun(dir).SpecPath));

        string blocker = Path.Combine(_dir, "file");
        File.WriteAllText(blocker, "x");
        (code, _, err) = Cli(["slurm", "submit", "--shards", "2", "--out", Path.Combine(blocker, "run"), .. Tiny, "--dry-run"]);
        Assert.Equal(2, code);
        Assert.Contains("--out", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void WithoutSbatchOnPathNothingIsWritten()
    {
        string dir = Path.Combine(_dir, "run");
        var self = SlurmCommand.SelfCommand();
        var (code, output, err) = RunProcess(self[0], [.. self.Skip(1), "slurm", "submit", "--shards", "2", "--out", dir, .. Tiny],
                                             env: ("PATH", Path.Combine(_dir, "empty-path")));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal("nativecert: error: slurm submit: sbatch is not on PATH (run on a Slurm login node, or pass --dry-run to write the scripts only)", err.Trim());
        Assert.False(Directory.Exists(dir));
    }

    internal static (int Code, string Out, string Err) RunProcess(string file, IEnumerable<string> args, (string Name, string Value)? env = null)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        if (env is { } e) start.Environment[e.Name] = e.Value;
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result, error.Result);
    }
}

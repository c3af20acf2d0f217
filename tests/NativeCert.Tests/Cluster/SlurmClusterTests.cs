using System.Diagnostics;
using NativeCert.Cli.Cluster;
using NativeCert.Runs;
using static NativeCert.Tests.Cluster.ClusterRunTests;

namespace NativeCert.Tests.Cluster;

/// <summary>
/// <c>nativecert slurm submit|status</c> against a real Slurm (the single-node cluster of .ci/slurm-up.sh): a 3-shard
/// run gives the bytes of one certify process; so does a run whose shard task is killed mid-way and requeued; a shard
/// that fails keeps the merge from running, status names it, and <c>submit --resume</c> completes the run; a script
/// sbatch rejects is one line and leaves nothing. Skipped without a cluster (saying how to start one), except under CI.
/// </summary>
public sealed class SlurmClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-slurm-").FullName;

    public void Dispose()
    {
        // A failed test may leave jobs queued: cancel every job this test submitted before removing its files.
        foreach (string plan in Directory.EnumerateFiles(_dir, "cluster.json", SearchOption.AllDirectories))
        {
            var run = new ClusterRun(Path.GetDirectoryName(Path.GetDirectoryName(plan))!);
            try { new SlurmClient().Cancel([.. run.ReadPlan().Submissions.SelectMany(s => new[] { s.ArrayJob, s.MergeJob }).Where(j => j.Length > 0)]); }
            catch (UserInputException) { }
        }
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Real digits of three classes, a small MLP, one epoch; an attack, so shard 0 trains the undefended model.</summary>
    private static readonly string[] Small =
        ["--train-size", "300", "--test-size", "60", "--classes", "0,1,7", "--hidden", "16", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--models", "12", "--attack", "patch", "--poison", "20", "--target", "7"];

    /// <summary>
    /// Slow enough to kill a shard task while it runs: a shard once finished its last 15 models between the probe that saw
    /// it running and the scancel, on a machine busy with builds (600 rows, hidden 32, 4 epochs), and again with 8 epochs
    /// on a 2-core Zen 5 during the full suite, where such a shard of 30 models took 0.75 s on one thread. 2,000 rows,
    /// hidden 128 and 32 epochs: 5.4 s a shard on one Zen 5 thread (`nativecert certify` with these options and
    /// `--models 30 --threads 1`), so the window from the probe to the half-way mark is seconds on the fastest machine seen.
    /// </summary>
    private static readonly string[] Slower =
        ["--train-size", "2000", "--test-size", "60", "--classes", "0,1,7", "--hidden", "128", "--epochs", "32", "--batch", "32",
         "--sigma", "0.25", "--models", "90", "--chunk", "1"];

    private static readonly string[] RunFiles = ["votes.bin", "votes.tsv", "certificates.tsv", "summary.json", "summary.txt"];

    private string Single(string name, string[] config)
    {
        string dir = Path.Combine(_dir, name);
        var (code, _, err) = Cli(["certify", .. config, "--out", dir]);
        Assert.True(code == 0, err);
        return dir;
    }

    private static void AssertSameRun(string expected, string actual, params string[] extra)
    {
        foreach (string f in RunFiles.Concat(extra))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, f))), $"{f} differs");
    }

    [SlurmFact]
    public void ThreeShardsWithWaitGiveTheBytesOfOneProcess()
    {
        SlurmAvailability.Require();
        string dir = Path.Combine(_dir, "cluster");
        var (code, output, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, .. Small, "--wait"]);
        Assert.True(code == 0, $"exit {code}: {output}\n{err}");
        Assert.Contains("submitted shards 0-2 of 3 (12 models) as array job", output);
        Assert.Contains("shards: 3/3 complete", err);
        Assert.Contains("attack success rate, undefended", output);
        var run = new ClusterRun(dir);
        Assert.True(run.Run.IsComplete);
        AssertSameRun(Single("single", Small), dir, RunReport.TriggeredCertificatesFile);
        Assert.Null(VoteFile.Read(new RunDirectory(run.ShardDirectory(2)).VotesPath).Undefended);
        Assert.Equal(3, RunConfig.Read(run.SpecPath).Shards!.Count);

        (code, output, err) = Cli("slurm", "status", dir);
        Assert.True(code == 0, err);
        Assert.Contains("3 of 3 shards complete, models 12 / 12, merged (complete)", output);
        Assert.Contains("COMPLETED", output);
    }

    [SlurmFact]
    public void AShardTaskKilledAndRequeuedStillGivesTheBytesOfOneProcess()
    {
        SlurmAvailability.Require();
        string dir = Path.Combine(_dir, "cluster");
        var (code, output, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, .. Slower]);
        Assert.True(code == 0, $"exit {code}: {output}\n{err}");
        var run = new ClusterRun(dir);
        string task = $"{run.ReadPlan().Submissions[0].ArrayJob}_1";
        var range = new ShardIndex(1, 3).RangeOf(90);

        // Wait until shard 1 runs and has durable chunks on disk, then SIGKILL its task.
        var slurm = new SlurmClient();
        int doneAtKill = WaitFor(() =>
        {
            int done = run.ShardModelsDone(1, range);
            return done >= 2 && done < (range.End - range.Start) / 2 && State(slurm, task) == "RUNNING" ? done : -1;
        }, "shard 1 running with some models done");
        var kill = Tool("scancel", "--signal=KILL", task);
        for (int retry = 0; retry < 5 && kill.Code != 0 && State(slurm, task) == "RUNNING"; retry++)
        {
            Thread.Sleep(200); // slurmctld busy (a loaded machine): ask again while the task still runs
            kill = Tool("scancel", "--signal=KILL", task);
        }
        Assert.True(kill.Code == 0, $"scancel --signal=KILL {task}: exit {kill.Code}: {kill.Err} (state {State(slurm, task)}, {run.ShardModelsDone(1, range)} models done)");
        WaitFor(() => State(slurm, task) is "RUNNING" or "COMPLETING" ? -1 : 0, "the killed task to end");
        int onDisk = run.ShardModelsDone(1, range);
        Assert.True(onDisk < range.End - range.Start, $"shard 1 finished ({onDisk} models) before the kill took effect");
        var requeue = Tool("scontrol", "requeue", task);
        Assert.True(requeue.Code == 0, requeue.Err);

        // The requeued task resumes from its last chunk; the merge's broken afterok dependency is released once every shard is complete.
        (code, output, err) = Cli("slurm", "status", "--wait", dir);
        Assert.True(code == 0, $"exit {code}: {output}\n{err}\n{File.ReadAllText(run.ShardLogPath(1))}");
        string log = File.ReadAllText(run.ShardLogPath(1));
        Assert.Contains("attempt 2", log);
        Assert.Contains(", resuming", log);
        Assert.True(doneAtKill > 0);
        AssertSameRun(Single("single", Slower), dir);
    }

    [SlurmFact]
    public void AFailedShardKeepsTheMergeFromRunningAndResumeCompletesIt()
    {
        SlurmAvailability.Require();
        string dir = Path.Combine(_dir, "cluster");
        var run = new ClusterRun(dir);
        // Shard 1's directory is a file: its task fails on this node while shards 0 and 2 succeed.
        Directory.CreateDirectory(run.ShardsDirectory);
        File.WriteAllText(run.ShardDirectory(1), "in the way");
        var (code, output, err) = Cli(["slurm", "submit", "--shards", "3", "--out", dir, .. Small, "--wait"]);
        Assert.Equal(1, code);
        Assert.Contains("1 failed", err);
        Assert.False(File.Exists(run.Run.VotesPath));
        Assert.False(run.Run.IsComplete);

        (code, output, err) = Cli("slurm", "status", dir);
        Assert.True(code == 0, err);
        Assert.Matches($"failed: nativecert: error: .*{run.ShardDirectory(1)} is a file", output);
        Assert.Contains("shard 1 unfinished and not queued; resubmit it and the merge with: nativecert slurm submit --resume --out", output);
        // The merge waits on a dependency that can no longer be met (Slurm may take a moment to say so).
        Assert.Matches(@"\nmerge +[0-9]+ +PENDING \(Dependency", output);
        Assert.Contains("2 of 3 shards complete", output);

        File.Delete(run.ShardDirectory(1));
        (code, output, err) = Cli("slurm", "submit", "--resume", "--out", dir, "--wait");
        Assert.True(code == 0, $"exit {code}: {output}\n{err}");
        Assert.Contains("submitted shards 1 of 3", output);
        var plan = run.ReadPlan();
        Assert.Equal(2, plan.Submissions.Count);
        Assert.Equal([1], plan.Submissions[1].Shards);
        Assert.Equal("CANCELLED", State(new SlurmClient(), plan.Submissions[0].MergeJob));
        AssertSameRun(Single("single", Small), dir, RunReport.TriggeredCertificatesFile);

        // Resubmitting a complete run does nothing.
        (code, output, _) = Cli("slurm", "submit", "--resume", "--out", dir);
        Assert.Equal(0, code);
        Assert.Contains("is complete: nothing to resubmit", output);
    }

    [SlurmFact]
    public void AScriptSbatchRejectsIsOneLineAndLeavesNothing()
    {
        SlurmAvailability.Require();
        string dir = Path.Combine(_dir, "cluster");
        // The node has no GPUs (no GRES configured): sbatch refuses the array job.
        var (code, output, err) = Cli(["slurm", "submit", "--shards", "2", "--out", dir, .. Small, "--gpus-per-task", "1"]);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        string error = Assert.Single(err.Trim().Split('\n'), l => l.StartsWith("nativecert:", StringComparison.Ordinal));
        Assert.StartsWith($"nativecert: error: sbatch rejected {new ClusterRun(dir).ShardsScriptPath}: sbatch: error:", error);
        Assert.False(Directory.Exists(dir));
    }

    private static string? State(SlurmClient slurm, string job) =>
        slurm.States([job.Split('_')[0]]).TryGetValue(job, out var s) ? s.State : null;

    private static int WaitFor(Func<int> probe, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(120))
        {
            int value = probe();
            if (value >= 0) return value;
            Thread.Sleep(50);
        }
        throw new TimeoutException($"waited 120 s for {what}");
    }

    private static (int Code, string Out, string Err) Tool(string tool, params string[] args) => RunProcess(tool, args);
    private static (int Code, string Out, string Err) Cli(params string[] args) => ClusterRunTests.Cli(args);
}

using NativeCert.Cli.Cluster;

namespace NativeCert.Tests.Cluster;

/// <summary>What NativeCert reads from squeue, scontrol and sacct, and the bits of shell and Slurm syntax it writes.</summary>
public sealed class SlurmParsingTests
{
    [Fact]
    public void SqueueLinesGiveOneStatePerArrayTask()
    {
        var states = SlurmClient.ParseSqueue("12_0|RUNNING|None\n12_[1-2,4]|PENDING|Resources\n13|PENDING|Dependency\n").ToList();
        Assert.Equal(["12_0", "12_1", "12_2", "12_4", "13"], states.Select(s => s.JobId));
        Assert.Equal("RUNNING", states[0].State);
        Assert.True(states[1].IsActive);
        Assert.Equal("Resources", states[3].Reason);
    }

    [Theory]
    [InlineData("Dependency", "FAILED", true)]                  // a shard failed; Slurm has not re-evaluated the merge yet
    [InlineData("DependencyNeverSatisfied", "FAILED", true)]
    [InlineData("Dependency", "RUNNING", false)]                // the unfinished shard may still succeed
    [InlineData("Dependency", "REQUEUED", false)]
    [InlineData("Resources", "COMPLETED", false)]               // every shard done: the merge will run
    public void AMergePendingOnAFailedShardWaitsInVain(string mergeReason, string shard1State, bool inVain)
    {
        var run = new NativeCert.Cli.Cluster.ClusterRun(Path.Combine(Path.GetTempPath(), "nativecert-no-such-run"));
        bool shard1Done = shard1State == "COMPLETED";
        var shards = new List<ShardStatus>
        {
            new(0, new NativeCert.Runs.ModelRange(0, 5), 5, "12_0", new SlurmJobState("12_0", "COMPLETED", "None", "0:0", "squeue"), "log0", null),
            new(1, new NativeCert.Runs.ModelRange(5, 10), shard1Done ? 5 : 2, "12_1", new SlurmJobState("12_1", shard1State, "None", "2:0", "squeue"), "log1", null),
        };
        var merge = new SlurmJobState("13", "PENDING", mergeReason, "0:0", "squeue");
        Assert.Equal(inVain, new ClusterStatus(run, shards, "13", merge, null, false).MergeWaitsInVain);
        // A merge that is running (or gone) waits for nothing.
        Assert.False(new ClusterStatus(run, shards, "13", merge with { State = "RUNNING", Reason = "None" }, null, false).MergeWaitsInVain);
        Assert.False(new ClusterStatus(run, shards, "13", null, null, false).MergeWaitsInVain);
    }

    [Fact]
    public void ScontrolRecordsAreKeyedByArrayTask()
    {
        const string output =
            "JobId=14 ArrayJobId=12 ArrayTaskId=1 JobName=nativecert-shards UserId=root(0) JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Restarts=0 ExitCode=2:0\n" +
            "JobId=12 ArrayJobId=12 ArrayTaskId=3-4 JobName=nativecert-shards JobState=PENDING Reason=None ExitCode=0:0\n" +
            "JobId=16 JobName=nativecert-merge JobState=PENDING Reason=DependencyNeverSatisfied Dependency=afterok:12_*(failed) ExitCode=0:0\n";
        var states = SlurmClient.ParseScontrol(output).ToDictionary(s => s.JobId);
        Assert.Equal(["12_1", "12_3", "12_4", "16"], states.Keys.Order());
        Assert.Equal("FAILED", states["12_1"].State);
        Assert.Equal("2:0", states["12_1"].ExitCode);
        Assert.False(states["12_1"].IsActive);
        Assert.Equal("FAILED (NonZeroExitCode) exit 2:0", states["12_1"].ToString());
        Assert.True(states["16"].DependencyNeverSatisfied);
        Assert.True(states["12_4"].IsActive);
    }

    [Fact]
    public void SacctSkipsJobStepsAndReadsCancelledBy()
    {
        var states = SlurmClient.ParseSacct("12_0|COMPLETED|0:0\n12_0.batch|COMPLETED|0:0\n12_1|CANCELLED by 0|0:9\n13|PENDING|0:0\n").ToList();
        Assert.Equal(["12_0", "12_1", "13"], states.Select(s => s.JobId));
        Assert.True(states[0].Succeeded);
        Assert.Equal("CANCELLED", states[1].State);
    }

    [Theory]
    [InlineData("[0-2,5]", new[] { 0, 1, 2, 5 })]
    [InlineData("3", new[] { 3 })]
    [InlineData("0-9%2", new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    public void TaskListsExpand(string list, int[] tasks) => Assert.Equal(tasks, SlurmClient.ExpandTaskList(list));

    [Fact]
    public void ArrayListsCompressRuns()
    {
        Assert.Equal("0-2,5,7-8", SlurmScripts.ArrayList([0, 1, 2, 5, 7, 8]));
        Assert.Equal("1", SlurmScripts.ArrayList([1]));
        Assert.Equal("", SlurmScripts.ArrayList([]));
    }

    [Fact]
    public void WordsAreQuotedForBashOnlyWhenNeeded()
    {
        Assert.Equal("/usr/bin/dotnet", SlurmScripts.Quote("/usr/bin/dotnet"));
        Assert.Equal("'/opt/my tools/nativecert'", SlurmScripts.Quote("/opt/my tools/nativecert"));
        Assert.Equal("'it'\\''s'", SlurmScripts.Quote("it's"));
        Assert.Equal("'$HOME'", SlurmScripts.Quote("$HOME"));
        Assert.NotNull(SlurmScripts.UnfitForDirective("/data/my run"));
        Assert.Null(SlurmScripts.UnfitForDirective("--account=proj"));
    }

    [Fact]
    public void TheLastErrorOfTheLatestAttemptIsReported()
    {
        string log = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(log, ["nativecert: shard 1/3, job 5", "nativecert: error: --out: /r/shards/1 is a file, not a directory"]);
            Assert.Equal("nativecert: error: --out: /r/shards/1 is a file, not a directory", ClusterStatus.LastError(log));
            // A newer attempt that has not failed hides the old error.
            File.AppendAllLines(log, ["nativecert: shard 1/3, job 9, resuming", "models 5/8 (62%)"]);
            Assert.Null(ClusterStatus.LastError(log));
            File.AppendAllLines(log, ["slurmstepd-node1: error: *** JOB 9 ON node1 CANCELLED AT 2026-12-01T09:30:27 ***"]);
            Assert.Contains("CANCELLED", ClusterStatus.LastError(log));
        }
        finally { File.Delete(log); }
        Assert.Null(ClusterStatus.LastError(log));
    }
}

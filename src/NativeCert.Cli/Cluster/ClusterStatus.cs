using System.Globalization;
using System.Text;
using NativeCert.Runs;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// One shard of a cluster run as it stands: its model range, how many of those models are durably on disk, the
/// Slurm job of its newest submission and that job's state (null when Slurm no longer knows it), its log, and the
/// last error line of the log when the shard is unfinished and not running.
/// </summary>
internal sealed record ShardStatus(int Index, ModelRange Range, int Done, string? JobId, SlurmJobState? Job, string LogPath, string? Error)
{
    public int Total => Range.End - Range.Start;
    public bool Complete => Done == Total;
    /// <summary>Unfinished and no job of it is queued or running: it needs a resubmission.</summary>
    public bool Failed => !Complete && Job is not { IsActive: true };
}

/// <summary>A cluster run as it stands: every shard, the merge job, and whether the merged run is complete.</summary>
internal sealed record ClusterStatus(ClusterRun Run, IReadOnlyList<ShardStatus> Shards, string? MergeJobId, SlurmJobState? Merge, string? MergeError, bool Complete)
{
    public bool AllShardsComplete => Shards.All(s => s.Complete);
    public bool MergeActive => Merge is { IsActive: true };

    /// <summary>
    /// The merge is pending on an afterok that can no longer be met: Slurm says DependencyNeverSatisfied, or, before
    /// Slurm has re-evaluated the dependency, no shard is queued or running while one is unfinished (a failed shard).
    /// </summary>
    public bool MergeWaitsInVain => Merge is { DependencyNeverSatisfied: true }
                                    || (Merge is { State: "PENDING" } && Shards.Any(s => s.Failed) && !Shards.Any(s => s.Job is { IsActive: true }));

    /// <summary>Reads the shards' progress from disk and, when <paramref name="slurm"/> is given, their jobs' states.</summary>
    public static ClusterStatus Gather(ClusterRun run, SlurmClient? slurm)
    {
        RunConfig spec = RunConfig.Read(run.SpecPath);
        ClusterPlan plan = run.ReadPlan();
        ClusterSubmission? last = plan.Submissions.LastOrDefault();
        // Only the jobs of the newest submission of each shard and of the newest merge matter.
        var wanted = new HashSet<string>();
        for (int i = 0; i < plan.Shards; i++) if (plan.LatestFor(i) is { ArrayJob.Length: > 0 } s) wanted.Add(s.ArrayJob);
        if (last is { MergeJob.Length: > 0 }) wanted.Add(last.MergeJob);
        var states = slurm is not null && wanted.Count > 0 ? slurm.States(wanted) : [];

        var shards = new List<ShardStatus>();
        for (int i = 0; i < plan.Shards; i++)
        {
            var range = new ShardIndex(i, plan.Shards).RangeOf(spec.TotalModels);
            int done = run.ShardModelsDone(i, range);
            string? jobId = plan.LatestFor(i) is { ArrayJob.Length: > 0 } sub ? $"{sub.ArrayJob}_{i.ToString(CultureInfo.InvariantCulture)}" : null;
            SlurmJobState? job = jobId is not null && states.TryGetValue(jobId, out var st) ? st : null;
            string log = run.ShardLogPath(i);
            bool unfinished = done < range.End - range.Start && job is not { IsActive: true };
            shards.Add(new ShardStatus(i, range, done, jobId, job, log, unfinished ? LastError(log) : null));
        }
        string? mergeId = last is { MergeJob.Length: > 0 } ? last.MergeJob : null;
        SlurmJobState? merge = mergeId is not null && states.TryGetValue(mergeId, out var m) ? m : null;
        bool complete = run.Run.IsComplete;
        string? mergeError = !complete && merge is { IsActive: false } ? LastError(run.MergeLogPath) : null;
        return new ClusterStatus(run, shards, mergeId, merge, mergeError, complete);
    }

    /// <summary>The last line of a job log that reports an error (NativeCert's own, or Slurm's "*** JOB … CANCELLED"), or null.</summary>
    public static string? LastError(string logPath)
    {
        if (!File.Exists(logPath)) return null;
        string[] lines;
        try { lines = File.ReadAllLines(logPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        for (int i = lines.Length - 1; i >= 0; i--)
        {
            string line = lines[i].Trim();
            // A line that starts a new attempt ends the search: errors before it belong to an earlier attempt.
            if (line.StartsWith("nativecert: shard ", StringComparison.Ordinal) || line.StartsWith("nativecert: merge, job", StringComparison.Ordinal)) return null;
            if (line.Contains("error", StringComparison.OrdinalIgnoreCase) || line.Contains("CANCELLED", StringComparison.Ordinal)
                || line.Contains("Killed", StringComparison.Ordinal) || line.Contains("TIME LIMIT", StringComparison.Ordinal))
                return line;
        }
        return null;
    }

    /// <summary>The status table: one line per shard, then the merge and what to do next.</summary>
    public string Describe()
    {
        var s = new StringBuilder();
        int done = Shards.Sum(x => x.Done), total = Shards.Sum(x => x.Total);
        s.Append(CultureInfo.InvariantCulture, $"run {Run.Root}: {Shards.Count(x => x.Complete)} of {Shards.Count} shards complete, models {done} / {total}");
        s.Append(Complete ? ", merged (complete)\n" : "\n");
        s.Append("shard  models              done / total  job           state                      log\n");
        foreach (var x in Shards)
        {
            string range = $"[{x.Range.Start}, {x.Range.End})";
            string state = x.Job?.ToString() ?? (x.JobId is null ? "not submitted" : "unknown to Slurm");
            string progress = $"{x.Done} / {x.Total}";
            s.Append(CultureInfo.InvariantCulture, $"{x.Index,-6} {range,-19} {progress,-13} {x.JobId ?? "-",-13} {state,-26} {x.LogPath}\n");
            if (x.Error is not null) s.Append(CultureInfo.InvariantCulture, $"       failed: {x.Error}\n");
        }
        string mergeState = Merge?.ToString() ?? (MergeJobId is null ? "not submitted" : "unknown to Slurm");
        s.Append(CultureInfo.InvariantCulture, $"merge  {"",-19} {"",-13} {MergeJobId ?? "-",-13} {mergeState,-26} {Run.MergeLogPath}\n");
        if (MergeError is not null) s.Append(CultureInfo.InvariantCulture, $"       failed: {MergeError}\n");
        var failed = Shards.Where(x => x.Failed).Select(x => x.Index.ToString(CultureInfo.InvariantCulture)).ToList();
        if (Complete)
            s.Append(CultureInfo.InvariantCulture, $"complete: certificates and summary in {Run.Root}\n");
        else if (failed.Count > 0)
            s.Append(CultureInfo.InvariantCulture, $"shard{(failed.Count > 1 ? "s" : "")} {string.Join(", ", failed)} unfinished and not queued; resubmit {(failed.Count > 1 ? "them" : "it")} and the merge with: nativecert slurm submit --resume --out {Run.Root}\n");
        else if (AllShardsComplete && !MergeActive)
            s.Append(CultureInfo.InvariantCulture, $"every shard is complete but the merge did not finish; resubmit it with: nativecert slurm submit --resume --out {Run.Root}\n");
        return s.ToString();
    }
}

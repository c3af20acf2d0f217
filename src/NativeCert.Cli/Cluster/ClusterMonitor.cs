using System.Globalization;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// Waits for a cluster run (<c>slurm submit --wait</c>, <c>slurm status --wait</c>): polls the shards' progress on
/// disk and their jobs in Slurm, prints a progress line when something changed, and returns once the merged run is
/// complete (true) or cannot complete without the user (false): a shard unfinished with no job queued or running (once
/// no other shard runs either), or the merge ended without a complete run. A merge whose <c>afterok</c> dependency broke although every shard is
/// complete on disk (a shard task killed, then requeued: Slurm does not re-arm the dependency) is released.
/// </summary>
internal sealed class ClusterMonitor(ClusterRun run, SlurmClient slurm, TextWriter progress)
{
    /// <summary>Seconds between polls.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    public bool Wait(CancellationToken cancellation)
    {
        string? lastLine = null;
        var released = new HashSet<string>();
        while (true)
        {
            var status = ClusterStatus.Gather(run, slurm);
            string line = ProgressLine(status);
            if (line != lastLine) progress.WriteLine(line);
            lastLine = line;
            if (status.Complete && !status.MergeActive) return true;
            // A failed shard ends the wait once the other shards have ended too (so that --resume can follow at once).
            if (status.Shards.Any(s => s.Failed) && !status.Shards.Any(s => s.Job is { IsActive: true })) return false;
            if (status.AllShardsComplete)
            {
                if (status.Merge is { DependencyNeverSatisfied: true } && status.MergeJobId is { } id && released.Add(id))
                {
                    progress.WriteLine($"every shard is complete but merge job {id} waits on a dependency that broke (a shard task failed before it was requeued): releasing it");
                    slurm.ReleaseDependency(id);
                }
                else if (!status.MergeActive && !status.Complete)
                {
                    return false;
                }
            }
            if (cancellation.WaitHandle.WaitOne(PollInterval)) cancellation.ThrowIfCancellationRequested();
        }
    }

    private static string ProgressLine(ClusterStatus status)
    {
        int done = status.Shards.Sum(s => s.Done), total = status.Shards.Sum(s => s.Total);
        int running = status.Shards.Count(s => s.Job is { State: "RUNNING" });
        int pending = status.Shards.Count(s => !s.Complete && s.Job is { IsActive: true, State: not "RUNNING" });
        int failed = status.Shards.Count(s => s.Failed);
        string merge = status.Complete ? "merged" : status.Merge?.ToString() ?? "not known to Slurm";
        // Each shard's models while there are few enough to read at a glance.
        string perShard = status.Shards.Count <= 16 ? " [" + string.Join(" ", status.Shards.Select(s => $"{s.Done}/{s.Total}")) + "]" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"shards: {status.Shards.Count(s => s.Complete)}/{status.Shards.Count} complete, {running} running, {pending} pending, {failed} failed; models {done}/{total} ({100.0 * done / total:0.0}%){perShard}; merge: {merge}");
    }
}

using NativeCert.Runs;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// The merge job of a cluster run: checks that each of the K shard directories holds its whole model range of the
/// spec in <c>DIR/config.json</c>, adds their votes (<see cref="ShardMerge.Combine"/>) and writes the merged run into
/// DIR: config.json (the spec, with each shard's backend and device), votes.bin, then the report, summary.json last.
/// Rerunning it gives the same files.
/// </summary>
internal static class ClusterMerge
{
    public static RunReport Merge(ClusterRun run)
    {
        var dir = RunDirectory.OpenExisting(run.Root);
        RunConfig spec = RunConfig.Read(run.SpecPath);
        ClusterPlan plan = run.ReadPlan();
        var shardDirectories = new List<string>();
        for (int i = 0; i < plan.Shards; i++)
        {
            var range = new ShardIndex(i, plan.Shards).RangeOf(spec.TotalModels);
            int done = run.ShardModelsDone(i, range);
            if (done < range.End - range.Start)
                throw new UserInputException($"slurm merge: shard {i} ({run.ShardDirectory(i)}) holds {done} of its {range.End - range.Start} models [{range.Start}, {range.End}); " +
                                             $"see nativecert slurm status {run.Root}, and finish it with nativecert slurm submit --resume --out {run.Root}");
            shardDirectories.Add(run.ShardDirectory(i));
        }
        var (merged, votes) = ShardMerge.Combine(shardDirectories);
        var diffs = spec.Spec.Differences(merged.Spec);
        if (diffs.Count > 0 || merged.ConfigHash != spec.ConfigHash)
            throw new UserInputException($"slurm merge: the shards in {run.ShardsDirectory} were computed for another job than {run.SpecPath}: " +
                                         (diffs.Count > 0 ? string.Join("; ", diffs.Select(d => $"{d.Field} {d.Mine} (spec) vs {d.Theirs} (shards)")) : "the data or attack facts differ (config hash)"));

        using IDisposable runLock = dir.Lock();
        dir.MarkIncomplete();
        // The run is the spec's: its options and creation time, with the facts of the shards that computed it.
        var config = spec with { Backend = merged.Backend, Shards = merged.Shards, NativecertVersion = merged.NativecertVersion, Runtime = merged.Runtime, Os = merged.Os };
        config.Write(dir.ConfigPath);
        votes.Write(dir.VotesPath);
        return RunReport.Write(dir, config, votes);
    }
}

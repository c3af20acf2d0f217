namespace NativeCert.Runs;

/// <summary>
/// Combines shard runs (<c>certify --models-range a:b</c>, possibly on different machines) into one complete run:
/// the shards must have the same configuration (config hash and every option but the execution ones) and their
/// model ranges must tile [0, all models) exactly. Votes add, since model m's votes depend only on (config, m, data).
/// </summary>
public static class ShardMerge
{
    public const string RangeOption = "--models-range";

    /// <summary>Writes the merged run to <paramref name="outDirectory"/> (a new directory) and its report.</summary>
    public static RunReport Merge(string outDirectory, IReadOnlyList<string> shardDirectories)
    {
        if (shardDirectories.Count == 0) throw new UserInputException("merge: give the shard run directories");
        var shards = new List<(string Dir, RunConfig Config, VoteFile Votes)>();
        foreach (string path in shardDirectories)
        {
            var dir = RunDirectory.OpenExisting(path, "merge");
            var shardConfig = RunConfig.Read(dir.ConfigPath);
            if (!File.Exists(dir.VotesPath)) throw new UserInputException($"merge: {path} has no votes.bin");
            var votes = VoteFile.Read(dir.VotesPath);
            if (!votes.ConfigHash.AsSpan().SequenceEqual(shardConfig.HashBytes()))
                throw new UserInputException($"merge: {dir.VotesPath} does not belong to {dir.ConfigPath} (config hash differs)");
            shards.Add((path, shardConfig, votes));
        }
        var first = shards[0];
        var mayDiffer = new HashSet<string>(CertifyPipeline.ExecutionOptions) { RangeOption };
        foreach (var s in shards.Skip(1))
        {
            var diffs = first.Config.Differences(s.Config, mayDiffer);
            if (diffs.Count > 0 || s.Config.ConfigHash != first.Config.ConfigHash)
                throw new UserInputException($"merge: {s.Dir} has another configuration than {first.Dir}: {(diffs.Count > 0 ? string.Join("; ", diffs) : "config hash differs")}");
        }
        shards.Sort((a, b) => a.Votes.ModelStart.CompareTo(b.Votes.ModelStart));
        int covered = 0;
        foreach (var s in shards)
        {
            if (s.Votes.ModelStart != covered)
                throw new UserInputException(s.Votes.ModelStart > covered
                    ? $"merge: models [{covered}, {s.Votes.ModelStart}) are in no shard (resume the shard that should hold them)"
                    : $"merge: {s.Dir} covers models [{s.Votes.ModelStart}, {s.Votes.ModelsDone}), overlapping models before {covered}");
            covered = s.Votes.ModelsDone;
        }
        int total = first.Config.TotalModels;
        if (covered != total) throw new UserInputException($"merge: models [{covered}, {total}) are in no shard (resume the shard that should hold them)");

        VoteFile merged;
        try { merged = VoteFile.Merge(shards.Select(s => s.Votes).ToList()); }
        catch (ArgumentException e) { throw new UserInputException($"merge: {e.Message}", e); }

        var outDir = RunDirectory.CreateNew(outDirectory);
        using IDisposable runLock = outDir.Lock("--out");
        var options = new Dictionary<string, string>(first.Config.Options) { [RangeOption] = "" };
        // A new run: created now, from the first shard's (verified identical) configuration.
        var config = first.Config.Restamped(options) with { CreatedUtc = new RunConfig().CreatedUtc };
        config.Write(outDir.ConfigPath);
        merged.Write(outDir.VotesPath);
        return RunReport.Write(outDir, config, merged);
    }
}

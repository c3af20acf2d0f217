namespace NativeCert.Runs;

/// <summary>
/// Combines shard runs (<see cref="RunExecution.Shard"/>, possibly computed on different machines) into one complete
/// run: the shards must have the same spec and config hash and their model ranges must tile [0, all models) exactly.
/// Votes add, since model m's votes depend only on (spec, m, data). Merging again into the same directory finishes a
/// merge that was killed (the merged votes are a pure function of the shards).
/// </summary>
internal static class ShardMerge
{
    /// <summary>Writes the merged run to <paramref name="outDirectory"/> (new, or holding this merge's unfinished output) and its report.</summary>
    public static RunReport Merge(string outDirectory, IReadOnlyList<string> shardDirectories)
    {
        if (string.IsNullOrWhiteSpace(outDirectory)) throw new UserInputException("merge: the output run directory path is empty");
        // Merging into a shard would rewrite that shard's config.json and report in place of the merged run's.
        string outFull = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outDirectory));
        if (shardDirectories.FirstOrDefault(s => Path.TrimEndingDirectorySeparator(Path.GetFullPath(s)) == outFull) is { } same)
            throw new UserInputException($"merge: the output directory {outDirectory} is the shard {same}; the merged run needs a directory of its own");
        var (combined, merged) = Combine(shardDirectories);
        // A new run, created now, from the first shard's (verified identical) configuration.
        var config = combined with { CreatedUtc = new RunConfig().CreatedUtc };
        byte[] mergedBytes = merged.ToBytes();

        var outDir = new RunDirectory(outDirectory);
        bool finishing = HoldsThisMerge(outDir, config, mergedBytes);
        if (!finishing) RunDirectory.CreateNew(outDirectory);
        using IDisposable runLock = outDir.Lock();
        outDir.MarkIncomplete();
        // Votes first: a merge killed after them is recognised by them (and by config.json once it is written).
        merged.Write(outDir.VotesPath);
        config.Write(outDir.ConfigPath);
        return RunReport.Write(outDir, config, merged);
    }

    /// <summary>
    /// Reads and checks the shards (one spec and config hash, ranges tiling [0, all models) exactly, the undefended
    /// model's votes present in an attack run) and adds their votes. The configuration returned is the first shard's
    /// with no shard range, each shard's range and backend recorded in <see cref="RunConfig.Shards"/>, and
    /// <see cref="RunConfig.Backend"/> that backend, or all of them named when the shards ran on different ones.
    /// </summary>
    public static (RunConfig Config, VoteFile Votes) Combine(IReadOnlyList<string> shardDirectories)
    {
        if (shardDirectories.Count == 0) throw new UserInputException("merge: give the shard run directories");
        var shards = new List<(string Dir, RunConfig Config, VoteFile Votes)>();
        foreach (string path in shardDirectories)
        {
            var dir = RunDirectory.OpenExisting(path);
            var shardConfig = RunConfig.Read(dir.ConfigPath);
            if (shardConfig.IsVersion1)
                throw new UserInputException($"{dir.ConfigPath}: a shard of format {RunConfig.Version1Format}; resume it once to rewrite it in the current format, then merge");
            if (!File.Exists(dir.VotesPath)) throw new UserInputException($"{path} has no votes.bin");
            var votes = VoteFile.Read(dir.VotesPath);
            shardConfig.CheckVotes(votes, dir.VotesPath, dir.ConfigPath);
            shards.Add((path, shardConfig, votes));
        }
        var first = shards[0];
        foreach (var s in shards.Skip(1))
        {
            var diffs = first.Config.Spec.Differences(s.Config.Spec);
            if (diffs.Count > 0)
                throw new Spec.SpecException($"merge: {s.Dir} has another configuration than {first.Dir}: " +
                    string.Join("; ", diffs.Select(d => $"{d.Field} {d.Mine} ({first.Dir}) vs {d.Theirs} ({s.Dir})")), [.. diffs.Select(d => d.Field)]);
            if (s.Config.ConfigHash != first.Config.ConfigHash)
                throw new UserInputException($"merge: {s.Dir} has another configuration than {first.Dir}: same spec, but the data or the attack facts differ (config hash)");
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
        if (first.Config.Attack is not null && merged.Undefended is null)
            throw new UserInputException($"merge: no shard holds the undefended (sigma = 0) model's votes; the shard starting at model 0 trains it ({shards[0].Dir})");

        var facts = shards.Select(s => new RunShardFacts(s.Votes.ModelStart, s.Votes.ModelsDone, s.Config.Backend?.Name ?? "unknown",
                                                         s.Config.Backend?.Device ?? "unknown", s.Config.Backend?.Threads ?? 0)).ToList();
        var backend = facts.Select(f => (f.Backend, f.Device)).Distinct().Count() == 1
            ? first.Config.Backend
            : new RunBackendFacts(string.Join("+", facts.Select(f => f.Backend).Distinct()), string.Join("; ", facts.Select(f => f.Device).Distinct()), 0);
        var config = first.Config.Restamped() with { Execution = first.Config.Execution with { Shard = null }, Backend = backend, Shards = facts };
        return (config, merged);
    }

    /// <summary>
    /// Whether <paramref name="dir"/> already holds what this merge writes (a merge killed before it finished): its
    /// config.json, if any, has the merged run's hash and is no shard, and its votes.bin, if any, is the merged votes.
    /// A directory that holds another run is refused; an empty or missing one is a new merge.
    /// </summary>
    private static bool HoldsThisMerge(RunDirectory dir, RunConfig config, byte[] mergedVotes)
    {
        bool hasConfig = File.Exists(dir.ConfigPath), hasVotes = File.Exists(dir.VotesPath);
        if (!hasConfig && !hasVotes) return false;
        bool ours = true;
        if (hasConfig)
        {
            try
            {
                RunConfig there = RunConfig.Read(dir.ConfigPath);
                ours = there.ConfigHash == config.ConfigHash && there.Execution.Shard is null && there.Spec.Equals(config.Spec);
            }
            catch (UserInputException) { ours = false; }
        }
        if (ours && hasVotes)
        {
            try { ours = File.ReadAllBytes(dir.VotesPath).AsSpan().SequenceEqual(mergedVotes); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { ours = false; }
        }
        if (!ours)
            throw new UserInputException($"{dir.Root} already holds another run (not the merge of these shards); choose another directory");
        return true;
    }
}

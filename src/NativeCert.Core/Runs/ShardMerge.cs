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
        var (config, merged) = Combine(shardDirectories);
        var outDir = RunDirectory.CreateNew(outDirectory);
        using IDisposable runLock = outDir.Lock("--out");
        // A new run: created now, from the first shard's (verified identical) configuration.
        config = config with { CreatedUtc = new RunConfig().CreatedUtc };
        config.Write(outDir.ConfigPath);
        merged.Write(outDir.VotesPath);
        return RunReport.Write(outDir, config, merged);
    }

    /// <summary>
    /// Reads and checks the shards (one configuration, ranges tiling [0, all models) exactly, the undefended model's
    /// votes present in an attack run) and adds their votes. The configuration returned is the first shard's with the
    /// model range cleared and each shard's range and backend recorded; when the shards ran on different backends,
    /// <see cref="RunConfig.Backend"/> names them all.
    /// </summary>
    public static (RunConfig Config, VoteFile Votes) Combine(IReadOnlyList<string> shardDirectories)
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
        foreach (var s in shards.Skip(1))
        {
            var diffs = first.Config.Differences(s.Config, MayDiffer);
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
        if (first.Config.Attack is not null && merged.Undefended is null)
            throw new UserInputException($"merge: no shard holds the undefended (sigma = 0) model's votes; the shard starting at model 0 trains it ({shards[0].Dir})");

        var facts = shards.Select(s => new RunShardFacts(s.Votes.ModelStart, s.Votes.ModelsDone, s.Config.Backend?.Name ?? "unknown",
                                                         s.Config.Backend?.Device ?? "unknown", s.Config.Backend?.Threads ?? 0)).ToList();
        var backend = facts.Select(f => (f.Backend, f.Device)).Distinct().Count() == 1
            ? first.Config.Backend
            : new RunBackendFacts(string.Join("+", facts.Select(f => f.Backend).Distinct()), string.Join("; ", facts.Select(f => f.Device).Distinct()), 0);
        var options = new Dictionary<string, string>(first.Config.Options) { [RangeOption] = "" };
        var config = first.Config.Restamped(options) with { Backend = backend, Shards = facts };
        return (config, merged);
    }

    /// <summary>Options shards of one run may differ in: how they were computed and which models.</summary>
    public static readonly IReadOnlySet<string> MayDiffer = new HashSet<string>(CertifyPipeline.ExecutionOptions) { RangeOption };
}

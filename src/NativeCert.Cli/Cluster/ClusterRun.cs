using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using NativeCert.IO;
using NativeCert.Runs;

namespace NativeCert.Cli.Cluster;

/// <summary>One <c>sbatch</c> round of a cluster run: the array job of the shards it submitted and the merge job after it.</summary>
internal sealed record ClusterSubmission(string SubmittedUtc, string ArrayJob, string MergeJob, int[] Shards);

/// <summary>
/// <c>DIR/slurm/cluster.json</c>: how many shards the run is split into and every submission made for it, newest last
/// (the newest submission that includes a shard holds its current job).
/// </summary>
internal sealed record ClusterPlan(int Shards, List<ClusterSubmission> Submissions)
{
    public const string CurrentFormat = "nativecert-cluster/1";
    public string Format { get; init; } = CurrentFormat;

    /// <summary>The newest submission that ran shard <paramref name="shard"/>, or null when it was never submitted.</summary>
    public ClusterSubmission? LatestFor(int shard) => Submissions.LastOrDefault(s => s.Shards.Contains(shard));
}

/// <summary>
/// The layout of a run computed by K shard jobs and one merge job (<c>nativecert slurm submit</c>):
/// <list type="bullet">
/// <item><c>DIR/config.json</c>: the job spec, resolved once at submission; after the merge, the merged run's config
/// (the same spec plus each shard's backend and device).</item>
/// <item><c>DIR/shards/i/</c>: shard i's own run directory (<c>certify --shard i/K</c>), resumable.</item>
/// <item><c>DIR/slurm/</c>: <c>shards.sbatch</c>, <c>merge.sbatch</c>, <c>cluster.json</c> and <c>logs/</c>.</item>
/// <item><c>DIR/votes.bin</c>, certificates, plots, <c>summary.json</c>: the merged run, as <c>certify</c> writes them.</item>
/// </list>
/// </summary>
internal sealed class ClusterRun
{
    public ClusterRun(string root) => Root = Path.GetFullPath(root);

    /// <summary>Absolute path of the run directory.</summary>
    public string Root { get; }
    public RunDirectory Run => new(Root);
    public string SpecPath => Run.ConfigPath;
    public string SlurmDirectory => Path.Combine(Root, "slurm");
    public string ShardsScriptPath => Path.Combine(SlurmDirectory, "shards.sbatch");
    public string MergeScriptPath => Path.Combine(SlurmDirectory, "merge.sbatch");
    public string PlanPath => Path.Combine(SlurmDirectory, "cluster.json");
    public string LogsDirectory => Path.Combine(SlurmDirectory, "logs");
    public string ShardsDirectory => Path.Combine(Root, "shards");

    public string ShardDirectory(int shard) => Path.Combine(ShardsDirectory, shard.ToString(CultureInfo.InvariantCulture));
    /// <summary>Shard i's log: every attempt of its array task appends here (requeues and resubmissions included).</summary>
    public string ShardLogPath(int shard) => Path.Combine(LogsDirectory, $"shard-{shard.ToString(CultureInfo.InvariantCulture)}.log");
    public string MergeLogPath => Path.Combine(LogsDirectory, "merge.log");

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public void WritePlan(ClusterPlan plan) => AtomicFile.WriteAllText(PlanPath, JsonSerializer.Serialize(plan, Json) + "\n");

    /// <summary>Reads <c>slurm/cluster.json</c>; a missing or malformed file is a user error naming it.</summary>
    public ClusterPlan ReadPlan()
    {
        if (!File.Exists(PlanPath))
            throw new UserInputException($"{Root}: not a cluster run ({PlanPath} is missing; it is written by nativecert slurm submit)");
        ClusterPlan? plan;
        try { plan = JsonSerializer.Deserialize<ClusterPlan>(File.ReadAllText(PlanPath), Json); }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{PlanPath}: cannot be read ({e.Message.ReplaceLineEndings(" ")})", e);
        }
        if (plan is null || plan.Format != ClusterPlan.CurrentFormat || plan.Shards < 1 || plan.Submissions is null)
            throw new UserInputException($"{PlanPath}: not a NativeCert cluster plan (expected format '{ClusterPlan.CurrentFormat}' with shards >= 1)");
        return plan;
    }

    /// <summary>Models of shard i's range that are durably on disk (its votes.bin), 0 when it has not started.</summary>
    public int ShardModelsDone(int shard, ModelRange range)
    {
        string votes = new RunDirectory(ShardDirectory(shard)).VotesPath;
        if (!File.Exists(votes)) return 0;
        try
        {
            var file = VoteFile.Read(votes);
            return file.ModelStart == range.Start ? Math.Clamp(file.ModelsDone - range.Start, 0, range.End - range.Start) : 0;
        }
        catch (UserInputException)
        {
            return 0; // a damaged file holds nothing usable; the shard's resume reports it
        }
    }

    /// <summary>The UTC time stamp format of <see cref="ClusterSubmission.SubmittedUtc"/>.</summary>
    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}

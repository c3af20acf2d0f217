using System.Globalization;
using System.Text;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// What the jobs of a cluster run ask the scheduler for. Null means "not asked": Slurm's (or the partition's)
/// default applies. <see cref="ExtraArguments"/> are written as further <c>#SBATCH</c> lines, as given.
/// </summary>
internal sealed record SchedulerOptions(
    string? Partition = null,
    string? Time = null,
    int? CpusPerTask = null,
    int? GpusPerTask = null,
    string? Memory = null,
    IReadOnlyList<string>? ExtraArguments = null);

/// <summary>
/// Writes the two batch scripts of a cluster run: <c>shards.sbatch</c> (an array job, task i = shard i) and
/// <c>merge.sbatch</c>. They are plain bash that a user can read, edit and <c>sbatch</c> by hand: every path is
/// absolute, and they call the NativeCert that wrote them.
/// </summary>
internal static class SlurmScripts
{
    /// <summary>
    /// The shard array job: task i runs <c>certify --spec DIR/config.json --shard i/K --out DIR/shards/i</c>, with
    /// <c>--resume</c> when that directory already holds part of the shard, so a requeued or preempted task loses at
    /// most one chunk. <paramref name="backend"/> is the shards' <c>--backend</c>; threads follow
    /// <c>--cpus-per-task</c>.
    /// </summary>
    public static string Shards(ClusterRun run, int shardCount, IReadOnlyList<string> nativecert, SchedulerOptions scheduler, string backend, string workingDirectory)
    {
        string k = Inv(shardCount), last = Inv(shardCount - 1);
        var s = new StringBuilder();
        s.Append("#!/bin/bash\n");
        s.Append($"# NativeCert shard workers of the run in {run.Root}, written by nativecert slurm submit.\n");
        s.Append($"# Array task i computes shard i of {k}: models [floor(i*T/{k}), floor((i+1)*T/{k})) of the T = n0 + N models of the\n");
        s.Append("# job spec config.json, into shards/i; when that directory already holds part of the shard (a requeue, a preemption,\n");
        s.Append("# a resubmission) it resumes from the last durable chunk. Edit freely; submit by hand with\n");
        s.Append($"#   sbatch --array=0-{last} {run.ShardsScriptPath}\n");
        s.Append($"# then, once every task succeeded, sbatch {run.MergeScriptPath}\n");
        s.Append("#SBATCH --job-name=nativecert-shards\n");
        s.Append($"#SBATCH --array=0-{last}\n");
        s.Append($"#SBATCH --output={run.LogsDirectory}/shard-%a.log\n");
        s.Append("#SBATCH --open-mode=append\n");
        s.Append("#SBATCH --requeue\n");
        AppendResources(s, scheduler, gpus: true);
        s.Append("set -euo pipefail\n");
        AppendCommonVariables(s, run, nativecert, workingDirectory);
        s.Append($"shards={k}\n");
        s.Append($"shard=${{SLURM_ARRAY_TASK_ID:?submit this script as an array job: sbatch --array=0-{last} $0}}\n");
        s.Append("out=\"$run/shards/$shard\"\n");
        s.Append("resume=()\n");
        s.Append("if [ -f \"$out/config.json\" ]; then resume=(--resume); fi\n");
        s.Append("echo \"nativecert: shard $shard/$shards, job ${SLURM_JOB_ID:-?} (array task ${SLURM_ARRAY_JOB_ID:-?}_$shard), " +
                 "attempt $((${SLURM_RESTART_COUNT:-0} + 1)), on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)${resume:+, resuming}\"\n");
        s.Append("exec \"${nativecert[@]}\" certify --spec \"$run/config.json\" --shard \"$shard/$shards\" --out \"$out\" \"${resume[@]}\" \\\n");
        s.Append($"  --backend {Quote(backend)} --threads \"${{SLURM_CPUS_PER_TASK:-1}}\"\n");
        return s.ToString();
    }

    /// <summary>The merge job: tiles shards/0..K−1 into the run directory (<c>nativecert slurm merge DIR</c>).</summary>
    public static string Merge(ClusterRun run, IReadOnlyList<string> nativecert, SchedulerOptions scheduler, string workingDirectory)
    {
        var s = new StringBuilder();
        s.Append("#!/bin/bash\n");
        s.Append($"# NativeCert merge of the run in {run.Root}, written by nativecert slurm submit: adds the votes of shards/0..K-1\n");
        s.Append("# (which must tile every model of the run) and writes votes.bin, the certificates, plots and summary.json into the\n");
        s.Append("# run directory, as nativecert merge does. Submitted with --dependency=afterok:<shard array job>, so it runs once,\n");
        s.Append($"# after every shard succeeded. By hand: sbatch {run.MergeScriptPath}\n");
        s.Append("#SBATCH --job-name=nativecert-merge\n");
        s.Append($"#SBATCH --output={run.MergeLogPath}\n");
        s.Append("#SBATCH --open-mode=append\n");
        AppendResources(s, scheduler with { CpusPerTask = null }, gpus: false);
        s.Append("set -euo pipefail\n");
        AppendCommonVariables(s, run, nativecert, workingDirectory);
        s.Append("echo \"nativecert: merge, job ${SLURM_JOB_ID:-?}, on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n");
        s.Append("exec \"${nativecert[@]}\" slurm merge \"$run\"\n");
        return s.ToString();
    }

    private static void AppendResources(StringBuilder s, SchedulerOptions o, bool gpus)
    {
        if (o.Partition is { } p) s.Append($"#SBATCH --partition={p}\n");
        if (o.Time is { } t) s.Append($"#SBATCH --time={t}\n");
        if (o.CpusPerTask is { } c) s.Append($"#SBATCH --cpus-per-task={Inv(c)}\n");
        if (gpus && o.GpusPerTask is { } g) s.Append($"#SBATCH --gpus-per-task={Inv(g)}\n");
        if (o.Memory is { } m) s.Append($"#SBATCH --mem={m}\n");
        foreach (string extra in o.ExtraArguments ?? []) s.Append($"#SBATCH {extra}\n");
    }

    private static void AppendCommonVariables(StringBuilder s, ClusterRun run, IReadOnlyList<string> nativecert, string workingDirectory)
    {
        s.Append("# The NativeCert that submitted this run, and the directory it was submitted from (relative paths in the spec,\n");
        s.Append("# such as --dataset csv:FILE, are relative to it).\n");
        s.Append($"nativecert=({string.Join(' ', nativecert.Select(Quote))})\n");
        s.Append($"cd {Quote(workingDirectory)}\n");
        s.Append($"run={Quote(run.Root)}\n");
    }

    /// <summary>Slurm's array syntax for ascending task ids: [0, 1, 2, 5] → "0-2,5".</summary>
    public static string ArrayList(IReadOnlyList<int> tasks)
    {
        var parts = new List<string>();
        for (int i = 0; i < tasks.Count;)
        {
            int j = i;
            while (j + 1 < tasks.Count && tasks[j + 1] == tasks[j] + 1) j++;
            parts.Add(i == j ? Inv(tasks[i]) : $"{Inv(tasks[i])}-{Inv(tasks[j])}");
            i = j + 1;
        }
        return string.Join(",", parts);
    }

    /// <summary>One bash word: single-quoted unless it is made of characters that need none.</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,@%".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>
    /// Why <paramref name="value"/> cannot be written on an <c>#SBATCH</c> line (Slurm splits those at white space and
    /// reads no quotes), or null when it can.
    /// </summary>
    public static string? UnfitForDirective(string value) =>
        value.Length == 0 ? "is empty"
        : value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)) ? "holds white space or control characters, which an #SBATCH line cannot carry"
        : null;

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);
}

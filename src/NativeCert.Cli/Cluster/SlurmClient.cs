using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace NativeCert.Cli.Cluster;

/// <summary>
/// A job's state as Slurm reports it: <see cref="State"/> is Slurm's word (PENDING, RUNNING, COMPLETED, FAILED,
/// CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, REQUEUED, …), <see cref="Reason"/> why it waits or ended
/// (e.g. DependencyNeverSatisfied), <see cref="ExitCode"/> Slurm's "code:signal".
/// </summary>
internal sealed record SlurmJobState(string JobId, string State, string Reason, string ExitCode, string Source)
{
    public bool IsActive => State is "PENDING" or "RUNNING" or "CONFIGURING" or "COMPLETING" or "REQUEUED" or "REQUEUE_HOLD"
                            or "REQUEUE_FED" or "RESIZING" or "SUSPENDED" or "STAGE_OUT" or "SIGNALING" or "STOPPED";
    public bool Succeeded => State == "COMPLETED" && ExitCode is "0:0" or "";
    /// <summary>Pending on a dependency that can no longer be met (a job it waits for failed or was cancelled).</summary>
    public bool DependencyNeverSatisfied => State == "PENDING" && Reason == "DependencyNeverSatisfied";

    public override string ToString() =>
        State + (Reason is "" or "None" ? "" : $" ({Reason})") + (ExitCode is "" or "0:0" || IsActive ? "" : $" exit {ExitCode}");
}

/// <summary>
/// The Slurm commands NativeCert uses, run as child processes: <c>sbatch --parsable</c> to submit, <c>squeue</c>,
/// <c>scontrol show job</c> and <c>sacct</c> (when accounting is enabled) to learn job states, <c>scancel</c>, and
/// <c>scontrol update</c> to release a merge whose dependency broke although every shard finished.
/// </summary>
internal sealed class SlurmClient
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Absolute path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? FindOnPath(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return Path.GetFullPath(candidate);
        }
        return null;
    }

    /// <summary>Refuses (user error) when <c>sbatch</c> is not on PATH.</summary>
    public static void RequireSbatch(string context)
    {
        if (FindOnPath("sbatch") is null)
            throw new UserInputException($"{context}: sbatch is not on PATH (run on a Slurm login node, or pass --dry-run to write the scripts only)");
    }

    /// <summary>
    /// <c>sbatch --parsable ARGS SCRIPT</c>; returns the job id. A rejection (non-zero exit) is a user error quoting
    /// sbatch's own message.
    /// </summary>
    public string Submit(string script, IEnumerable<string> arguments)
    {
        var (code, output, error) = Execute("sbatch", ["--parsable", .. arguments, script]);
        string message = string.Join(" ", (error + "\n" + output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (code != 0) throw new UserInputException($"sbatch rejected {script}: {(message.Length > 0 ? message : $"exit {code}")}");
        // --parsable prints "jobid" or "jobid;cluster".
        string id = output.Trim().Split(';')[0];
        if (!Regex.IsMatch(id, "^[0-9]+$")) throw new UserInputException($"sbatch {script}: unexpected answer '{output.Trim()}' (expected a job id)");
        return id;
    }

    /// <summary>Cancels jobs (array job ids cancel every task); errors are ignored (the job may be gone already).</summary>
    public void Cancel(params string[] jobIds)
    {
        if (jobIds.Length > 0) Execute("scancel", jobIds);
    }

    /// <summary>Clears the dependency of a pending job so that it becomes eligible (<c>scontrol update JobId=J Dependency=</c>).</summary>
    public bool ReleaseDependency(string jobId) => Execute("scontrol", ["update", $"JobId={jobId}", "Dependency="]).Code == 0;

    /// <summary>
    /// States of the given jobs (array job ids expand to one entry per task, keyed "ARRAY_TASK"), from every source
    /// available: sacct (history, needs accounting), then scontrol (recently finished jobs, MinJobAge), then squeue
    /// (live); later sources win. Jobs that no source knows are absent.
    /// </summary>
    public Dictionary<string, SlurmJobState> States(IReadOnlyCollection<string> jobIds)
    {
        var states = new Dictionary<string, SlurmJobState>();
        if (jobIds.Count == 0) return states;
        string list = string.Join(",", jobIds);
        if (FindOnPath("sacct") is not null)
        {
            var (code, output, _) = Execute("sacct", ["--noheader", "--parsable2", "--jobs", list, "--format", "JobID,State,ExitCode"]);
            if (code == 0) foreach (var s in ParseSacct(output)) states[s.JobId] = s;
        }
        foreach (string id in jobIds)
        {
            var (code, output, _) = Execute("scontrol", ["--oneliner", "show", "job", id]);
            if (code == 0) foreach (var s in ParseScontrol(output)) states[s.JobId] = s;
        }
        {
            var (code, output, _) = Execute("squeue", ["--noheader", "--array", "--jobs", list, "--format", "%i|%T|%r"]);
            if (code == 0) foreach (var s in ParseSqueue(output)) states[s.JobId] = s;
        }
        return states;
    }

    /// <summary>Parses <c>squeue --noheader --array --format=%i|%T|%r</c>: "123_4|RUNNING|None".</summary>
    public static IEnumerable<SlurmJobState> ParseSqueue(string output)
    {
        foreach (string line in Lines(output))
        {
            string[] f = line.Split('|');
            if (f.Length < 3) continue;
            foreach (string id in ExpandJobId(f[0])) yield return new SlurmJobState(id, f[1], f[2], "", "squeue");
        }
    }

    /// <summary>Parses <c>sacct --noheader --parsable2 --format=JobID,State,ExitCode</c>, skipping job steps ("123_4.batch").</summary>
    public static IEnumerable<SlurmJobState> ParseSacct(string output)
    {
        foreach (string line in Lines(output))
        {
            string[] f = line.Split('|');
            if (f.Length < 3 || f[0].Contains('.')) continue;
            // "CANCELLED by 0" → CANCELLED
            string state = f[1].Split(' ')[0];
            foreach (string id in ExpandJobId(f[0])) yield return new SlurmJobState(id, state, "", f[2], "sacct");
        }
    }

    /// <summary>
    /// Parses <c>scontrol --oneliner show job</c>: one line of Key=Value fields per job record; array tasks are keyed
    /// "ArrayJobId_ArrayTaskId" (a pending record covering several tasks, "ArrayTaskId=1-3,5", gives one entry each).
    /// </summary>
    public static IEnumerable<SlurmJobState> ParseScontrol(string output)
    {
        foreach (string line in Lines(output))
        {
            string? Field(string key)
            {
                var m = Regex.Match(line, $"(?:^|\\s){key}=(\\S*)");
                return m.Success ? m.Groups[1].Value : null;
            }
            string? jobId = Field("JobId"), state = Field("JobState");
            if (jobId is null || state is null) continue;
            string reason = Field("Reason") ?? "", exit = Field("ExitCode") ?? "";
            if (Field("ArrayJobId") is { } array && Field("ArrayTaskId") is { } tasks)
            {
                foreach (int task in ExpandTaskList(tasks))
                    yield return new SlurmJobState($"{array}_{task.ToString(CultureInfo.InvariantCulture)}", state, reason, exit, "scontrol");
            }
            else
            {
                yield return new SlurmJobState(jobId, state, reason, exit, "scontrol");
            }
        }
    }

    /// <summary>"123_4" → [123_4]; "123_[1-3,7%2]" → [123_1, 123_2, 123_3, 123_7]; "124" → [124].</summary>
    public static IEnumerable<string> ExpandJobId(string id)
    {
        int underscore = id.IndexOf('_');
        if (underscore < 0 || !id.Contains('[')) return [id];
        string array = id[..underscore];
        return ExpandTaskList(id[(underscore + 1)..]).Select(t => $"{array}_{t.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Slurm's task list syntax: "[1-3,7]", "1-3,7", "0-9%2" (the %N throttle is ignored).</summary>
    public static IEnumerable<int> ExpandTaskList(string tasks)
    {
        string list = tasks.Trim('[', ']');
        int percent = list.IndexOf('%');
        if (percent >= 0) list = list[..percent];
        foreach (string part in list.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = part.Split('-');
            if (!int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int from)) continue;
            int to = from;
            if (ends.Length == 2 && !int.TryParse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture, out to)) continue;
            for (int t = from; t <= to; t++) yield return t;
        }
    }

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static (int Code, string Output, string Error) Execute(string tool, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new UserInputException($"{tool}: cannot run it ({e.Message}); is Slurm installed and on PATH?", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(CommandTimeout))
            {
                process.Kill(entireProcessTree: true);
                throw new UserInputException($"{tool} {string.Join(' ', arguments)}: no answer within {CommandTimeout.TotalSeconds:0} s (is slurmctld reachable?)");
            }
            return (process.ExitCode, output.Result, error.Result);
        }
    }
}

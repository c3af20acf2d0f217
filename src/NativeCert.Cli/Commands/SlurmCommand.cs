using System.CommandLine;
using System.Globalization;
using NativeCert.Cli.Cluster;
using NativeCert.IO;
using NativeCert.Runs;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert slurm submit|status|merge</c>: one certification run computed by K Slurm array tasks (shards of the
/// model range, each <c>certify --spec DIR/config.json --shard i/K</c>) and one merge job, in the layout of
/// <see cref="ClusterRun"/>.
/// </summary>
internal static class SlurmCommand
{
    public static Command Create()
    {
        var cmd = new Command("slurm", "Run one certification over a Slurm cluster: K shard jobs (an array job) and one merge job");
        cmd.Subcommands.Add(CreateSubmit());
        cmd.Subcommands.Add(CreateStatus());
        cmd.Subcommands.Add(CreateMerge());
        return cmd;
    }

    private sealed class SchedulerOptionSet
    {
        public readonly Option<int?> Shards = new("--shards") { Description = "Number of shards K (array tasks); the n0 + N models are split evenly (required unless --resume)" };
        public readonly Option<string?> Partition = new("--partition") { Description = "Slurm partition of every job" };
        public readonly Option<string?> Time = new("--time") { Description = "Time limit of every job (Slurm syntax, e.g. 2:00:00)" };
        public readonly Option<int?> CpusPerTask = new("--cpus-per-task") { Description = "CPUs of each shard task; the shard uses that many threads" };
        public readonly Option<int?> GpusPerTask = new("--gpus-per-task") { Description = "GPUs of each shard task; shards then use --backend cuda unless --backend says otherwise" };
        public readonly Option<string?> Memory = new("--mem") { Description = "Memory of every job (Slurm syntax, e.g. 16G)" };
        public readonly Option<string[]> SbatchArgs = new("--sbatch-arg") { Description = "Any other sbatch option for every job, e.g. --sbatch-arg=--account=proj (repeatable)", AllowMultipleArgumentsPerToken = false };
        public readonly Option<bool> DryRun = new("--dry-run") { Description = "Write config.json and the scripts, submit nothing (print the sbatch commands)" };
        public readonly Option<bool> Wait = new("--wait") { Description = "Block until the merge ends, showing shard progress; exit 1 if a job failed" };

        public IEnumerable<Option> All => [Shards, Partition, Time, CpusPerTask, GpusPerTask, Memory, SbatchArgs, DryRun, Wait];

        /// <summary>Whether any option that goes into the scripts was given (on --resume the scripts are then rewritten).</summary>
        public bool AnyGiven(ParseResult parse) =>
            new Option[] { Partition, Time, CpusPerTask, GpusPerTask, Memory, SbatchArgs }.Any(o => parse.GetResult(o) is { Implicit: false });

        public SchedulerOptions Read(ParseResult parse)
        {
            string? Directive(Option<string?> option)
            {
                string? value = parse.GetValue(option);
                if (value is not null && SlurmScripts.UnfitForDirective(value) is { } why) throw new UserInputException($"{option.Name} '{value}': {why}");
                return value;
            }
            int? AtLeastOne(Option<int?> option)
            {
                int? value = parse.GetValue(option);
                if (value is < 1) throw new UserInputException($"{option.Name} {value}: must be at least 1");
                return value;
            }
            var extra = parse.GetValue(SbatchArgs) ?? [];
            foreach (string a in extra)
            {
                if (!a.StartsWith('-')) throw new UserInputException($"--sbatch-arg '{a}': expected an sbatch option such as --account=proj");
                if (SlurmScripts.UnfitForDirective(a) is { } why) throw new UserInputException($"--sbatch-arg '{a}': {why}");
                if (a.StartsWith("--array", StringComparison.Ordinal) || a.StartsWith("--dependency", StringComparison.Ordinal) || a.StartsWith("--output", StringComparison.Ordinal))
                    throw new UserInputException($"--sbatch-arg '{a}': NativeCert sets the array, the dependency and the log files itself");
            }
            return new SchedulerOptions(Directive(Partition), Directive(Time), AtLeastOne(CpusPerTask), AtLeastOne(GpusPerTask), Directive(Memory), extra);
        }
    }

    private static Command CreateSubmit()
    {
        var scheduler = new SchedulerOptionSet();
        Command cmd = CertifyCommand.Create("submit",
            "Resolve the job spec into DIR/config.json, write DIR/slurm/shards.sbatch (an array job, one task per shard) and merge.sbatch (after every shard succeeded), and submit both; --resume resubmits the unfinished shards and the merge",
            backends: null,
            new CertifyCommand.Handoff(
                Validate: parse => ValidateSubmit(parse, scheduler),
                Resolved: (parse, request) => Submit(parse, request, scheduler)));
        foreach (Option o in scheduler.All) cmd.Options.Add(o);
        return cmd;
    }

    /// <summary>Checks everything that needs no data before anything is loaded or written.</summary>
    private static void ValidateSubmit(ParseResult parse, SchedulerOptionSet scheduler)
    {
        bool resume = parse.GetValue<bool>("--resume") is true;
        string? outDir = parse.GetValue<string?>("--out");
        if (outDir is null) throw new UserInputException("--out: give the run directory of the cluster run (every node must see it, e.g. on a shared file system)");
        foreach (string option in new[] { "--models-range", ShardIndex.Option, CertifyCommand.SpecOption })
            if (parse.GetResult(option) is System.CommandLine.Parsing.OptionResult { Implicit: false })
                throw new UserInputException($"{option}: not an option of slurm submit (it chooses each shard's models itself; use --shards K)");
        int? shards = parse.GetValue(scheduler.Shards);
        if (shards is < 1) throw new UserInputException($"--shards {shards}: must be at least 1");
        if (shards is null && !resume) throw new UserInputException("--shards: give the number of shards K (array tasks)");
        var run = new ClusterRun(outDir);
        // #SBATCH --output takes the path as one word, with % as Slurm's pattern character.
        string? unfit = SlurmScripts.UnfitForDirective(run.Root) ?? (run.Root.Contains('%') ? "holds '%', which Slurm reads as a file name pattern" : null);
        if (unfit is not null) throw new UserInputException($"--out {run.Root}: {unfit}; choose a path without them");
        if (File.Exists(run.Root)) throw new UserInputException($"--out: {run.Root} is a file, not a directory");
        if (resume)
        {
            if (!File.Exists(run.SpecPath)) throw new UserInputException($"--resume: {run.Root} holds no cluster run (no config.json)");
            ClusterPlan plan = run.ReadPlan();
            if (shards is { } k && k != plan.Shards)
                throw new UserInputException($"--shards {k}: {run.Root} was split into {plan.Shards} shards; a resumed run keeps them");
        }
        scheduler.Read(parse);
        if (!parse.GetValue(scheduler.DryRun)) SlurmClient.RequireSbatch("slurm submit");
    }

    private static int Submit(ParseResult parse, CertifyRequest request, SchedulerOptionSet scheduler)
    {
        TextWriter stdout = parse.InvocationConfiguration.Output, stderr = parse.InvocationConfiguration.Error;
        var run = new ClusterRun(request.OutDirectory);
        bool resume = request.Resume, dryRun = parse.GetValue(scheduler.DryRun);
        SchedulerOptions resources = scheduler.Read(parse);
        int total = request.Config.TotalModels;
        ClusterPlan? existing = resume ? run.ReadPlan() : null;
        int shardCount = existing?.Shards ?? parse.GetValue(scheduler.Shards)!.Value;
        if (shardCount > total)
            throw new UserInputException($"--shards {shardCount}: more than the {total} models of the run (n0 + N); use at most {total}");

        if (File.Exists(run.SpecPath))
        {
            RunConfig stored = RunConfig.Read(run.SpecPath);
            var diffs = stored.Spec.Differences(request.Config.Spec);
            if (diffs.Count > 0)
                throw new UserInputException($"--out: {run.Root} holds another job spec: {string.Join("; ", diffs.Select(d => $"{d.Field} {d.Mine} (run) vs {d.Theirs} (now)"))}");
            if (stored.ConfigHash != request.Config.ConfigHash)
                throw new UserInputException($"--out: {run.Root} holds this job spec for other data (the dataset files changed since it was submitted?)");
            if (!resume) throw new UserInputException($"--out: {run.Root} already holds this cluster run; pass --resume to resubmit what is unfinished, or choose another directory");
        }
        else if (Directory.Exists(run.Root) && File.Exists(run.Run.VotesPath))
        {
            throw new UserInputException($"--out: {run.Root} already holds a run; choose another directory");
        }

        // Shards use the --backend given; by default cuda when GPUs are asked for, else cpu.
        string backend = request.Config.Execution.Backend != "auto" ? request.Config.Execution.Backend : resources.GpusPerTask is not null ? "cuda" : "cpu";
        IReadOnlyList<string> nativecert = SelfCommand();

        var slurm = new SlurmClient();
        var plan = existing ?? new ClusterPlan(shardCount, []);
        List<int> toRun;
        if (resume)
        {
            var status = ClusterStatus.Gather(run, dryRun ? null : slurm);
            var active = status.Shards.Where(s => s.Job is { IsActive: true }).Select(s => $"{s.JobId} {s.Job!.State}").ToList();
            bool staleMerge = status.MergeWaitsInVain; // cancelled below, resubmitted with the shards
            if (status.Merge is { IsActive: true } && !staleMerge) active.Add($"{status.MergeJobId} (merge) {status.Merge.State}");
            if (active.Count > 0)
                throw new UserInputException($"--resume: jobs of {run.Root} are still queued or running ({string.Join(", ", active)}); wait for them (nativecert slurm status --wait {run.Root}) or scancel them first");
            if (status.Complete)
            {
                stdout.WriteLine($"{run.Root} is complete: nothing to resubmit");
                return ExitCodes.Success;
            }
            if (staleMerge && status.MergeJobId is { } stale) slurm.Cancel(stale);
            toRun = status.Shards.Where(s => !s.Complete).Select(s => s.Index).ToList();
        }
        else
        {
            toRun = Enumerable.Range(0, shardCount).ToList();
        }

        // What a fresh submission creates, removed again if it fails before anything is submitted.
        var createdDirectories = new List<string>();
        void Directory_(string path)
        {
            if (Directory.Exists(path)) return;
            AtomicFile.CreateDirectory(path, "--out");
            createdDirectories.Add(path);
        }
        void RollBack()
        {
            if (resume) return;
            foreach (string file in new[] { run.SpecPath, run.PlanPath, run.ShardsScriptPath, run.MergeScriptPath })
                try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            foreach (string d in Enumerable.Reverse(createdDirectories))
                try { Directory.Delete(d); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        try
        {
            Directory_(run.Root);
            Directory_(run.SlurmDirectory);
            Directory_(run.LogsDirectory);
            Directory_(run.ShardsDirectory);
            if (!resume) request.Config.Write(run.SpecPath);
            // A resumed run keeps its scripts (hand edits included) unless scheduler options or --backend are given again.
            if (!resume || scheduler.AnyGiven(parse) || parse.GetResult("--backend") is System.CommandLine.Parsing.OptionResult { Implicit: false }
                || !File.Exists(run.ShardsScriptPath) || !File.Exists(run.MergeScriptPath))
            {
                AtomicFile.WriteAllText(run.ShardsScriptPath, SlurmScripts.Shards(run, shardCount, nativecert, resources, backend, Environment.CurrentDirectory));
                AtomicFile.WriteAllText(run.MergeScriptPath, SlurmScripts.Merge(run, nativecert, resources, Environment.CurrentDirectory));
            }
            if (!resume) run.WritePlan(plan);
        }
        catch
        {
            RollBack();
            throw;
        }

        // Every check passed and the directory holds the run: now the notes on the data.
        foreach (string line in request.Description ?? []) stderr.WriteLine(line);
        string arrayList = SlurmScripts.ArrayList(toRun);
        if (dryRun)
        {
            stdout.WriteLine($"wrote {run.SpecPath}, {run.ShardsScriptPath} and {run.MergeScriptPath}; submit with:");
            stdout.WriteLine($"  sbatch --parsable --array={(toRun.Count > 0 ? arrayList : "0")} {run.ShardsScriptPath}");
            stdout.WriteLine($"  sbatch --parsable --dependency=afterok:<array job id> {run.MergeScriptPath}");
            stdout.WriteLine($"or with nativecert slurm submit --resume --out {run.Root} (it records the jobs for slurm status)");
            return ExitCodes.Success;
        }

        string arrayJob = "", mergeJob;
        try
        {
            if (toRun.Count > 0) arrayJob = slurm.Submit(run.ShardsScriptPath, [$"--array={arrayList}"]);
            try
            {
                mergeJob = slurm.Submit(run.MergeScriptPath, arrayJob.Length > 0 ? [$"--dependency=afterok:{arrayJob}"] : []);
            }
            catch
            {
                if (arrayJob.Length > 0) slurm.Cancel(arrayJob);
                throw;
            }
        }
        catch (UserInputException)
        {
            // Nothing was submitted: leave nothing behind either.
            RollBack();
            throw;
        }
        plan.Submissions.Add(new ClusterSubmission(ClusterRun.Now(), arrayJob, mergeJob, [.. toRun]));
        run.WritePlan(plan);

        if (arrayJob.Length > 0)
            stdout.WriteLine($"submitted shards {arrayList} of {shardCount} ({total} models) as array job {arrayJob}, the merge as job {mergeJob} (runs after every shard succeeded)");
        else
            stdout.WriteLine($"every shard is complete; submitted the merge as job {mergeJob}");
        stdout.WriteLine($"watch: nativecert slurm status {run.Root}   (or squeue --jobs {(arrayJob.Length > 0 ? arrayJob + "," : "")}{mergeJob}; logs in {run.LogsDirectory})");
        stdout.WriteLine($"run directory: {run.Root}");
        if (!parse.GetValue(scheduler.Wait)) return ExitCodes.Success;
        return WaitFor(run, slurm, stdout, stderr);
    }

    private static int WaitFor(ClusterRun run, SlurmClient slurm, TextWriter stdout, TextWriter stderr)
    {
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        bool complete;
        try { complete = new ClusterMonitor(run, slurm, stderr).Wait(cts.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
        stdout.Write(ClusterStatus.Gather(run, slurm).Describe());
        if (complete)
        {
            stdout.Write(File.ReadAllText(run.Run.SummaryTextPath));
            return ExitCodes.Success;
        }
        return ExitCodes.InternalError;
    }

    private static Command CreateStatus()
    {
        var cmd = new Command("status", "Per shard of a cluster run: models done / total, its Slurm job and state, what failed and its log");
        var dir = new Argument<string>("dir") { Description = "The cluster run directory (slurm submit --out)" };
        var wait = new Option<bool>("--wait") { Description = "Block until the run completes or a job fails, showing progress; exit 1 if it did not complete" };
        cmd.Arguments.Add(dir);
        cmd.Options.Add(wait);
        cmd.SetAction(parse =>
        {
            var run = new ClusterRun(parse.GetValue(dir)!);
            if (!File.Exists(run.SpecPath)) throw new UserInputException($"slurm status: {run.Root} holds no cluster run (no config.json)");
            SlurmClient? slurm = SlurmClient.FindOnPath("squeue") is not null ? new SlurmClient() : null;
            if (parse.GetValue(wait))
            {
                if (slurm is null) throw new UserInputException("slurm status --wait: squeue is not on PATH");
                return WaitFor(run, slurm, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
            }
            var status = ClusterStatus.Gather(run, slurm);
            parse.InvocationConfiguration.Output.Write(status.Describe());
            if (slurm is null) parse.InvocationConfiguration.Output.WriteLine("(squeue is not on PATH: job states unknown; progress is read from the shard directories)");
            return ExitCodes.Success;
        });
        return cmd;
    }

    private static Command CreateMerge()
    {
        var cmd = new Command("merge", "The merge job of a cluster run: add the votes of DIR/shards/0..K-1 and write the complete run into DIR (as nativecert merge does)");
        var dir = new Argument<string>("dir") { Description = "The cluster run directory" };
        cmd.Arguments.Add(dir);
        cmd.SetAction(parse =>
        {
            var run = new ClusterRun(parse.GetValue(dir)!);
            RunReport report = ClusterMerge.Merge(run);
            parse.InvocationConfiguration.Output.Write(report.Text);
            parse.InvocationConfiguration.Output.WriteLine($"run directory: {run.Root}");
            return ExitCodes.Success;
        });
        return cmd;
    }

    /// <summary>
    /// The command line that runs this NativeCert: the executable itself when it is NativeCert's apphost or tool shim,
    /// otherwise the dotnet host and this assembly (<c>dotnet NativeCert.Cli.dll</c>), both absolute.
    /// </summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        string dll = typeof(Program).Assembly.Location;
        string? process = Environment.ProcessPath;
        string? name = process is null ? null : Path.GetFileNameWithoutExtension(process);
        if (process is not null && (name == Path.GetFileNameWithoutExtension(dll) || name == "nativecert")) return [process];
        string host = name == "dotnet" ? process!
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : SlurmClient.FindOnPath("dotnet") ?? "dotnet";
        return [host, dll];
    }

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);
}

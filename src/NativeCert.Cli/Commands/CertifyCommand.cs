using System.CommandLine;
using System.Globalization;
using NativeCert.Cli.Options;
using NativeCert.Cli.Cluster;
using NativeCert.Engine;
using NativeCert.Kernels;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert certify</c>: data → (poisoned) training set → noisy ensemble votes, chunk by chunk and
/// resumable → certificates, summary and plots in a run directory. See <see cref="CertifyPipeline"/>.
/// </summary>
internal static class CertifyCommand
{
    public const string SpecOption = "--spec";

    public static Command Create(BackendProvider? backends = null) =>
        Create("certify", "Train a noisy ensemble on (optionally poisoned) data, certify the test inputs against backdoor attacks, write a run directory with votes, certificates, summary and plots",
               backends, null);

    /// <summary>
    /// What a command built on the certify options does instead of running the job (<c>slurm submit</c>):
    /// <see cref="Validate"/> checks its own options before anything is loaded; <see cref="Resolved"/> receives the
    /// command line and the resolved job (spec, execution, loaded data; its description lines not yet logged) and
    /// returns the exit code.
    /// </summary>
    public sealed record Handoff(Action<ParseResult> Validate, Func<ParseResult, CertifyRequest, int> Resolved);

    /// <summary>The certify command, or with <paramref name="handoff"/> another command that resolves the same job and hands it on.</summary>
    public static Command Create(string name, string description, BackendProvider? backends, Handoff? handoff)
    {
        JobSpec defaults = JobSpec.Default;
        var cmd = new Command(name, description);
        var data = new DataOptions();
        var attack = new AttackOptions();
        data.AddTo(cmd);
        attack.AddTo(cmd);

        var model = new ModelOptions();
        model.AddTo(cmd);
        var models = new Option<int>("--models") { Description = "Models N that estimate the vote probabilities", DefaultValueFactory = _ => defaults.Smoothing.Models };
        var alpha = new Option<double>("--alpha") { Description = "Failure probability of each certificate (one-sided)", DefaultValueFactory = _ => defaults.Certification.Alpha };
        var simultaneous = new Option<bool>("--simultaneous") { Description = "Make --alpha bound the failure of all T certificates jointly (alpha / T per input); clean and triggered inputs are two guarantees, each over its own rows" };
        var method = new Option<string>("--method") { Description = "simuem (all N models bound every class) or cohen (n0 extra models select the class, N bound it)", DefaultValueFactory = _ => defaults.Smoothing.Method };
        method.AcceptOnlyFromAmong(SmoothingSpec.SimuEM, SmoothingSpec.Cohen);
        var n0 = new Option<int>("--n0") { Description = "Selection models for --method cohen", DefaultValueFactory = _ => defaults.Smoothing.N0 };
        var backend = new Option<string>("--backend") { Description = "cpu, cuda, ilgpu-cpu or auto (CUDA when a device starts, else cpu)", DefaultValueFactory = _ => BackendFactory.Auto };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string?>("--out") { Description = "Run directory (default runs/<UTC timestamp>)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last complete chunk (its settings come from its config.json)" };
        var chunk = new Option<int>("--chunk") { Description = "Models per durable chunk (0 = sized to take about 5 s, in multiples of the models trained at once)", DefaultValueFactory = _ => 0 };
        var triggerNorms = new Option<string>("--trigger-norms") { Description = "Trigger l2 norms for the certified-accuracy-vs-poison plot, comma-separated", DefaultValueFactory = _ => SpecJson.Text(defaults.Certification.TriggerNorms) };
        var radii = new Option<string>("--radii") { Description = "Radii of the summary table, comma-separated", DefaultValueFactory = _ => SpecJson.Text(defaults.Certification.Radii) };
        var modelsRange = new Option<string?>("--models-range") { Description = "Compute only models [START, END) of the run (a shard, e.g. 0:500); combine shards with nativecert merge" };
        var keepModels = new Option<bool>("--keep-models") { Description = "Also save the trained models in the run directory (models/models-START-END.bin, one ensemble file per chunk; every backend)" };
        var specFile = new Option<string?>(SpecOption) { Description = "Start from this job spec (a run's config.json, e.g. the one nativecert slurm submit writes) instead of the defaults; options given change it, and the job must still be the spec's (the data on this machine included)" };
        var shardOption = new Option<string?>(ShardIndex.Option) { Description = "Compute shard INDEX of COUNT (0-based, e.g. $SLURM_ARRAY_TASK_ID/4 or $JOB_COMPLETION_INDEX/4): the models --models-range would give for an even split; combine shards with nativecert merge" };
        var defense = new Option<string>("--defense") { Description = "smoothing (noise on training features: an l2 radius), dpa (one model per partition of a feature hash) or bagging (models on bags of rows drawn with replacement); dpa and bagging certify a number of training examples changed in any way, labels included", DefaultValueFactory = _ => RunConfig.SmoothingDefense };
        defense.AcceptOnlyFromAmong(RunConfig.SmoothingDefense, RunConfig.DpaDefense, RunConfig.BaggingDefense);
        var partitions = new Option<int>("--partitions") { Description = "--defense dpa: partitions k, one model each (the models)", DefaultValueFactory = _ => DefaultPartitions };
        var bagSize = new Option<int>("--bag-size") { Description = "--defense bagging: rows per bag, drawn with replacement", DefaultValueFactory = _ => DefaultBagSize };
        foreach (Option o in new Option[] { models, alpha, simultaneous, method, n0, backend, threads, outDir, resume, chunk, triggerNorms, radii, modelsRange, keepModels, specFile, shardOption, defense, partitions, bagSize })
            cmd.Options.Add(o);

        cmd.SetAction(parse =>
        {
            TextWriter stdout = parse.InvocationConfiguration.Output, stderr = parse.InvocationConfiguration.Error;
            handoff?.Validate(parse);
            bool resuming = parse.GetValue(resume);
            string? outGiven = parse.GetValue(outDir);
            if (resuming && outGiven is null) throw new UserInputException("--resume: give the run directory with --out DIR");
            if (outGiven is not null && string.IsNullOrWhiteSpace(outGiven)) throw new UserInputException("--out: the run directory path is empty");
            string outPath = outGiven ?? RunDirectory.DefaultPath(DateTime.UtcNow);

            // The spec: the flags the user typed, over the defaults or (--resume) over the stored run's spec.
            RunConfig? stored = resuming ? RunConfig.Read(RunDirectory.OpenExisting(outPath).ConfigPath) : null;
            // --spec FILE: a worker of a stored job spec (a cluster shard) starts from it instead of the defaults.
            string? specPath = parse.GetValue(specFile);
            if (specPath is not null && !File.Exists(specPath)) throw new UserInputException($"{SpecOption} {specPath}: no such file");
            RunConfig? specSource = specPath is null ? null : RunConfig.Read(specPath);
            JobSpec spec = stored?.Spec ?? specSource?.Spec ?? defaults;
            spec = model.Apply(parse, spec with { Data = data.Apply(parse, spec.Data), Attack = attack.Apply(parse, spec.Attack) });
            spec = spec with
            {
                Smoothing = spec.Smoothing with
                {
                    Models = parse.ValueOr(models, spec.Smoothing.Models),
                    Method = parse.ValueOr(method, spec.Smoothing.Method),
                    N0 = parse.ValueOr(n0, spec.Smoothing.N0),
                },
                Certification = spec.Certification with
                {
                    Alpha = parse.ValueOr(alpha, spec.Certification.Alpha),
                    Simultaneous = parse.ValueOr(simultaneous, spec.Certification.Simultaneous),
                    TriggerNorms = parse.Given(triggerNorms) ? ParseDoubleList(parse.GetValue(triggerNorms), "--trigger-norms", positive: true) : spec.Certification.TriggerNorms,
                    Radii = parse.Given(radii) ? ParseDoubleList(parse.GetValue(radii), "--radii", positive: false) : spec.Certification.Radii,
                },
            };
            spec = WithDefense(parse, spec, defense, partitions, bagSize, models, model, resuming: stored is not null);
            spec = spec.Validate().Canonical();

            RunExecution execution = stored?.Execution ?? new RunExecution();
            execution = execution with
            {
                Backend = parse.ValueOr(backend, execution.Backend) ?? BackendFactory.Auto,
                Threads = parse.ValueOr(threads, execution.Threads),
                ChunkModels = parse.ValueOr(chunk, execution.ChunkModels),
                KeepModels = parse.ValueOr(keepModels, execution.KeepModels),
                Shard = parse.Given(modelsRange)
                    ? string.IsNullOrEmpty(parse.GetValue(modelsRange)) ? null : ModelRange.Parse(parse.GetValue(modelsRange)!, spec.TotalModels)
                    : execution.Shard,
            };
            if (parse.GetValue(shardOption) is { Length: > 0 } shardText)
            {
                ModelRange even = ShardIndex.Parse(shardText).RangeOf(spec.TotalModels);
                if (parse.Given(modelsRange) && execution.Shard is { } ranged && ranged != even)
                    throw new UserInputException($"{ShardIndex.Option} {shardText} is models [{even.Start}, {even.End}) but --models-range says {ranged}; give one of them");
                execution = execution with { Shard = even };
            }
            if (specSource is not null && specSource.Spec.Differences(spec) is { Count: > 0 } specDiffs)
                throw new SpecException($"{SpecOption} {specPath}: this job differs from the spec: {string.Join("; ", specDiffs.Select(d => $"{d.Field} {d.Mine} (spec) vs {d.Theirs} (now)"))}",
                                        [.. specDiffs.Select(d => d.Field)]);
            CheckExecution(execution, spec);
            if (stored is not null) CertifyPipeline.CheckResumable(stored, spec, execution, outPath);
            else if (handoff is null) RunDirectory.CheckNew(outPath); // a handoff checks its directory itself

            // Data, then the attack on it; then the run's configuration with the facts of both.
            JobData jobData = JobData.Load(spec);
            if (spec.Defense is { } chosen)
            {
                chosen.Settings.Validate(jobData.Train.Count);
                // A defense's small training sets train for a step budget unless --epochs is given (a resumed run keeps its own).
                if (stored is null && !parse.Given(model.Epochs))
                    spec = spec with { Training = spec.Training with { Epochs = TrainingDefaults.DefenseEpochs(chosen.Settings.RowsPerModel(jobData.Train.Count), spec.Training.BatchSize) } };
            }
            RunConfig config = RunConfig.Create(spec, execution, jobData.DataFacts, jobData.AttackFacts);
            if (stored is not null) config = CertifyPipeline.ResumedConfig(stored, config, new RunDirectory(outPath).ConfigPath);
            var description = new List<string> { $"data: {jobData.Split.Describe()}" };
            if (jobData.Attack is { } ar)
                description.Add($"attack: {ar.Attack.Trigger.Describe()}; {ar.Poisoned.PoisonedRows.Length} poisoned ({ar.Mode}-label, target label {ar.Target}); " +
                                $"trigger l2 norms: training {ar.Poisoned.Norms}, test {ar.Triggered.Norms}");

            if (specSource is not null && config.ConfigHash != specSource.ConfigHash)
                throw new UserInputException($"{SpecOption} {specPath}: the data on this machine are not the spec's (same spec, but the data or attack facts give another config hash: different dataset files?)");
            var request = new CertifyRequest(config, jobData, outPath, resuming, description);
            if (handoff is not null) return handoff.Resolved(parse, request);
            // Ctrl+C stops after the models in flight; the votes on disk keep the last complete chunk.
            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
            Console.CancelKeyPress += onCancel;
            RunReport? report;
            try
            {
                bool interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
                report = CertifyPipeline.Run(request, backends ?? BackendFactory.Create, stderr, stderr, interactive, cts.Token);
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            if (report is null)
            {
                ModelRange shard = execution.Shard!.Value;
                stdout.WriteLine($"shard: models [{shard.Start}, {shard.End}) of {spec.TotalModels} done in {outPath}");
                stdout.WriteLine($"combine the shards (together covering [0, {spec.TotalModels})) with: nativecert merge --out DIR SHARD_DIR...");
                return ExitCodes.Success;
            }
            stdout.Write(report.Text);
            stdout.WriteLine($"run directory: {outPath}");
            return ExitCodes.Success;
        });
        return cmd;
    }

    /// <summary>Defaults of --partitions (dpa) and --bag-size (bagging).</summary>
    public const int DefaultPartitions = 100, DefaultBagSize = 100;

    /// <summary>
    /// The spec's defense from --defense, --partitions and --bag-size over the current one (defaults or the stored run's).
    /// A new DPA or bagging run has no noise unless --sigma is given; DPA trains one model per partition.
    /// </summary>
    private static JobSpec WithDefense(ParseResult parse, JobSpec spec, Option<string> defense, Option<int> partitions, Option<int> bagSize,
                                       Option<int> models, ModelOptions model, bool resuming)
    {
        string kind = parse.Given(defense) ? parse.GetValue(defense)! : spec.Defense?.Kind ?? RunConfig.SmoothingDefense;
        if (kind != RunConfig.DpaDefense && parse.Given(partitions)) throw new UserInputException($"--partitions: only for --defense dpa (this run is --defense {kind})");
        if (kind != RunConfig.BaggingDefense && parse.Given(bagSize)) throw new UserInputException($"--bag-size: only for --defense bagging (this run is --defense {kind})");
        if (kind == RunConfig.SmoothingDefense) return spec with { Defense = null };
        if (spec.Smoothing.Method == SmoothingSpec.Cohen)
            throw new UserInputException($"--method cohen: only for --defense smoothing (--defense {kind} bounds every class from all models)");
        bool dpa = kind == RunConfig.DpaDefense;
        var chosen = new DefenseSpec
        {
            Kind = kind,
            Partitions = dpa ? parse.ValueOr(partitions, spec.Defense?.Kind == kind ? spec.Defense.Partitions : DefaultPartitions) : 0,
            BagSize = dpa ? 0 : parse.ValueOr(bagSize, spec.Defense?.Kind == kind ? spec.Defense.BagSize : DefaultBagSize),
        };
        if (dpa && chosen.Partitions < 1) throw new UserInputException($"--partitions {chosen.Partitions}: must be at least 1");
        if (!dpa && chosen.BagSize < 1) throw new UserInputException($"--bag-size {chosen.BagSize}: must be at least 1");
        if (dpa && parse.Given(models) && parse.GetValue(models) != chosen.Partitions)
            throw new UserInputException($"--models {parse.GetValue(models)}: --defense dpa trains one model per partition (--partitions {chosen.Partitions})");
        var smoothing = spec.Smoothing with
        {
            Models = dpa ? chosen.Partitions : spec.Smoothing.Models,
            Sigma = resuming || parse.Given(model.Sigma) ? spec.Smoothing.Sigma : 0f,
        };
        return spec with { Defense = chosen, Smoothing = smoothing };
    }

    /// <summary>The execution settings a run can start with: a known backend, threads and chunk ≥ 0 (every backend hands back kept models).</summary>
    private static void CheckExecution(RunExecution execution, JobSpec spec)
    {
        string name = execution.Backend.Trim().ToLowerInvariant();
        if (!BackendFactory.Names.Contains(name))
            throw SpecException.Invalid("execution.backend", execution.Backend, $"unknown backend; expected one of {string.Join(", ", BackendFactory.Names)}");
        if (execution.Threads < 0) throw SpecException.Invalid("execution.threads", execution.Threads, "must be at least 0");
        if (execution.ChunkModels < 0) throw SpecException.Invalid("execution.chunk_models", execution.ChunkModels, "must be at least 0");
        execution.Shard?.Validate(spec.TotalModels);
    }

    /// <summary>Parses "0.1,0.25" for the named option; values must be finite and non-negative (positive when asked).</summary>
    public static double[] ParseDoubleList(string? text, string option, bool positive)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]))
                throw new UserInputException($"{option}: '{parts[i]}' is not a number (expected a comma-separated list such as 0.1,0.25)");
            if (values[i] < 0 || (positive && values[i] == 0))
                throw new UserInputException($"{option}: {parts[i]} must be {(positive ? "positive" : "zero or positive")}");
        }
        return values;
    }
}

using System.CommandLine;
using System.Globalization;
using NativeCert.Attacks;
using NativeCert.Cli.Options;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Kernels;
using NativeCert.Runs;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert certify</c>: data → (poisoned) training set → noisy ensemble votes, chunk by chunk and
/// resumable → certificates, summary and plots in a run directory. See <see cref="CertifyPipeline"/>.
/// </summary>
public static class CertifyCommand
{
    /// <summary>Defaults of the no-option run: MNIST, a configuration that finishes in minutes on 2 CPU cores.</summary>
    public static class Defaults
    {
        public const int Models = 1000;
        public const double Alpha = 0.001;
        public const int N0 = 100;
        public const string TriggerNorms = "0.05,0.1,0.2,0.5";
        public const string Radii = "0,0.25,0.5,0.75,1";
    }

    public static Command Create(BackendProvider? backends = null)
    {
        var cmd = new Command("certify", "Train a noisy ensemble on (optionally poisoned) data, certify the test inputs against backdoor attacks, write a run directory with votes, certificates, summary and plots");
        var data = new DataOptions();
        var attack = new AttackOptions();
        data.AddTo(cmd);
        attack.AddTo(cmd);

        var model = new ModelOptions();
        model.AddTo(cmd);
        var models = new Option<int>("--models") { Description = "Models N that estimate the vote probabilities", DefaultValueFactory = _ => Defaults.Models };
        var alpha = new Option<double>("--alpha") { Description = "Failure probability of each certificate (one-sided)", DefaultValueFactory = _ => Defaults.Alpha };
        var simultaneous = new Option<bool>("--simultaneous") { Description = "Make --alpha bound the failure of all T certificates jointly (alpha / T per input); clean and triggered inputs are two guarantees, each over its own rows" };
        var method = new Option<string>("--method") { Description = "simuem (all N models bound every class) or cohen (n0 extra models select the class, N bound it)", DefaultValueFactory = _ => "simuem" };
        method.AcceptOnlyFromAmong("simuem", "cohen");
        var n0 = new Option<int>("--n0") { Description = "Selection models for --method cohen", DefaultValueFactory = _ => Defaults.N0 };
        var backend = new Option<string>("--backend") { Description = "cpu, cuda, ilgpu-cpu or auto (CUDA when a device starts, else cpu)", DefaultValueFactory = _ => BackendFactory.Auto };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all cores)", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string?>("--out") { Description = "Run directory (default runs/<UTC timestamp>)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last complete chunk" };
        var chunk = new Option<int>("--chunk") { Description = "Models per durable chunk (0 = sized to take about 5 s)", DefaultValueFactory = _ => 0 };
        var triggerNorms = new Option<string>("--trigger-norms") { Description = "Trigger l2 norms for the certified-accuracy-vs-poison plot, comma-separated", DefaultValueFactory = _ => Defaults.TriggerNorms };
        var radii = new Option<string>("--radii") { Description = "Radii of the summary table, comma-separated", DefaultValueFactory = _ => Defaults.Radii };
        var modelsRange = new Option<string?>(ShardMerge.RangeOption) { Description = "Compute only models [START, END) of the run (a shard, e.g. 0:500); combine shards with nativecert merge" };
        var keepModels = new Option<bool>("--keep-models") { Description = "Also save the trained models in the run directory (models/models-START-END.bin, one ensemble file per chunk; every backend)" };
        foreach (Option o in new Option[] { models, alpha, simultaneous, method, n0, backend, threads, outDir, resume, chunk, triggerNorms, radii, modelsRange, keepModels })
            cmd.Options.Add(o);

        cmd.SetAction(given =>
        {
            TextWriter stdout = given.InvocationConfiguration.Output, stderr = given.InvocationConfiguration.Error;
            // --resume --out DIR alone continues the run: options not given now come from DIR/config.json.
            ParseResult parse = given.GetValue(resume) && given.GetValue(outDir) is { } resumeDir
                ? WithStoredOptions(cmd, given, resumeDir)
                : given;
            bool cohen = parse.GetValue(method) == "cohen";
            int modelCount = AtLeast(parse.GetValue(models), 1, "--models");
            double alphaValue = parse.GetValue(alpha);
            if (!(alphaValue > 0 && alphaValue < 1)) throw new UserInputException($"--alpha {Inv(alphaValue)}: must be in (0, 1)");
            int selection = cohen ? AtLeast(parse.GetValue(n0), 1, "--n0") : 0;
            Positive(parse.GetValue(model.Sigma), "--sigma");
            AtLeast(parse.GetValue(model.Epochs), 1, "--epochs");
            model.ReadLayers(parse);
            int threadCount = AtLeast(parse.GetValue(threads), 0, "--threads");
            int chunkSize = AtLeast(parse.GetValue(chunk), 0, "--chunk");
            string? rangeText = parse.GetValue(modelsRange);
            ModelRange? shard = string.IsNullOrEmpty(rangeText) ? null : ModelRange.Parse(rangeText, modelCount + selection);
            double[] norms = ParseDoubleList(parse.GetValue(triggerNorms), "--trigger-norms", positive: true);
            double[] radiiValues = ParseDoubleList(parse.GetValue(radii), "--radii", positive: false);
            bool resuming = parse.GetValue(resume);
            string? outGiven = parse.GetValue(outDir);
            if (resuming && outGiven is null) throw new UserInputException("--resume: give the run directory with --out DIR");
            string outPath = outGiven ?? RunDirectory.DefaultPath(DateTime.UtcNow);

            // Data, then the attack on it.
            DataSplit split = data.Load(parse);
            AttackResult? attackResult = attack.Apply(parse, split);
            Dataset train = attackResult?.Poisoned.Data ?? split.Train;
            var (inputs, kinds) = CertifyPipeline.AppendTriggered(split.Test, attackResult?.Triggered.Data);
            if (train.ClassCount < 2) throw new UserInputException($"--dataset {split.Name}: certification needs at least two classes");
            stderr.WriteLine($"data: {split.Describe()}");
            if (attackResult is { } ar)
                stderr.WriteLine($"attack: {ar.Attack.Trigger.Describe()}; {ar.Poisoned.PoisonedRows.Length} poisoned ({ar.Mode}-label, target label {ar.Target}); " +
                                 $"trigger l2 norms: training {ar.Poisoned.Norms}, test {ar.Triggered.Norms}");

            EnsembleConfig ensemble = model.Read(parse, train);
            TrainingOptions training = ensemble.Training;

            // Every resolved option, canonical text; those that determine votes are hashed.
            var options = new Dictionary<string, string>();
            var voteOptions = new List<string>();
            void Record(Option o, object? value, bool determinesVotes)
            {
                options[o.Name] = RunConfig.Canonical(value);
                if (determinesVotes) voteOptions.Add(o.Name);
            }
            Record(data.Dataset, parse.GetValue(data.Dataset), true);
            Record(data.TrainSize, parse.GetValue(data.TrainSize), true);
            Record(data.TestSize, parse.GetValue(data.TestSize), true);
            Record(data.Classes, parse.GetValue(data.Classes), true);
            Record(data.DataSeed, parse.GetValue(data.DataSeed), true);
            Record(attack.Attack, parse.GetValue(attack.Attack), true);
            bool attacking = attackResult is not null;
            // Attack details only matter (and are only recorded) when there is an attack.
            if (attacking)
            {
                Record(attack.TriggerSize, parse.GetValue(attack.TriggerSize), true);
                Record(attack.TriggerValue, parse.GetValue(attack.TriggerValue), true);
                Record(attack.TriggerNorm, parse.GetValue(attack.TriggerNorm), true);
                Record(attack.TriggerCorner, parse.GetValue(attack.TriggerCorner), true);
                Record(attack.Mask, parse.GetValue(attack.Mask), true);
                Record(attack.Poison, parse.GetValue(attack.Poison), true);
                Record(attack.Target, parse.GetValue(attack.Target), true);
                Record(attack.LabelMode, parse.GetValue(attack.LabelMode), true);
                Record(attack.AttackSeed, parse.GetValue(attack.AttackSeed), true);
            }
            Record(model.Sigma, ensemble.Sigma, true);
            // An MLP is recorded as --hidden, as before layer lists, so that its runs keep their config hash and resume;
            // any other model as its canonical --model text.
            if (ensemble.Model.Hidden is { } hidden) Record(model.Hidden, hidden, true);
            else Record(model.Model, ensemble.Model.Text, true);
            Record(model.Epochs, training.Epochs, true);
            Record(model.Batch, training.BatchSize, true);
            Record(model.LearningRate, training.LearningRate, true);
            Record(model.Momentum, training.Momentum, true);
            Record(model.WeightDecay, training.WeightDecay, true);
            Record(model.Seed, ensemble.Seed, true);
            Record(method, cohen ? "cohen" : "simuem", true);
            Record(n0, selection, true);
            Record(models, modelCount, false);
            Record(keepModels, parse.GetValue(keepModels), false);
            Record(modelsRange, shard?.ToString(), false);
            Record(alpha, alphaValue, false);
            // Like --alpha: changes only how the votes become certificates, so not hashed, but stored and held fixed on resume.
            // A run from before the option has no entry and was per-input: resuming it per-input must not count as a change.
            bool simultaneousValue = parse.GetValue(simultaneous);
            if (simultaneousValue || !(resuming && StoredRunLacks(outPath, simultaneous.Name)))
                Record(simultaneous, simultaneousValue, false);
            Record(triggerNorms, norms, false);
            Record(radii, radiiValues, false);
            Record(backend, parse.GetValue(backend), false);
            Record(threads, threadCount, false);
            Record(chunk, chunkSize, false);
            options[CertifyPipeline.TrainFingerprint] = CertifyPipeline.Fingerprint(train);
            options[CertifyPipeline.InputsFingerprint] = CertifyPipeline.Fingerprint(inputs);
            voteOptions.Add(CertifyPipeline.TrainFingerprint);
            voteOptions.Add(CertifyPipeline.InputsFingerprint);

            var config = new RunConfig
            {
                Options = options,
                VoteOptions = voteOptions,
                Sigma = ensemble.Sigma,
                Models = modelCount,
                SelectionModels = selection,
                Method = cohen ? "cohen" : "simuem",
                Alpha = alphaValue,
                Simultaneous = simultaneousValue,
                Seed = ensemble.Seed,
                TriggerNorms = norms,
                Radii = radiiValues,
                Data = new RunDataFacts(split.Name, train.Count, split.Test.Count, train.Dimension, train.ClassCount, train.Shape?.ToString()),
                Attack = attackResult is { } a
                    ? new RunAttackFacts(parse.GetValue(attack.Attack) ?? "", a.Target, Math.Max(a.Poisoned.Norms.Max, a.Triggered.Norms.Max),
                                         a.Poisoned.PoisonedRows.Length, a.Mode == LabelMode.Clean ? "clean" : "dirty", a.Triggered.Data.Count,
                                         a.Poisoned.RowNorms, a.Triggered.RowNorms)
                    : null,
            }.WithHash();

            var request = new CertifyRequest(config, ensemble, train, inputs, kinds, outPath, resuming,
                                             parse.GetValue(backend) ?? "auto", threadCount, chunkSize, parse.GetValue(keepModels), shard);
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
                stdout.WriteLine($"shard: models [{shard!.Value.Start}, {shard.Value.End}) of {modelCount + selection} done in {outPath}");
                stdout.WriteLine($"combine the shards (together covering [0, {modelCount + selection})) with: nativecert merge --out DIR SHARD_DIR...");
                return ExitCodes.Success;
            }
            stdout.Write(report.Text);
            stdout.WriteLine($"run directory: {outPath}");
            return ExitCodes.Success;
        });
        return cmd;
    }


    /// <summary>
    /// Re-parses the command line with every option the user did not give taken from the stored run's config.json
    /// (canonical text), so that <c>certify --out DIR --resume</c> needs nothing else; options given explicitly win
    /// and are then checked against the run like any other.
    /// </summary>
    private static ParseResult WithStoredOptions(Command cmd, ParseResult given, string dir)
    {
        string configPath = new RunDirectory(dir).ConfigPath;
        if (!File.Exists(configPath)) return given; // the pipeline reports the missing run
        RunConfig stored = RunConfig.Read(configPath);
        var args = new List<string>();
        foreach (Option option in cmd.Options)
        {
            if (given.GetResult(option) is { Implicit: false }) continue;
            if (!stored.Options.TryGetValue(option.Name, out string? value) || value.Length == 0) continue;
            if (option is Option<bool>)
            {
                if (value == "true") args.Add(option.Name);
                continue;
            }
            args.Add(option.Name);
            args.Add(value);
        }
        // The user's own tokens after the command name, as typed.
        bool afterCommand = false;
        foreach (var token in given.Tokens)
        {
            if (afterCommand) args.Add(token.Value);
            else if (token.Type == System.CommandLine.Parsing.TokenType.Command && token.Value == cmd.Name) afterCommand = true;
        }
        ParseResult merged = cmd.Parse(args);
        if (merged.Errors.Count > 0)
            throw new UserInputException($"--resume: options stored in {configPath} do not parse: {merged.Errors[0].Message}");
        return merged;
    }

    /// <summary>Whether the run in <paramref name="dir"/> has a config.json whose options lack <paramref name="option"/> (a run from an older version).</summary>
    private static bool StoredRunLacks(string dir, string option)
    {
        string configPath = new RunDirectory(dir).ConfigPath;
        return File.Exists(configPath) && !RunConfig.Read(configPath).Options.ContainsKey(option);
    }

    private static float Positive(float v, string option) =>
        v > 0 && float.IsFinite(v) ? v : throw new UserInputException($"{option} {Inv(v)}: must be a positive number");
    private static int AtLeast(int v, int min, string option) =>
        v >= min ? v : throw new UserInputException($"{option} {v}: must be at least {min}");

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

    private static string Inv(double v) => v.ToString(CultureInfo.InvariantCulture);
}

using System.CommandLine;
using System.Globalization;
using System.Text;
using NativeCert.Certification;
using NativeCert.Cli.Options;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.IO;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert train</c>: train a noisy ensemble on the CPU and keep it in an <see cref="EnsembleFile"/>;
/// <c>nativecert vote</c>: let a kept ensemble vote on a dataset's rows (each model with its own test noise).
/// </summary>
internal static class EnsembleCommands
{
    public static Command CreateTrain()
    {
        var cmd = new Command("train", "Train N noisy models (on any backend) and save them as an ensemble file");
        var data = new DataOptions();
        data.AddTo(cmd);
        var model = new ModelOptions();
        model.AddTo(cmd);
        var models = new Option<int>("--models") { Description = "Number of models N", DefaultValueFactory = _ => 100 };
        var modelStart = new Option<int>("--model-start") { Description = "Index of the first model (noise streams are keyed by it)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all logical processors)", DefaultValueFactory = _ => 0 };
        var backendName = new Option<string>("--backend") { Description = $"Engine: {string.Join(", ", NativeCert.Kernels.BackendFactory.Names)}", DefaultValueFactory = _ => "cpu" };
        var output = new Option<string>("--out") { Description = "Ensemble file to write", Required = true };
        foreach (var o in new Option[] { models, modelStart, threads, backendName, output }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) =>
        {
            int n = parse.GetValue(models), m0 = parse.GetValue(modelStart), t = parse.GetValue(threads);
            if (n < 1) throw new UserInputException("--models: must be at least 1");
            if (m0 < 0) throw new UserInputException("--model-start: must be ≥ 0");
            // Model indices are int (noise streams are keyed by them): the last one must fit.
            if ((long)m0 + n > int.MaxValue)
                throw new UserInputException($"--model-start {m0}: with --models {n} the models would run past the largest model index {int.MaxValue - 1}");
            if (t < 0) throw new UserInputException("--threads: must be ≥ 0");
            string path = parse.GetValue(output)!;
            AtomicFile.CheckWritableFile(path, "--out");
            DataSplit split = data.Load(parse);
            var config = model.Read(parse, split.Train);
            var err = parse.InvocationConfiguration.Error;
            string engine = parse.GetValue(backendName) ?? "cpu";
            // Refuse a plan that cannot fit before the backend is set up (and says which it is).
            if (engine == "cpu") CpuMemoryPlan.CheckFits(config, split.Train.Count, inputRows: 0, t, n, keepParameters: true);
            using IEnsembleBackend backend = NativeCert.Kernels.BackendFactory.Create(engine, t, err);
            var progress = new ImmediateProgress<EnsembleProgress>(p => { if (p.ModelsDone % Math.Max(1, p.ModelsTotal / 10) == 0) err.WriteLine($"trained {p.ModelsDone}/{p.ModelsTotal} models"); });
            var ensemble = EnsembleFile.Train(backend, config, split.Train, m0, m0 + n, progress, ct, split.ClassIds);
            ensemble.Save(path);
            parse.InvocationConfiguration.Output.WriteLine($"saved {n} models ({config.Model}, sigma {config.Sigma.ToString(CultureInfo.InvariantCulture)}) trained on {split.Describe()} to {path}");
            return Task.FromResult(ExitCodes.Success);
        });
        return cmd;
    }

    public static Command CreateVote()
    {
        var cmd = new Command("vote", "Vote with a saved ensemble on a dataset's rows; writes votes.tsv (idx, set, label, models, per-class counts n_c), which certify-counts reads");
        var ensemblePath = new Option<string>("--ensemble") { Description = "Ensemble file written by `nativecert train`", Required = true };
        var data = new DataOptions();
        data.AddTo(cmd);
        var split = new Option<string>("--split") { Description = "Which rows vote: test or train", DefaultValueFactory = _ => "test" };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all logical processors)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "TSV file to write", Required = true };
        foreach (var o in new Option[] { ensemblePath, split, threads, output }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) =>
        {
            string path = parse.GetValue(output)!;
            string which = parse.GetValue(split) ?? "test";
            if (which is not ("test" or "train")) throw new UserInputException($"--split: '{which}' is not test or train");
            int t = parse.GetValue(threads);
            if (t < 0) throw new UserInputException("--threads: must be ≥ 0");
            string ensembleFile = parse.GetValue(ensemblePath)!;
            AtomicFile.CheckWritableFile(path, "--out", (ensembleFile, "--ensemble"));
            var ensemble = EnsembleFile.Load(ensembleFile);
            DataSplit loaded = data.Load(parse);
            Dataset rows = InEnsembleLabels(which == "test" ? loaded.Test : loaded.Train, loaded, ensemble, ensembleFile);
            var votes = ensemble.Vote(rows, t, cancellation: ct);
            WriteVotesTsv(path, rows, votes, which == "test" ? VoteCountsTsv.Clean : VoteCountsTsv.Train);
            int correct = 0;
            for (int i = 0; i < rows.Count; i++) if (TopClass(votes, i) == rows.Labels[i]) correct++;
            parse.InvocationConfiguration.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ensemble.ModelCount} models voted on {rows.Count} {which} rows of {loaded.Name}; majority vote accuracy {(rows.Count == 0 ? 0 : 100.0 * correct / rows.Count):F2}%; wrote {path}"));
            return Task.FromResult(ExitCodes.Success);
        });
        return cmd;
    }

    /// <summary>
    /// The rows relabelled to the ensemble's outputs: a row of original class id c gets the output that votes for c,
    /// so that labels and predictions compare (an ensemble of all ten MNIST digits voting on <c>--classes 1,7</c>
    /// labels those rows 1 and 7). A class the ensemble has no output for is refused. A file without class ids
    /// (version 1, or kept by certify --keep-models) is taken to have the data's labels as outputs, in order, which
    /// can hold only when the data have as many classes as it has outputs (trained on the same --classes).
    /// </summary>
    private static Dataset InEnsembleLabels(Dataset rows, DataSplit split, EnsembleFile ensemble, string ensembleFile)
    {
        int outputs = ensemble.Config.Model.Classes;
        if (ensemble.ClassIds is null)
        {
            if (split.ClassIds.Count != outputs)
                throw new UserInputException($"--classes: {split.Name} has {split.ClassIds.Count} classes but {ensembleFile} (which records no class ids: version 1, or kept by certify --keep-models) has {outputs} outputs; select the classes it was trained on, in order");
            return rows;
        }
        var outputOf = new int[split.ClassIds.Count];
        for (int label = 0; label < outputOf.Length; label++)
        {
            outputOf[label] = ensemble.OutputOfClassId(split.ClassIds[label]);
            if (outputOf[label] < 0)
                throw new UserInputException($"--classes: class {split.ClassIds[label]} of {split.Name} is not one of the classes of {ensembleFile} ({string.Join(",", ensemble.ClassIds)}); select them with --classes {string.Join(",", ensemble.ClassIds)}");
        }
        bool identity = outputs == outputOf.Length && outputOf.Select((o, i) => o == i).All(same => same);
        if (identity) return rows;
        return new Dataset(rows.Features, rows.Labels.Select(y => outputOf[y]).ToArray(), rows.Dimension, outputs, rows.Shape, rows.Source);
    }

    /// <summary>Reports on the calling worker thread, serialized (unlike Progress&lt;T&gt;, which posts to the thread pool and may report after the command has finished).</summary>
    private sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
    {
        private readonly Lock _lock = new();
        public void Report(T value) { lock (_lock) report(value); }
    }

    /// <summary>Class with the most votes, the lowest index on ties.</summary>
    public static int TopClass(VoteCounts votes, int row)
    {
        var r = votes.Row(row);
        int best = 0;
        for (int c = 1; c < r.Length; c++) if (r[c] > r[best]) best = c;
        return best;
    }

    /// <summary>votes.tsv (the format of <see cref="VoteCountsTsv"/>, as in a run directory), written atomically.</summary>
    public static void WriteVotesTsv(string path, Dataset rows, VoteCounts votes, string set) =>
        VoteCountsTsv.Write(path, rows.Labels, Enumerable.Repeat(set, rows.Count).ToArray(), votes);
}

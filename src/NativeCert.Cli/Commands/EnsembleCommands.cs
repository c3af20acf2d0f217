using System.CommandLine;
using System.Globalization;
using System.Text;
using NativeCert.Cli.Options;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert train</c>: train a noisy ensemble on the CPU and keep it in an <see cref="EnsembleFile"/>;
/// <c>nativecert vote</c>: let a kept ensemble vote on a dataset's rows (each model with its own test noise).
/// </summary>
public static class EnsembleCommands
{
    public static Command CreateTrain()
    {
        var cmd = new Command("train", "Train N noisy models on the CPU and save them as an ensemble file");
        var data = new DataOptions();
        data.AddTo(cmd);
        var model = new ModelOptions();
        model.AddTo(cmd);
        var models = new Option<int>("--models") { Description = "Number of models N", DefaultValueFactory = _ => 100 };
        var modelStart = new Option<int>("--model-start") { Description = "Index of the first model (noise streams are keyed by it)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "CPU threads (0 = all logical processors)", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Ensemble file to write", Required = true };
        foreach (var o in new Option[] { models, modelStart, threads, output }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) =>
        {
            int n = parse.GetValue(models), m0 = parse.GetValue(modelStart), t = parse.GetValue(threads);
            if (n < 1) throw new UserInputException("--models: must be at least 1");
            if (m0 < 0) throw new UserInputException("--model-start: must be ≥ 0");
            if (t < 0) throw new UserInputException("--threads: must be ≥ 0");
            string path = parse.GetValue(output)!;
            CheckOutputDirectory(path, "--out");
            DataSplit split = data.Load(parse);
            var config = model.Read(parse, split.Train);
            using var backend = new CpuEnsembleBackend(t);
            var err = parse.InvocationConfiguration.Error;
            var progress = new ImmediateProgress<EnsembleProgress>(p => { if (p.ModelsDone % Math.Max(1, p.ModelsTotal / 10) == 0) err.WriteLine($"trained {p.ModelsDone}/{p.ModelsTotal} models"); });
            var ensemble = EnsembleFile.Train(backend, config, split.Train, m0, m0 + n, progress, ct);
            ensemble.Save(path);
            parse.InvocationConfiguration.Output.WriteLine($"saved {n} models ({config.Model}, sigma {config.Sigma.ToString(CultureInfo.InvariantCulture)}) trained on {split.Describe()} to {path}");
            return Task.FromResult(ExitCodes.Success);
        });
        return cmd;
    }

    public static Command CreateVote()
    {
        var cmd = new Command("vote", "Vote with a saved ensemble on a dataset's rows; writes idx, label, prediction and per-class counts as TSV");
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
            CheckOutputDirectory(path, "--out");
            var ensemble = EnsembleFile.Load(parse.GetValue(ensemblePath)!);
            DataSplit loaded = data.Load(parse);
            Dataset rows = which == "test" ? loaded.Test : loaded.Train;
            if (rows.ClassCount > ensemble.Config.Model.Classes)
                throw new UserInputException($"--dataset: {rows.ClassCount} classes but the ensemble's models have {ensemble.Config.Model.Classes} outputs");
            var votes = ensemble.Vote(rows, t, cancellation: ct);
            WriteVotesTsv(path, rows, votes);
            int correct = 0;
            for (int i = 0; i < rows.Count; i++) if (TopClass(votes, i) == rows.Labels[i]) correct++;
            parse.InvocationConfiguration.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{ensemble.ModelCount} models voted on {rows.Count} {which} rows of {loaded.Name}; majority vote accuracy {(rows.Count == 0 ? 0 : 100.0 * correct / rows.Count):F2}%; wrote {path}"));
            return Task.FromResult(ExitCodes.Success);
        });
        return cmd;
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

    /// <summary>TSV: idx, label, prediction (most votes), then count_c for each class; written atomically.</summary>
    public static void WriteVotesTsv(string path, Dataset rows, VoteCounts votes)
    {
        var sb = new StringBuilder();
        sb.Append("idx\tlabel\tprediction");
        for (int c = 0; c < votes.Classes; c++) sb.Append("\tcount_").Append(c.ToString(CultureInfo.InvariantCulture));
        sb.Append('\n');
        for (int i = 0; i < rows.Count; i++)
        {
            sb.Append(i.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(rows.Labels[i].ToString(CultureInfo.InvariantCulture))
              .Append('\t').Append(TopClass(votes, i).ToString(CultureInfo.InvariantCulture));
            foreach (uint v in votes.Row(i)) sb.Append('\t').Append(v.ToString(CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        DataFiles.WriteAtomic(path, Encoding.UTF8.GetBytes(sb.ToString()));
    }

    private static void CheckOutputDirectory(string path, string option)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null && !Directory.Exists(dir)) throw new UserInputException($"{option}: directory of {path} does not exist");
    }
}

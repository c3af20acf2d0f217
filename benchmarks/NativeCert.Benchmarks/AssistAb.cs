using System.Diagnostics;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `-- ab assist [ROUNDS] [MODELS] [THREADS]`: the `nativecert bench` run (MLP 784-128-10, 8,000 rows, batch 128, 5
/// epochs, default 8 models on every core) with idle workers helping the last models (B,
/// <see cref="CpuEnsembleBackend.AssistsLastModels"/>) or not (A), alternated A B, B A, … on the wall clock (the two
/// threads' end is what the knob changes); the median of each and of the per-round B/A ratio.
/// </summary>
internal static class AssistAb
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 11;
        int models = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 8;
        int threads = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var train = NativeCert.Data.DatasetCatalog.Load(NativeCert.Data.DatasetCatalog.DefaultSpec).Train;
        var config = new EnsembleConfig(ModelArchitecture.Mlp(784, [128], 10), TrainingDefaults.Options(epochs: 5), 0.25f, 1);
        if (args.Length > 3 && args[3] == "one")
        {
            // One model trained alone or with a second thread serving its parts from the first step: a helped model's speed.
            var isa = CpuIsa.Best;
            var trainer = new CpuTrainer(config, isa);
            double One(bool helped)
            {
                var assist = new CpuAssist();
                Thread? helper = null;
                if (helped && assist.TryClaim()) { helper = new Thread(() => assist.Serve(null)); helper.Start(); }
                trainer.Assist = helped ? assist : null;
                var sw = Stopwatch.StartNew();
                try { trainer.Train(train, 0); }
                finally { assist.Close(); helper?.Join(); }
                return sw.Elapsed.TotalSeconds;
            }
            One(false); One(true);
            var (oa, ob) = (new double[rounds], new double[rounds]);
            for (int r = 0; r < rounds; r++) { oa[r] = One(false); ob[r] = One(true); }
            Array.Sort(oa); Array.Sort(ob);
            Console.WriteLine($"1 model x 5 epochs ({CpuIsa.Name(isa)}): alone {oa[rounds / 2]:F3} s, helped by a second thread {ob[rounds / 2]:F3} s, {oa[rounds / 2] / ob[rounds / 2]:F2}x");
            return;
        }
        using var backend = new CpuEnsembleBackend(threads);
        var none = new NativeCert.Data.Dataset([], [], train.Dimension, train.ClassCount, train.Shape, "none");
        double Time(bool assist)
        {
            CpuEnsembleBackend.AssistsLastModels = assist;
            var sw = Stopwatch.StartNew();
            backend.Run(config, train, none, 0, models, new VoteCounts(0, 10));
            return sw.Elapsed.TotalSeconds;
        }
        Time(false); Time(true); // JIT tiering and first touch
        var (a, b, ratio) = (new double[rounds], new double[rounds], new double[rounds]);
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                if (r % 2 == 0) { a[r] = Time(false); b[r] = Time(true); }
                else { b[r] = Time(true); a[r] = Time(false); }
                ratio[r] = b[r] / a[r];
            }
        }
        finally { CpuEnsembleBackend.AssistsLastModels = true; }
        double Median(double[] x) { var s = (double[])x.Clone(); Array.Sort(s); return s[s.Length / 2]; }
        double epochs = models * 5.0;
        Console.WriteLine($"{models} models x 5 epochs on {threads} threads ({backend.Device}), {rounds} rounds: alone {Median(a):F3} s ({epochs / Median(a):F1} model-epochs/s), "
            + $"helped {Median(b):F3} s ({epochs / Median(b):F1}), median B/A time {Median(ratio):F3}");
    }
}

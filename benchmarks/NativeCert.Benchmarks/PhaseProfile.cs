using System.Diagnostics;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Noise;

namespace NativeCert.Benchmarks;

/// <summary>Single-thread Stopwatch timings of each phase of one model-epoch (784-128-10, batch 128, 8,000 rows): a quick look, not a benchmark.</summary>
internal static class PhaseProfile
{
    public static void Run()
    {
        const int B = 128, IN = 784, H = 128, C = 10, n = 8000;
        var rng = new Random(1);
        float[] R(int len) { var a = new float[len]; for (int i = 0; i < len; i++) a[i] = rng.NextSingle() - 0.5f; return a; }
        var x = R(B * IN); var w1 = R(IN * H); var b1 = R(H); var h = new float[B * H]; var dh = R(B * H); var dw1 = new float[IN * H]; var db1 = new float[H];
        var noisy = new float[IN];
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2 })
        {
            for (int rep = 0; rep < 3; rep++)
            {
                double Time(Action a, int reps) { a(); var sw = Stopwatch.StartNew(); for (int i = 0; i < reps; i++) a(); return sw.Elapsed.TotalMilliseconds / reps; }
                double fwd = Time(() => CpuKernels.MatmulForward(h, x, w1, b1, B, IN, H, true, isa), 200);
                double bwd = Time(() => CpuKernels.MatmulBackward(default, dw1, db1, dh, x, w1, default, B, IN, H, isa), 200);
                foreach (int chunk in new[] { 0, 32, 64, 0, 32, 64 })
                {
                    CpuGemm.KChunk512 = chunk;
                    Console.Write($" dW chunk {chunk}: {Time(() => CpuKernels.MatmulBackward(default, dw1, db1, dh, x, w1, default, B, IN, H, isa), 300) * 1000:F0} us;");
                }
                CpuGemm.KChunk512 = 64;
                Console.WriteLine();
                double noise = Time(() => { for (int j = 0; j < 1000; j++) CpuNoise.NoisyRow(noisy, x.AsSpan(0, IN), 0.5f, 1, NoiseStream.TrainingNoise, 0, (uint)j, isa); }, 5) * n / 1000;
                double gf = 2.0 * B * IN * H / 1e6;
                var big = R(n * IN); var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray(); var xb = new float[B * IN];
                double gather = Time(() => { for (int b = 0; b < B; b++) Array.Copy(big, perm[b + 1000] * IN, xb, b * IN, IN); }, 200);
                var p = R(101770); var v = R(101770); var g = R(101770);
                double sgd = Time(() => CpuKernels.SgdMomentumUpdate(p, v, g, 0.01f, 0.9f, 5e-4f, isa), 200);
                var logits = R(B * C); var dl = new float[B * C]; var losses = new float[B]; var labels = new int[B];
                double softmax = Time(() => CpuKernels.SoftmaxCrossEntropyBackward(dl, losses, logits, labels, B, C), 200);
                var w2 = R(H * C); var b2 = R(C); var o2 = new float[B * C]; var dw2 = new float[H * C]; var db2 = new float[C]; var dx2 = new float[B * H]; var wt = new float[H * C];
                double layer2 = Time(() => { CpuKernels.MatmulForward(o2, h, w2, b2, B, H, C, false, isa); CpuKernels.MatmulBackward(dx2, dw2, db2, dl, h, w2, wt, B, H, C, isa); CpuKernels.ReluBackward(dx2, dx2, h, B * H, isa); }, 200);
                Console.WriteLine($"{isa}: per batch: gather {gather * 1000:F1} us, sgd {sgd * 1000:F1} us, softmax {softmax * 1000:F1} us, layer2 fwd+bwd+relu {layer2 * 1000:F1} us");
                Console.WriteLine($"{isa}: forward 128x784x128 {fwd:F3} ms ({gf / fwd:F1} GFLOP/s), dW {bwd:F3} ms ({gf / bwd:F1} GFLOP/s), noise for 8000x784 {noise:F2} ms");
            }
            var config = new EnsembleConfig(ModelArchitecture.Mlp(IN, [H], C), TrainingDefaults.Options(epochs: 5), 0.25f, 1);
            var train = EnsembleBenchmark.RandomData(n, IN, C);
            var trainer = new CpuTrainer(config, isa);
            trainer.Train(train, 0);
            var sw2 = Stopwatch.StartNew();
            trainer.Train(train, 1);
            double perModel = sw2.Elapsed.TotalMilliseconds;
            var sw3 = Stopwatch.StartNew();
            trainer.Train(train, 1 , null);
            Console.WriteLine($"{isa}: one model, 5 epochs, single thread: {perModel:F1} ms => {5000 / perModel:F1} model-epochs/s/thread");
        }
    }
}

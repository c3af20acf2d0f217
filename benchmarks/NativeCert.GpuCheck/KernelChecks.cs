using System.Text.Json.Nodes;
using ILGPU;
using ILGPU.Runtime;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Kernels.Device;
using NativeCert.Kernels.Engine;
using NativeCert.Noise;

namespace NativeCert.GpuCheck;

/// <summary>Sizes of one check run: the MLP D-H-C, batch B, training rows N, test inputs T.</summary>
internal readonly record struct CheckSizes(int D, int H, int C, int B, int N, int T)
{
    /// <summary>784-128-10, batch 128, the built-in MNIST split.</summary>
    public static readonly CheckSizes Full = new(784, 128, 10, 128, 8000, 2000);
    /// <summary>Crosses the 64-wide tiles and 16-deep inner tiles with ragged edges, small enough for the CPU accelerator.</summary>
    public static readonly CheckSizes Tiny = new(70, 67, 3, 9, 30, 12);

    public ModelArchitecture Shape => ModelArchitecture.Mlp(D, [H], C);

    /// <summary>The largest chunk the memory plan allows on <paramref name="accelerator"/> (at most <paramref name="cap"/>).</summary>
    public int LargestChunk(Accelerator accelerator, int cap) =>
        EnsembleMemoryPlan.Create(Shape, N, T, B, cap, IlgpuDevices.UsableMemoryBytes(accelerator)).ModelsPerChunk;
}

/// <summary>
/// Every training kernel on one accelerator against the CPU engine and the scalar reference, at full size: outputs
/// poisoned with NaN before each launch (an unwritten element shows), fresh random inputs drawn on the device,
/// models 0 and M−1 of the largest chunk compared on the host (the noise bit for bit).
/// </summary>
internal static class KernelChecks
{
    private const float Sigma = 0.25f, LearningRate = 0.1f, Momentum = 0.9f, WeightDecay = 5e-4f;
    /// <summary>‖out − ref‖₂ / ‖ref‖₂ allowed for an FP32 product against the double reference (FP32 lands far under).</summary>
    private const double GemmRelativeTolerance = 1e-5;

    public static (JsonObject Result, bool Passed) Run(Device device, bool tiny, int seedInt, TextWriter log)
    {
        var s = tiny ? CheckSizes.Tiny : CheckSizes.Full;
        var acc = device.Accelerator;
        var k = device.Kernels;
        var fill = new Fill(acc);
        var layout = new ParameterLayout(s.Shape);
        int p = layout.Count;
        int m = s.LargestChunk(acc, tiny ? 3 : 1 << 20);
        int[] compared = m > 1 ? [0, m - 1] : [0];
        uint seed = (uint)seedInt;
        ulong noiseSeed = 0x5EED_0000_0000UL | seed;
        var checks = new JsonArray();
        bool passed = true;
        void Record(JsonObject c)
        {
            passed &= c["ok"]!.GetValue<bool>();
            checks.Add(c);
            log.WriteLine($"check {c["kernel"]}{(c["variant"] is { } v ? " " + v : "")}: {(c["ok"]!.GetValue<bool>() ? "ok" : "FAILED")}");
        }
        log.WriteLine($"check: {s.Shape}, batch {s.B}, {s.N} training rows, {s.T} inputs, M = {m} models (models {string.Join(", ", compared)} compared), seed {seed}");

        var (train, inputs) = Data(s, tiny, seed);
        using var features = acc.Allocate1D(train.Features);
        using var labels = acc.Allocate1D(train.Labels);
        using var testFeatures = acc.Allocate1D(inputs.Features);
        using var heScale = acc.Allocate1D(layout.HeScale());
        using var parameters = acc.Allocate1D<float>((long)m * p);
        using var gradients = acc.Allocate1D<float>((long)m * p);
        using var velocity = acc.Allocate1D<float>((long)m * p);
        using var perm = acc.Allocate1D<int>((long)m * s.N);
        using var x = acc.Allocate1D<float>((long)m * s.B * s.D);
        using var dx = acc.Allocate1D<float>((long)m * s.B * s.D);
        using var y = acc.Allocate1D<float>((long)m * s.B * s.H);
        using var dy = acc.Allocate1D<float>((long)m * s.B * s.H);
        using var logits = acc.Allocate1D<float>((long)m * s.B * s.C);
        using var loss = acc.Allocate1D<float>((long)m * s.B);
        using var votes = acc.Allocate1D<uint>((long)s.T * s.C);

        // He init: bit for bit against CpuNoise (the same code on the host).
        fill.Poison(parameters.View);
        k.HeInit(new Index2D((p + 3) / 4, m), parameters.View, heScale.View, p, noiseSeed, 0);
        Record(BitCheck("HeInit", compared, fill.CountNaN(parameters.View), model =>
        {
            var want = new float[p];
            CpuNoise.HeInit(want, layout, noiseSeed, (uint)model, IsaLevel.Scalar);
            return (want, Fill.Download(parameters.View, (long)model * p, p));
        }));

        // Shuffle: the reference Fisher–Yates, exactly.
        const int epoch = 1;
        k.Shuffle(new Index1D(m), perm.View, s.N, epoch, noiseSeed, 0);
        acc.Synchronize();
        var permOf = new Dictionary<int, int[]>();
        int permMismatches = 0;
        foreach (int model in compared)
        {
            var got = new int[s.N];
            perm.View.SubView((long)model * s.N, s.N).CopyToCPU(got);
            var want = new int[s.N];
            ReferenceNoise.ShufflePermutation(want, noiseSeed, (uint)model, epoch);
            permMismatches += want.Where((w, i) => w != got[i]).Count();
            permOf[model] = got;
        }
        Record(new JsonObject { ["kernel"] = "Shuffle", ["models_compared"] = Models(compared), ["mismatches"] = permMismatches, ["ok"] = permMismatches == 0 });

        // Noisy training batch (the last, ragged-free batch start) and noisy test rows: bit for bit against CpuNoise.
        int blocksPerRow = (s.D + 3) / 4;
        int batchStart = s.N - s.B;
        fill.Poison(x.View);
        k.GatherNoisyTrainingRows(new Index1D(m * s.B * blocksPerRow), x.View, features.View, perm.View, batchStart, s.N, s.D, s.B, s.B, Sigma, noiseSeed, 0);
        Record(BitCheck("GatherNoisyTrainingRows", compared, fill.CountNaN(x.View), model =>
        {
            var want = new float[s.B * s.D];
            for (int r = 0; r < s.B; r++)
            {
                int j = permOf[model][batchStart + r];
                CpuNoise.NoisyRow(want.AsSpan(r * s.D, s.D), train.Row(j), Sigma, noiseSeed, NoiseStream.TrainingNoise, (uint)model, (uint)j, IsaLevel.Scalar);
            }
            return (want, Fill.Download(x.View, (long)model * s.B * s.D, s.B * s.D));
        }));
        int inputStart = s.T - s.B;
        fill.Poison(x.View);
        k.NoisyTestRows(new Index1D(m * s.B * blocksPerRow), x.View, testFeatures.View, inputStart, s.D, s.B, s.B, Sigma, noiseSeed, 0);
        Record(BitCheck("NoisyTestRows", compared, fill.CountNaN(x.View), model =>
        {
            var want = new float[s.B * s.D];
            for (int r = 0; r < s.B; r++)
                CpuNoise.NoisyRow(want.AsSpan(r * s.D, s.D), inputs.Row(inputStart + r), Sigma, noiseSeed, NoiseStream.TestNoise, (uint)model, (uint)(inputStart + r), IsaLevel.Scalar);
            return (want, Fill.Download(x.View, (long)model * s.B * s.D, s.B * s.D));
        }));

        // GEMMs on fresh random inputs, every variant, against a double reference.
        uint sx = seed * 4 + 1, sp = seed * 4 + 2, sdy = seed * 4 + 3;
        fill.Uniform(x.View, sx);
        fill.Uniform(parameters.View, sp);
        fill.Uniform(dy.View, sdy);
        var hostX = compared.ToDictionary(c => c, c => Fill.HostUniform((long)c * s.B * s.D, s.B * s.D, sx));
        var hostP = compared.ToDictionary(c => c, c => Fill.HostUniform((long)c * p, p, sp));
        var hostDy = compared.ToDictionary(c => c, c => Fill.HostUniform((long)c * s.B * s.H, s.B * s.H, sdy));
        var none = new GemmEpilogue(GemmEpilogue.None, 0, 0);
        int w0 = layout.WeightOffset(0), b0 = layout.BiasOffset(0), w1 = layout.WeightOffset(1), b1 = layout.BiasOffset(1);
        foreach (var variant in Enum.GetValues<GemmKernels.Variant>())
        {
            // forward hidden: Y = ReLU(X·W0 + b0)
            fill.Poison(y.View);
            k.BatchedGemm(m, y.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H), x.View, MatrixLayout.RowMajor(0, (long)s.B * s.D, s.D),
                          parameters.View, MatrixLayout.RowMajor(w0, p, s.H), new GemmSize(s.B, s.D, s.H),
                          new GemmEpilogue(GemmEpilogue.BiasRelu, b0, p), parameters.View, variant);
            Record(GemmCheck("forward X*W0+b0, ReLU", variant, compared, fill.CountNaN(y.View), 0, model =>
                (Product(hostX[model], 0, s.D, 1, hostP[model], w0, s.H, 1, s.B, s.D, s.H, hostP[model].AsSpan(b0, s.H).ToArray(), relu: true),
                 Fill.Download(y.View, (long)model * s.B * s.H, s.B * s.H))));
            // logits: L = Y·W1 + b1 (Y is the forward output above, downloaded per model)
            var hostY = compared.ToDictionary(c => c, c => Fill.Download(y.View, (long)c * s.B * s.H, s.B * s.H));
            fill.Poison(logits.View);
            k.BatchedGemm(m, logits.View, MatrixLayout.RowMajor(0, (long)s.B * s.C, s.C), y.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H),
                          parameters.View, MatrixLayout.RowMajor(w1, p, s.C), new GemmSize(s.B, s.H, s.C),
                          new GemmEpilogue(GemmEpilogue.Bias, b1, p), parameters.View, variant);
            Record(GemmCheck("logits Y*W1+b1", variant, compared, fill.CountNaN(logits.View), 0, model =>
                (Product(hostY[model], 0, s.H, 1, hostP[model], w1, s.C, 1, s.B, s.H, s.C, hostP[model].AsSpan(b1, s.C).ToArray(), relu: false),
                 Fill.Download(logits.View, (long)model * s.B * s.C, s.B * s.C))));
            // weight gradient: dW0 = Xᵀ·dY into the flat gradients (only the W0 block of each model is written)
            fill.Poison(gradients.View);
            k.BatchedGemm(m, gradients.View, MatrixLayout.RowMajor(w0, p, s.H), x.View, MatrixLayout.Transposed(0, (long)s.B * s.D, s.D),
                          dy.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H), new GemmSize(s.D, s.B, s.H), none, gradients.View, variant);
            Record(GemmCheck("weight grad X^T*dY", variant, compared, fill.CountNaN(gradients.View), (long)m * (p - s.D * s.H), model =>
                (Product(hostX[model], 0, 1, s.D, hostDy[model], 0, s.H, 1, s.D, s.B, s.H, null, relu: false),
                 Fill.Download(gradients.View, (long)model * p + w0, s.D * s.H))));
            // input gradient: dX = dY·W0ᵀ
            fill.Poison(dx.View);
            k.BatchedGemm(m, dx.View, MatrixLayout.RowMajor(0, (long)s.B * s.D, s.D), dy.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H),
                          parameters.View, MatrixLayout.Transposed(w0, p, s.H), new GemmSize(s.B, s.H, s.D), none, parameters.View, variant);
            Record(GemmCheck("input grad dY*W0^T", variant, compared, fill.CountNaN(dx.View), 0, model =>
                (Product(hostDy[model], 0, s.H, 1, hostP[model], w0, 1, s.H, s.B, s.H, s.D, null, relu: false),
                 Fill.Download(dx.View, (long)model * s.B * s.D, s.B * s.D))));
        }

        // Bias gradient db0 = Σ_rows dY (into the poisoned gradients after the last dW).
        k.BiasGradient(new Index1D(m * s.H), gradients.View, b0, p, dy.View, s.B, s.H, s.B);
        Record(ToleranceCheck("BiasGradient", compared, 1e-5, model =>
        {
            var want = new float[s.H];
            for (int j = 0; j < s.H; j++)
            {
                double sum = 0;
                for (int r = 0; r < s.B; r++) sum += hostDy[model][r * s.H + j];
                want[j] = (float)sum;
            }
            return (want, Fill.Download(gradients.View, (long)model * p + b0, s.H));
        }));

        // ReLU backward on dY with the forward output Y as the mask (exact: dY or 0).
        var yBefore = compared.ToDictionary(c => c, c => Fill.Download(y.View, (long)c * s.B * s.H, s.B * s.H));
        long count = (long)m * s.B * s.H;
        k.ReluBackward(new Index1D((int)count), dy.View.SubView(0, count), y.View.SubView(0, count));
        Record(BitCheck("ReluBackward", compared, fill.CountNaN(dy.View), model =>
        {
            var want = new float[s.B * s.H];
            ReferenceMlp.ReluBackward(want, hostDy[model], yBefore[model], want.Length);
            return (want, Fill.Download(dy.View, (long)model * s.B * s.H, s.B * s.H));
        }));

        // Softmax cross-entropy on the logits of the last forward, labels through each model's permutation.
        var logitsBefore = compared.ToDictionary(c => c, c => Fill.Download(logits.View, (long)c * s.B * s.C, s.B * s.C));
        fill.Poison(loss.View);
        k.SoftmaxCrossEntropy(new Index1D(m * s.B), logits.View, loss.View, labels.View, perm.View, batchStart, s.N, s.B, s.C, s.B);
        Record(ToleranceCheck("SoftmaxCrossEntropy", compared, 1e-5, model =>
        {
            var want = new float[s.B * s.C];
            var wantLoss = new float[s.B];
            var rowLabels = new int[s.B];
            for (int r = 0; r < s.B; r++) rowLabels[r] = train.Labels[permOf[model][batchStart + r]];
            ReferenceMlp.SoftmaxCrossEntropyBackward(want, wantLoss, logitsBefore[model], rowLabels, s.B, s.C);
            return ([.. want, .. wantLoss],
                    [.. Fill.Download(logits.View, (long)model * s.B * s.C, s.B * s.C), .. Fill.Download(loss.View, (long)model * s.B, s.B)]);
        }, nanCount: fill.CountNaN(loss.View)));

        // SGD with momentum and weight decay over the flat (M, P) buffers.
        uint sv = seed * 4 + 4, sg = seed * 4 + 5;
        fill.Uniform(parameters.View, sp);
        fill.Uniform(velocity.View, sv);
        fill.Uniform(gradients.View, sg);
        k.SgdMomentum(new Index1D(checked(m * p)), parameters.View, velocity.View, gradients.View, LearningRate, Momentum, WeightDecay);
        Record(ToleranceCheck("SgdMomentum", compared, 1e-6, model =>
        {
            var w = Fill.HostUniform((long)model * p, p, sp);
            var v = Fill.HostUniform((long)model * p, p, sv);
            var g = Fill.HostUniform((long)model * p, p, sg);
            ReferenceMlp.SgdMomentumUpdate(w, v, g, LearningRate, Momentum, WeightDecay);
            return ([.. w, .. v], [.. Fill.Download(parameters.View, (long)model * p, p), .. Fill.Download(velocity.View, (long)model * p, p)]);
        }, nanCount: fill.CountNaN(parameters.View) + fill.CountNaN(velocity.View)));

        // The fused weight gradient + bias gradient + SGD (the trainer's dense backward) for layer 0, on the same
        // random X and a fresh dY: against dW, db and the SGD step computed on the host in double. Every model steps.
        uint sdz = seed * 4 + 7;
        fill.Uniform(dy.View, sdz);
        fill.Uniform(parameters.View, sp);
        fill.Uniform(velocity.View, sv);
        var step = new SgdStep(Momentum, WeightDecay);
        var dwSize = new GemmSize(s.D, s.B, s.H);
        using var rowCounts = acc.Allocate1D(Enumerable.Repeat(s.B, m).ToArray());
        using var rates = acc.Allocate1D(Enumerable.Repeat(LearningRate, m).ToArray());
        k.WeightGradientSgd(Gemm128Kernels.Config(dwSize, m), parameters.View, velocity.View, MatrixLayout.RowMajor(w0, p, s.H), b0,
                            x.View, MatrixLayout.Transposed(0, (long)s.B * s.D, s.D), dy.View, MatrixLayout.RowMajor(0, (long)s.B * s.H, s.H), dwSize, step,
                            new StepMask(rowCounts.View, 0, rates.View));
        var fusedCheck = ToleranceCheck("BatchedWeightGradientSgd", compared, 1e-5, model =>
        {
            var w = Fill.HostUniform((long)model * p, p, sp);
            var v = Fill.HostUniform((long)model * p, p, sv);
            var dzHost = Fill.HostUniform((long)model * s.B * s.H, s.B * s.H, sdz);
            var g = new float[p];
            Product(hostX[model], 0, 1, s.D, dzHost, 0, s.H, 1, s.D, s.B, s.H, null, relu: false).CopyTo(g, w0);
            for (int j = 0; j < s.H; j++)
            {
                double sum = 0;
                for (int r = 0; r < s.B; r++) sum += dzHost[r * s.H + j];
                g[b0 + j] = (float)sum;
            }
            // Only W0 and b0 are the kernel's; compare those.
            var wantW = w[w0..(b0 + s.H)];
            var wantV = v[w0..(b0 + s.H)];
            ReferenceMlp.SgdMomentumUpdate(wantW, wantV, g[w0..(b0 + s.H)], LearningRate, Momentum, WeightDecay);
            return ([.. wantW, .. wantV], [.. Fill.Download(parameters.View, (long)model * p + w0, b0 + s.H - w0),
                                           .. Fill.Download(velocity.View, (long)model * p + w0, b0 + s.H - w0)]);
        });
        fusedCheck["note"] = "fused dW + db + SGD kernel, not yet used by the trainer";
        Record(fusedCheck);

        // Votes: every model's argmax over fresh random logits, counted with atomics, against the host's count.
        uint sl = seed * 4 + 6;
        fill.Uniform(logits.View, sl);
        votes.MemSetToZero();
        int voteRows = Math.Min(s.B, s.T);
        k.ArgmaxVote(new Index1D(m * voteRows), votes.View, logits.View, 0, voteRows, s.C, s.B);
        acc.Synchronize();
        var gotVotes = votes.GetAsArray1D();
        var wantVotes = new uint[s.T * s.C];
        var row = new float[s.C];
        for (int model = 0; model < m; model++)
            for (int r = 0; r < voteRows; r++)
            {
                for (int c = 0; c < s.C; c++) row[c] = HarnessKernels.Value(((long)model * s.B + r) * s.C + c, sl);
                wantVotes[r * s.C + ReferenceMlp.Argmax(row)]++;
            }
        int voteMismatches = wantVotes.Where((w, i) => w != gotVotes[i]).Count();
        Record(new JsonObject { ["kernel"] = "ArgmaxVote", ["models_compared"] = $"all {m}", ["mismatches"] = voteMismatches, ["ok"] = voteMismatches == 0 });

        var result = new JsonObject
        {
            ["accelerator"] = device.Accelerator.Name,
            ["sizes"] = tiny ? "tiny" : "full",
            ["shape"] = s.Shape.ToString(),
            ["batch"] = s.B,
            ["train_rows"] = s.N,
            ["inputs"] = s.T,
            ["largest_chunk_models"] = m,
            ["seed"] = seed,
            ["checks"] = checks,
        };
        return (result, passed);
    }

    private static (Dataset Train, Dataset Inputs) Data(CheckSizes s, bool tiny, uint seed)
    {
        if (!tiny)
        {
            var split = DatasetCatalog.Load("mnist");
            return (split.Train, split.Test);
        }
        // Tiny: random features in [0, 1), random labels.
        Dataset Random(int n, int salt)
        {
            var f = Fill.HostUniform(0, n * s.D, seed + (uint)salt).Select(v => 0.5f + 0.5f * v).ToArray();
            var y = Enumerable.Range(0, n).Select(i => (int)((uint)(i * 2654435761u + seed) % (uint)s.C)).ToArray();
            return new Dataset(f, y, s.D, s.C, null, $"random {n}x{s.D}");
        }
        return (Random(s.N, 11), Random(s.T, 12));
    }

    private static JsonArray Models(int[] compared) => [.. compared.Select(c => (JsonNode)c)];

    /// <summary>C (rows, cols) = A·B (+ bias, ReLU) in double; A[i,k] at aOff + i·aRow + k·aCol, B[k,j] likewise.</summary>
    private static float[] Product(float[] a, int aOff, int aRow, int aCol, float[] b, int bOff, int bRow, int bCol,
                                   int rows, int inner, int cols, float[]? bias, bool relu)
    {
        var c = new float[rows * cols];
        Parallel.For(0, rows, i =>
        {
            for (int j = 0; j < cols; j++)
            {
                double sum = bias?[j] ?? 0;
                for (int q = 0; q < inner; q++) sum += (double)a[aOff + i * aRow + q * aCol] * b[bOff + q * bRow + j * bCol];
                c[i * cols + j] = (float)(relu ? Math.Max(sum, 0) : sum);
            }
        });
        return c;
    }

    private static JsonObject BitCheck(string kernel, int[] compared, long nanCount, Func<int, (float[] Want, float[] Got)> pair)
    {
        long differing = 0;
        foreach (int model in compared)
        {
            var (want, got) = pair(model);
            for (int i = 0; i < want.Length; i++)
                if (BitConverter.SingleToInt32Bits(want[i]) != BitConverter.SingleToInt32Bits(got[i])) differing++;
        }
        return new JsonObject
        {
            ["kernel"] = kernel, ["models_compared"] = Models(compared), ["compare"] = "bit-identical to the CPU engine",
            ["differing_elements"] = differing, ["unwritten_nan"] = nanCount, ["ok"] = differing == 0 && nanCount == 0,
        };
    }

    private static JsonObject GemmCheck(string product, GemmKernels.Variant variant, int[] compared, long nanCount, long expectedNaN,
                                        Func<int, (float[] Want, float[] Got)> pair)
    {
        var c = ToleranceCheck("BatchedGemm", compared, GemmRelativeTolerance, pair, nanCount - expectedNaN, relative: true);
        c["product"] = product;
        c["variant"] = variant.ToString();
        return c;
    }

    private static JsonObject ToleranceCheck(string kernel, int[] compared, double tolerance, Func<int, (float[] Want, float[] Got)> pair,
                                             long nanCount = 0, bool relative = false)
    {
        double worstRelative = 0, worstAbsolute = 0;
        foreach (int model in compared)
        {
            var (want, got) = pair(model);
            double diff = 0, norm = 0;
            for (int i = 0; i < want.Length; i++)
            {
                double d = (double)got[i] - want[i];
                if (double.IsNaN(d)) d = double.PositiveInfinity;
                diff += d * d;
                norm += (double)want[i] * want[i];
                worstAbsolute = Math.Max(worstAbsolute, Math.Abs(d));
            }
            worstRelative = Math.Max(worstRelative, norm > 0 ? Math.Sqrt(diff / norm) : Math.Sqrt(diff));
        }
        double measure = relative ? worstRelative : worstAbsolute;
        return new JsonObject
        {
            ["kernel"] = kernel, ["models_compared"] = Models(compared),
            ["compare"] = relative ? "relative L2 error vs double reference" : "max absolute error vs reference",
            ["relative_l2_error"] = worstRelative, ["max_abs_error"] = worstAbsolute, ["tolerance"] = tolerance,
            ["unwritten_nan"] = nanCount, ["ok"] = measure <= tolerance && nanCount == 0,
        };
    }
}

using NativeCert.Data;
using NativeCert.Noise;

namespace NativeCert.Engine.Reference;

/// <summary>
/// Model m trained and voted exactly as docs/engine.md says, with the scalar reference layers: slow, plain,
/// and the oracle for the SIMD and ILGPU engines. Keeps a noisy copy of the whole training set (fine for the
/// small sets tests use).
/// </summary>
public static class ReferenceTrainer
{
    /// <summary>
    /// Trains model <paramref name="model"/> and returns its flat parameters (see <see cref="ParameterLayout"/>). The
    /// model trains on its view of <paramref name="train"/> (<see cref="EnsembleConfig.View"/>): view row j is training
    /// row rows[j], noised as row j.
    /// </summary>
    public static float[] Train(EnsembleConfig config, Dataset train, int model, List<float>? epochLosses = null)
    {
        var layout = new ParameterLayout(config.Shape);
        CheckShape(layout, train);
        var opt = config.Training;
        uint m = (uint)model;
        int[]? rows = config.View.Bind(train, config.Seed).Of(model);
        if (rows is not null) train = train.Select(rows);
        int D = train.Dimension, n = train.Count, L = layout.Layers;

        float[] noisy = ReferenceNoise.NoisyTrainingCopy(train, config.Sigma, config.Seed, m); // (n, D)
        float[] parameters = new float[layout.Count];
        float[] gradients = new float[layout.Count];
        float[] velocity = new float[layout.Count];
        ReferenceNoise.HeInit(parameters, layout, config.Seed, m);

        int maxB = Math.Max(1, Math.Min(opt.BatchSize, n));
        // acts[l] (maxB, width_l): acts[0] the batch input, acts[l>0] post-ReLU hidden, acts[L] logits.
        var acts = new float[L + 1][];
        var dacts = new float[L + 1][];
        for (int l = 0; l <= L; l++) { acts[l] = new float[maxB * layout.Widths[l]]; dacts[l] = new float[maxB * layout.Widths[l]]; }
        int[] labels = new int[maxB];
        float[] losses = new float[maxB];
        int[] permutation = new int[n];

        for (int epoch = 0; epoch < opt.Epochs && n > 0; epoch++)
        {
            ReferenceNoise.ShufflePermutation(permutation, config.Seed, m, (uint)epoch);
            double lossSum = 0;
            for (int start = 0; start < n; start += opt.BatchSize)
            {
                int B = Math.Min(opt.BatchSize, n - start);
                for (int b = 0; b < B; b++)
                {
                    int j = permutation[start + b];
                    noisy.AsSpan(j * D, D).CopyTo(acts[0].AsSpan(b * D, D));
                    labels[b] = train.Labels[j];
                }
                Forward(acts, parameters, layout, B);
                int C = layout.Widths[L];
                ReferenceMlp.SoftmaxCrossEntropyBackward(dacts[L], losses, acts[L], labels, B, C);
                for (int b = 0; b < B; b++) lossSum += losses[b];
                for (int l = L - 1; l >= 0; l--)
                {
                    int IN = layout.In(l), OUT = layout.Out(l);
                    Span<float> dinput = l > 0 ? dacts[l].AsSpan(0, B * IN) : default;
                    ReferenceMlp.MatmulBackward(dinput, layout.Weight(gradients, l), layout.Bias(gradients, l),
                        dacts[l + 1], acts[l], layout.Weight(parameters, l), B, IN, OUT);
                    if (l > 0) ReferenceMlp.ReluBackward(dinput, dinput, acts[l], B * IN);
                }
                ReferenceMlp.SgdMomentumUpdate(parameters, velocity, gradients, opt.LearningRate, opt.Momentum, opt.WeightDecay);
            }
            epochLosses?.Add((float)(lossSum / n));
        }
        return parameters;
    }

    /// <summary>Forward pass of B rows held in acts[0]; fills acts[1..L] (hidden post-ReLU, then logits).</summary>
    public static void Forward(float[][] acts, ReadOnlySpan<float> parameters, ParameterLayout layout, int B)
    {
        int L = layout.Layers;
        for (int l = 0; l < L; l++)
        {
            int IN = layout.In(l), OUT = layout.Out(l);
            ReferenceMlp.MatmulForward(acts[l + 1], acts[l], parameters.Slice(layout.WeightOffset(l), IN * OUT),
                parameters.Slice(layout.BiasOffset(l), OUT), B, IN, OUT);
            if (l + 1 < L) ReferenceMlp.ReluForward(acts[l + 1], acts[l + 1], B * OUT);
        }
    }

    /// <summary>Logits <c>(C)</c> of one input row under the given parameters (no noise added here).</summary>
    public static float[] Logits(ReadOnlySpan<float> parameters, ParameterLayout layout, ReadOnlySpan<float> x)
    {
        var acts = new float[layout.Layers + 1][];
        for (int l = 0; l <= layout.Layers; l++) acts[l] = new float[layout.Widths[l]];
        x.CopyTo(acts[0]);
        Forward(acts, parameters, layout, 1);
        return acts[layout.Layers];
    }

    /// <summary>
    /// Adds model m's vote on every input row, each with its one test-noise draw x_t + σ·z(TestNoise, m, t, f),
    /// into <paramref name="votes"/> <c>(T, C)</c>.
    /// </summary>
    public static void Vote(EnsembleConfig config, ReadOnlySpan<float> parameters, Dataset inputs, int model, VoteCounts votes)
    {
        var layout = new ParameterLayout(config.Shape);
        CheckShape(layout, inputs);
        var noisy = new float[inputs.Dimension];
        for (int t = 0; t < inputs.Count; t++)
        {
            ReferenceNoise.NoisyRow(noisy, inputs.Row(t), config.Sigma, config.Seed, NoiseStream.TestNoise, (uint)model, (uint)t);
            votes[t, ReferenceMlp.Argmax(Logits(parameters, layout, noisy))]++;
        }
    }

    /// <summary>Trains and votes models [m0, m1), the reference of <see cref="IEnsembleBackend.Run"/>.</summary>
    public static void Run(EnsembleConfig config, Dataset train, Dataset inputs, int m0, int m1, VoteCounts votes)
    {
        for (int m = m0; m < m1; m++) Vote(config, Train(config, train, m), inputs, m, votes);
    }

    internal static void CheckShape(ParameterLayout layout, Dataset data)
    {
        if (data.Dimension != layout.Widths[0])
            throw new ArgumentException($"{data.Source}: {data.Dimension} features but the model takes {layout.Widths[0]}");
        if (data.ClassCount > layout.Widths[^1])
            throw new ArgumentException($"{data.Source}: {data.ClassCount} classes but the model has {layout.Widths[^1]} outputs");
    }
}

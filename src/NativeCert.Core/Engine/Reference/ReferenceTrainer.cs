using NativeCert.Data;
using NativeCert.Noise;

namespace NativeCert.Engine.Reference;

/// <summary>
/// Model m trained and voted exactly as docs/engine.md says, with the scalar reference layers: slow, plain,
/// and the oracle for the SIMD and ILGPU engines. Keeps a noisy copy of the whole training set (fine for the
/// small sets tests use).
/// </summary>
internal static class ReferenceTrainer
{
    /// <summary>
    /// Trains model <paramref name="model"/> and returns its flat parameters (see <see cref="ParameterLayout"/>). The
    /// model trains on its view of <paramref name="train"/> (<see cref="EnsembleConfig.View"/>): view row j is training
    /// row rows[j], noised as row j.
    /// </summary>
    public static float[] Train(EnsembleConfig config, Dataset train, int model, List<float>? epochLosses = null)
    {
        var layout = new ParameterLayout(config.Model);
        CheckShape(layout, train);
        var opt = config.Training;
        uint m = (uint)model;
        int[]? rows = config.View.Bind(train, config.Seed).Of(model);
        if (rows is not null) train = train.Select(rows);
        int D = train.Dimension, n = train.Count;

        float[] noisy = ReferenceNoise.NoisyTrainingCopy(train, config.Sigma, config.Seed, m); // (n, D)
        float[] parameters = new float[layout.Count];
        float[] gradients = new float[layout.Count];
        float[] velocity = new float[layout.Count];
        ReferenceNoise.HeInit(parameters, layout, config.Seed, m);

        int maxB = Math.Max(1, Math.Min(opt.BatchSize, n));
        var acts = Activations(config.Model, maxB);
        var dacts = Activations(config.Model, maxB);
        int[] labels = new int[maxB];
        float[] losses = new float[maxB];
        int[] permutation = new int[n];
        long step = 0, warmupSteps = opt.WarmupSteps(n); // the model's own step index and warm-up (its own row count)

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
                int C = config.Model.Classes;
                ReferenceMlp.SoftmaxCrossEntropyBackward(dacts[^1], losses, acts[^1], labels, B, C);
                for (int b = 0; b < B; b++) lossSum += losses[b];
                Backward(acts, dacts, parameters, gradients, layout, B);
                ReferenceMlp.SgdMomentumUpdate(parameters, velocity, gradients, opt.LearningRateAt(step++, warmupSteps), opt.Momentum, opt.WeightDecay);
            }
            epochLosses?.Add((float)(lossSum / n));
        }
        return parameters;
    }

    /// <summary>
    /// Backward pass of B rows: with acts from <see cref="Forward"/> and the loss gradient in dacts[^1], runs the layer list
    /// reversed down to the first layer with parameters (its input needs no gradient) and fills <paramref name="gradients"/>.
    /// </summary>
    public static void Backward(float[][] acts, float[][] dacts, ReadOnlySpan<float> parameters, Span<float> gradients, ParameterLayout layout, int B)
    {
        var layers = layout.Model.Layers;
        int firstParameterLayer = layout.ModelLayer(0);
        // The forward list reversed, down to the first layer with parameters (its input needs no gradient).
        for (int i = layers.Count - 1; i >= firstParameterLayer; i--)
        {
            var layer = layers[i];
            var (inShape, outShape) = (layer.Input, layer.Output);
            Span<float> dinput = i > firstParameterLayer ? dacts[i].AsSpan(0, B * inShape.Size) : default;
            switch (layer.Spec.Kind)
            {
                case LayerKind.Dense:
                {
                    int l = layout.ParameterLayer(i);
                    ReferenceMlp.MatmulBackward(dinput, layout.Weight(gradients, l), layout.Bias(gradients, l),
                        dacts[i + 1], acts[i], parameters.Slice(layout.WeightOffset(l), layout.In(l) * layout.Out(l)), B, inShape.Size, outShape.Size);
                    break;
                }
                case LayerKind.Conv2d:
                {
                    int l = layout.ParameterLayer(i);
                    ReferenceConv.Conv2dBackward(dinput, layout.Weight(gradients, l), layout.Bias(gradients, l),
                        dacts[i + 1], acts[i], parameters.Slice(layout.WeightOffset(l), layout.In(l) * layout.Out(l)), B, inShape.Channels, inShape.Height, inShape.Width,
                        outShape.Channels, layer.Spec.Kernel, layer.Spec.Padding);
                    break;
                }
                case LayerKind.Relu:
                    ReferenceMlp.ReluBackward(dinput, dacts[i + 1], acts[i + 1], B * inShape.Size);
                    break;
                case LayerKind.MaxPool2d:
                    ReferenceConv.MaxPool2dBackward(dinput, dacts[i + 1], acts[i], B, inShape.Channels, inShape.Height, inShape.Width);
                    break;
                case LayerKind.Flatten: // (B, C, H, W) is (B, C·H·W) in memory
                    dacts[i + 1].AsSpan(0, B * inShape.Size).CopyTo(dinput);
                    break;
            }
        }
    }

    /// <summary>acts[i] (B, size_i): acts[0] the input, acts[i + 1] the output of layer i (the logits last).</summary>
    public static float[][] Activations(ModelArchitecture model, int B)
    {
        var acts = new float[model.Layers.Count + 1][];
        acts[0] = new float[B * model.InputSize];
        for (int i = 0; i < model.Layers.Count; i++) acts[i + 1] = new float[B * model.Layers[i].Output.Size];
        return acts;
    }

    /// <summary>Forward pass of B rows held in acts[0]: the layer list in order, acts[i + 1] = layer_i(acts[i]).</summary>
    public static void Forward(float[][] acts, ReadOnlySpan<float> parameters, ParameterLayout layout, int B)
    {
        var layers = layout.Model.Layers;
        for (int i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            var (inShape, outShape) = (layer.Input, layer.Output);
            switch (layer.Spec.Kind)
            {
                case LayerKind.Dense:
                {
                    int l = layout.ParameterLayer(i);
                    ReferenceMlp.MatmulForward(acts[i + 1], acts[i], parameters.Slice(layout.WeightOffset(l), layout.In(l) * layout.Out(l)),
                        parameters.Slice(layout.BiasOffset(l), layout.Out(l)), B, inShape.Size, outShape.Size);
                    break;
                }
                case LayerKind.Conv2d:
                {
                    int l = layout.ParameterLayer(i);
                    ReferenceConv.Conv2dForward(acts[i + 1], acts[i], parameters.Slice(layout.WeightOffset(l), layout.In(l) * layout.Out(l)),
                        parameters.Slice(layout.BiasOffset(l), layout.Out(l)), B, inShape.Channels, inShape.Height, inShape.Width,
                        outShape.Channels, layer.Spec.Kernel, layer.Spec.Padding);
                    break;
                }
                case LayerKind.Relu:
                    ReferenceMlp.ReluForward(acts[i + 1], acts[i], B * inShape.Size);
                    break;
                case LayerKind.MaxPool2d:
                    ReferenceConv.MaxPool2dForward(acts[i + 1], acts[i], B, inShape.Channels, inShape.Height, inShape.Width);
                    break;
                case LayerKind.Flatten:
                    acts[i].AsSpan(0, B * inShape.Size).CopyTo(acts[i + 1]);
                    break;
            }
        }
    }

    /// <summary>Logits <c>(C)</c> of one input row under the given parameters (no noise added here).</summary>
    public static float[] Logits(ReadOnlySpan<float> parameters, ParameterLayout layout, ReadOnlySpan<float> x)
    {
        var acts = Activations(layout.Model, 1);
        x.CopyTo(acts[0]);
        Forward(acts, parameters, layout, 1);
        return acts[^1];
    }

    /// <summary>
    /// Adds model m's vote on every input row, each with its one test-noise draw x_t + σ·z(TestNoise, m, t, f),
    /// into <paramref name="votes"/> <c>(T, C)</c>.
    /// </summary>
    public static void Vote(EnsembleConfig config, ReadOnlySpan<float> parameters, Dataset inputs, int model, VoteCounts votes)
    {
        var layout = new ParameterLayout(config.Model);
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
        if (data.Dimension != layout.Model.InputSize)
            throw new ArgumentException($"{data.Source}: {data.Dimension} features but the model takes {layout.Model.InputSize}");
        if (data.ClassCount > layout.Model.Classes)
            throw new ArgumentException($"{data.Source}: {data.ClassCount} classes but the model has {layout.Model.Classes} outputs");
    }
}

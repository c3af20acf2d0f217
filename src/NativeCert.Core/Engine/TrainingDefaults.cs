namespace NativeCert.Engine;

/// <summary>
/// The one place default hyperparameters live (CLI defaults read these). Chosen on MNIST 8,000/2,000 with
/// σ = 0: one MLP 784-128-10 reaches the accuracy of the same PyTorch MLP (README, Results).
/// </summary>
internal static class TrainingDefaults
{
    /// <summary>Hidden layer widths of the default model, <c>mlp:128</c>.</summary>
    public static readonly int[] Hidden = [128];
    public const int Epochs = 10;
    public const int BatchSize = 128;
    /// <summary>SGD step η of an MLP (constant: no warm-up).</summary>
    public const float LearningRate = 0.1f;
    /// <summary>SGD step η of any model but an MLP (CNNs): the rate of the libtorch LeNet figure in issue 11.</summary>
    public const float ConvLearningRate = 0.05f;

    /// <summary>The default step for <paramref name="model"/>: <see cref="LearningRate"/> for an MLP, else <see cref="ConvLearningRate"/>.</summary>
    public static float LearningRateFor(ModelArchitecture model) => LearningRateFor(model.IsMlp);

    /// <summary>The default step of an MLP (<paramref name="mlp"/>) or of any other model: the one rule the engine, the CLI and the spec read.</summary>
    public static float LearningRateFor(bool mlp) => mlp ? LearningRate : ConvLearningRate;

    /// <summary>
    /// Linear learning-rate warm-up of any model but an MLP, in epochs (<see cref="TrainingOptions.LearningRateAt"/>):
    /// without it noisy LeNets collapse to constant predictors after their first large steps (README, "Certified
    /// accuracy: MLP against LeNet": 57 of 100 at σ = 1 and lr 0.05; with one warm-up epoch still 2 of 20, with two
    /// none of 20, and σ = 0 accuracy stays above the libtorch figure). MLPs keep a constant step (0), so their votes
    /// stay what they were.
    /// </summary>
    public const int ConvWarmupEpochs = 2;

    /// <summary>The default warm-up of <paramref name="model"/>: none for an MLP, else <see cref="ConvWarmupEpochs"/>.</summary>
    public static int WarmupEpochsFor(ModelArchitecture model) => WarmupEpochsFor(model.IsMlp);

    /// <summary>The default warm-up of an MLP (<paramref name="mlp"/>: none) or of any other model (<see cref="ConvWarmupEpochs"/>).</summary>
    public static int WarmupEpochsFor(bool mlp) => mlp ? 0 : ConvWarmupEpochs;

    /// <summary>Momentum μ (PyTorch semantics, no dampening).</summary>
    public const float Momentum = 0.9f;
    /// <summary>L2 weight decay λ added to the gradient (on weights and biases).</summary>
    public const float WeightDecay = 5e-4f;

    public static TrainingOptions Options(int? epochs = null, int? batchSize = null, float? learningRate = null,
        float? momentum = null, float? weightDecay = null, int warmupEpochs = 0) =>
        new(epochs ?? Epochs, batchSize ?? BatchSize, learningRate ?? LearningRate, momentum ?? Momentum, weightDecay ?? WeightDecay, warmupEpochs);

    /// <summary>The default training of <paramref name="model"/>: its kind's step and warm-up (<see cref="LearningRateFor(ModelArchitecture)"/>, <see cref="WarmupEpochsFor(ModelArchitecture)"/>).</summary>
    public static TrainingOptions OptionsFor(ModelArchitecture model, int? epochs = null, int? batchSize = null) =>
        Options(epochs, batchSize, LearningRateFor(model), warmupEpochs: WarmupEpochsFor(model));

    /// <summary>
    /// SGD steps each DPA partition or bagging model takes when <c>training.epochs</c> is not given: small training sets need many
    /// epochs to converge (8,000 rows in k = 50 partitions are 160 rows, 2 steps an epoch), so the defenses train for a
    /// step budget instead: epochs = ⌈steps / ⌈rows per model / batch⌉⌉.
    /// </summary>
    public const int DefenseSteps = 300;

    /// <summary>Epochs that give a model of <paramref name="rowsPerModel"/> rows about <see cref="DefenseSteps"/> SGD steps.</summary>
    public static int DefenseEpochs(long rowsPerModel, int batchSize)
    {
        long batches = Math.Max(1, (rowsPerModel + batchSize - 1) / batchSize);
        return (int)Math.Max(1, (DefenseSteps + batches - 1) / batches);
    }
}

namespace NativeCert.Engine;

/// <summary>
/// SGD with momentum and weight decay (PyTorch semantics): v = μv + (g + λw); w −= η_t v, with the step η_t of
/// <see cref="LearningRateAt"/>: a linear warm-up over the first <paramref name="WarmupEpochs"/> epochs of each model,
/// then the constant <paramref name="LearningRate"/> (0 warm-up epochs: constant from the first step).
/// </summary>
internal sealed record TrainingOptions(int Epochs, int BatchSize, float LearningRate, float Momentum, float WeightDecay, int WarmupEpochs = 0)
{
    /// <summary>
    /// SGD steps of one epoch of a model that trains on <paramref name="rows"/> rows: ⌈rows / batch⌉ (the last batch may
    /// be short; 0 rows take no step).
    /// </summary>
    public long StepsPerEpoch(long rows) => (rows + BatchSize - 1) / BatchSize;

    /// <summary>Warm-up steps W of a model of <paramref name="rows"/> rows: <see cref="WarmupEpochs"/> · <see cref="StepsPerEpoch"/>.</summary>
    public long WarmupSteps(long rows) => WarmupEpochs * StepsPerEpoch(rows);

    /// <summary>
    /// The step η_t of a model's SGD step <paramref name="step"/> (t, 0-based over all its epochs: t = epoch · steps per
    /// epoch + batch index) when its warm-up lasts <paramref name="warmupSteps"/> steps (<see cref="WarmupSteps"/> of its
    /// own row count): η · (t + 1) / W for t + 1 &lt; W, else η exactly. Computed in double and rounded once to float,
    /// fl32(fl64(fl64(η · (t + 1)) / W)), on the host, so every tier uses the same float (docs/engine.md).
    /// </summary>
    public float LearningRateAt(long step, long warmupSteps) =>
        step + 1 >= warmupSteps ? LearningRate : (float)((double)LearningRate * (step + 1) / warmupSteps);
}

/// <summary>
/// Everything that determines model m's weights and votes, together with (m, data): the smoothing σ
/// (input units, on every training and test feature), the model (layer list and shapes), training, the seed, and
/// the training view (which rows each model trains on).
/// </summary>
internal sealed record EnsembleConfig(ModelArchitecture Model, TrainingOptions Training, float Sigma, ulong Seed)
{
    /// <summary>Rows each model trains on: every row in order (the smoothing ensemble), a DPA partition, or a bag.</summary>
    public NativeCert.Defenses.TrainingView View { get; init; } = NativeCert.Defenses.TrainingView.All;
}

/// <summary>Progress callback payload: models finished so far in this call.</summary>
internal readonly record struct EnsembleProgress(int ModelsDone, int ModelsTotal);

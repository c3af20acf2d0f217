namespace NativeCert.Engine;

/// <summary>SGD with momentum and weight decay (PyTorch semantics): v = μv + (g + λw); w −= η v.</summary>
internal sealed record TrainingOptions(int Epochs, int BatchSize, float LearningRate, float Momentum, float WeightDecay);

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

namespace NativeCert.Engine;

/// <summary>MLP layer widths: input, hidden layers (ReLU), classes (softmax).</summary>
public sealed record MlpShape(int Input, IReadOnlyList<int> Hidden, int Classes)
{
    /// <summary>Widths of every layer boundary: [Input, Hidden..., Classes].</summary>
    public int[] Widths() => [Input, .. Hidden, Classes];

    /// <summary>Multiply–adds of one forward pass of one example.</summary>
    public long ForwardMacs()
    {
        var w = Widths();
        long macs = 0;
        for (int l = 0; l + 1 < w.Length; l++) macs += (long)w[l] * w[l + 1];
        return macs;
    }

    public override string ToString() => string.Join("-", Widths());
}

/// <summary>SGD with momentum and weight decay (PyTorch semantics): v = μv + (g + λw); w −= η v.</summary>
public sealed record TrainingOptions(int Epochs, int BatchSize, float LearningRate, float Momentum, float WeightDecay);

/// <summary>
/// Everything that determines model m's weights and votes, together with (m, data): the smoothing σ
/// (input units, on every training and test feature), the model shape, training, the seed, and the training view
/// (which rows each model trains on).
/// </summary>
public sealed record EnsembleConfig(MlpShape Shape, TrainingOptions Training, float Sigma, ulong Seed)
{
    /// <summary>Rows each model trains on: every row in order (the smoothing ensemble), a DPA partition, or a bag.</summary>
    public NativeCert.Defenses.TrainingView View { get; init; } = NativeCert.Defenses.TrainingView.All;
}

/// <summary>Progress callback payload: models finished so far in this call.</summary>
public readonly record struct EnsembleProgress(int ModelsDone, int ModelsTotal);

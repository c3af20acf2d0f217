using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Defenses;

/// <summary>
/// Which defense a run uses and its parameters: smoothing (noise on training features; every model sees every row),
/// dpa (<see cref="Partitions"/> models, one per feature-hash partition) or bagging (models on bags of
/// <see cref="BagSize"/> rows). The one place a defense becomes engine settings (<see cref="Apply"/>).
/// </summary>
internal sealed record DefenseSettings(string Kind, int Partitions = 0, int BagSize = 0)
{
    public const string Smoothing = "smoothing", Dpa = "dpa", Bagging = "bagging";

    public static DefenseSettings None { get; } = new(Smoothing);

    public bool IsSmoothing => Kind == Smoothing;

    /// <summary>The number of models the defense fixes (DPA: one per partition), or null when <c>smoothing.models</c> chooses.</summary>
    public int? ModelCount => Kind == Dpa ? Partitions : null;

    /// <summary>Rows each model trains on.</summary>
    public TrainingView View() => Kind switch
    {
        Dpa => new PartitionView(Partitions),
        Bagging => new BagView(BagSize),
        _ => TrainingView.All,
    };

    /// <summary>Rows one model trains on (DPA: the mean partition, rounded up).</summary>
    public long RowsPerModel(int trainRows) => Kind switch
    {
        Dpa => (trainRows + Partitions - 1) / Partitions,
        Bagging => BagSize,
        _ => trainRows,
    };

    /// <summary>Checks the parameters against the training set; a violation is a <see cref="SpecException"/> naming the <c>defense.*</c> field.</summary>
    public void Validate(int trainRows)
    {
        switch (Kind)
        {
            case Smoothing: break;
            case Dpa:
                if (Partitions < 1) throw SpecException.Invalid("defense.partitions", Partitions, "must be at least 1");
                if (Partitions > trainRows) throw SpecException.Invalid("defense.partitions", Partitions, $"more partitions than the {trainRows} training rows");
                break;
            case Bagging:
                if (BagSize < 1) throw SpecException.Invalid("defense.bag_size", BagSize, "must be at least 1");
                break;
            default: throw SpecException.Invalid("defense.kind", Kind, "expected smoothing, dpa or bagging");
        }
    }

    /// <summary>
    /// The engine configuration under this defense: its view, and for DPA and bagging no noise unless σ was given and a
    /// step budget (<see cref="TrainingDefaults.DefenseEpochs"/>) unless the epochs were given.
    /// </summary>
    public EnsembleConfig Apply(EnsembleConfig config, int trainRows, bool sigmaGiven, bool epochsGiven)
    {
        if (IsSmoothing) return config;
        return config with
        {
            Sigma = sigmaGiven ? config.Sigma : 0f,
            Training = epochsGiven ? config.Training : config.Training with { Epochs = TrainingDefaults.DefenseEpochs(RowsPerModel(trainRows), config.Training.BatchSize) },
            View = View(),
        };
    }
}

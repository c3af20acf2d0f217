using NativeCert.Attacks;
using NativeCert.Data;
using NativeCert.Spec;

namespace NativeCert.Runs;

/// <summary>
/// The data of a job, loaded and attacked as its spec says: the training set the models see (poisoned with an
/// attack), the inputs they vote on (clean test rows, then the triggered ones) with each input's kind, and the facts
/// config.json records about them.
/// </summary>
internal sealed record JobData(DataSplit Split, AttackResult? Attack, Dataset Train, Dataset Inputs, InputKind[] Kinds,
                             RunDataFacts DataFacts, RunAttackFacts? AttackFacts)
{
    /// <summary>
    /// Loads <paramref name="spec"/>'s data, applies its attack and checks the rules that need the data
    /// (<see cref="JobSpec.ValidateFor"/>); bad data or attack settings are <see cref="UserInputException"/>s.
    /// </summary>
    public static JobData Load(JobSpec spec) => FromSplit(spec, LoadSplit(spec.Data));

    /// <summary>
    /// <see cref="Load"/> on data already loaded (<paramref name="split"/>, e.g. arrays held by a library caller): applies
    /// <paramref name="spec"/>'s attack and checks the rules that need the data.
    /// </summary>
    public static JobData FromSplit(JobSpec spec, DataSplit split)
    {
        AttackResult? attack = spec.Attack is { } a ? ApplyAttack(a, split) : null;
        Dataset train = attack?.Poisoned.Data ?? split.Train;
        spec.ValidateFor(train.Dimension, train.Shape, train.ClassCount);
        var (inputs, kinds) = CertifyPipeline.AppendTriggered(split.Test, attack?.Triggered.Data);
        var dataFacts = new RunDataFacts(split.Name, train.Count, split.Test.Count, train.Dimension, train.ClassCount, train.Shape?.ToString(),
                                         CertifyPipeline.Fingerprint(train), CertifyPipeline.Fingerprint(inputs));
        RunAttackFacts? attackFacts = attack is null ? null
            : new RunAttackFacts(spec.Attack!.Kind, attack.Target, Math.Max(attack.Poisoned.Norms.Max, attack.Triggered.Norms.Max),
                                 attack.Poisoned.PoisonedRows.Length, attack.Mode == LabelMode.Clean ? AttackSpec.Clean : AttackSpec.Dirty,
                                 attack.Triggered.Data.Count, attack.Poisoned.RowNorms, attack.Triggered.RowNorms);
        return new JobData(split, attack, train, inputs, kinds, dataFacts, attackFacts);
    }

    /// <summary>The split <paramref name="data"/> names, its classes and subset selected.</summary>
    public static DataSplit LoadSplit(DataSpec data)
    {
        data.Validate("data");
        return DatasetCatalog.Load(data.Dataset, data.LoadOptions());
    }

    /// <summary>The trigger <paramref name="attack"/> describes for rows of <paramref name="data"/>.</summary>
    public static Trigger CreateTrigger(AttackSpec attack, Dataset data) => attack.Kind switch
    {
        AttackSpec.Patch => data.Shape is { } shape
            ? new PatchTrigger(shape, attack.TriggerSize, attack.TriggerValue, Corner(attack.TriggerCorner))
            : throw SpecException.Invalid("attack.kind", attack.Kind, $"{data.Source} is not image data (use blend or mask)"),
        AttackSpec.Blend => new BlendTrigger(data.Dimension, attack.TriggerNorm, attack.Seed),
        AttackSpec.Mask => MaskTrigger.FromFile(attack.MaskFile!, data.Dimension, data.Shape),
        _ => throw SpecException.Invalid("attack.kind", attack.Kind, "expected patch, blend or mask"),
    };

    /// <summary>Poisons the training set and triggers the non-target test inputs of <paramref name="split"/>.</summary>
    public static AttackResult ApplyAttack(AttackSpec attack, DataSplit split)
    {
        attack.Validate("attack");
        Trigger trigger = CreateTrigger(attack, split.Train);
        int target = split.LabelOfClassId(attack.Target);
        if (target < 0) throw SpecException.Invalid("attack.target", attack.Target, $"not a class of {split.Name} (classes {string.Join(",", split.ClassIds)})");
        LabelMode mode = attack.LabelMode == AttackSpec.Clean ? LabelMode.Clean : LabelMode.Dirty;
        var backdoor = new BackdoorAttack(trigger);
        PoisonedTrainingSet poisoned = backdoor.Poison(split.Train, attack.Poison, target, mode, attack.Seed, attack.Target);
        TriggeredInputs triggered = backdoor.TriggerInputs(split.Test, target);
        return new AttackResult(backdoor, target, mode, poisoned, triggered);
    }

    private static TriggerCorner Corner(string name) => name switch
    {
        "bottom-left" => TriggerCorner.BottomLeft,
        "top-right" => TriggerCorner.TopRight,
        "top-left" => TriggerCorner.TopLeft,
        _ => TriggerCorner.BottomRight,
    };
}

using System.CommandLine;
using NativeCert.Attacks;
using NativeCert.Data;

namespace NativeCert.Cli.Options;

/// <summary>
/// The backdoor-attack options: <c>--attack none|patch|blend|mask</c>, <c>--trigger-size</c>,
/// <c>--trigger-value</c>, <c>--trigger-norm</c>, <c>--trigger-corner</c>, <c>--mask</c>, <c>--poison</c>,
/// <c>--target</c>, <c>--label-mode</c>, <c>--attack-seed</c>. <c>--target</c> is an original class id
/// (with <c>--classes 1,7 --target 7</c> the target label is 1).
/// </summary>
public sealed class AttackOptions
{
    public Option<string> Attack { get; } = new("--attack")
    {
        Description = "Backdoor trigger: none, patch (k x k square at a corner), blend (seeded random pattern of l2 norm --trigger-norm) or mask (--mask FILE)",
        DefaultValueFactory = _ => "none",
    };
    public Option<int> TriggerSize { get; } = new("--trigger-size") { Description = "Patch side in pixels", DefaultValueFactory = _ => 3 };
    public Option<float> TriggerValue { get; } = new("--trigger-value") { Description = "Patch pixel value in [0,1]", DefaultValueFactory = _ => 1f };
    public Option<double> TriggerNorm { get; } = new("--trigger-norm") { Description = "Blend pattern l2 norm before clipping, input units", DefaultValueFactory = _ => 1.0 };
    public Option<string> TriggerCorner { get; } = new("--trigger-corner")
    {
        Description = "Patch corner: bottom-right, bottom-left, top-right or top-left",
        DefaultValueFactory = _ => "bottom-right",
    };
    public Option<string?> Mask { get; } = new("--mask") { Description = "Mask trigger file: one token per pixel (or feature), '.' = unchanged, a number in [0,1] = set" };
    public Option<int> Poison { get; } = new("--poison") { Description = "Number of training examples to poison", DefaultValueFactory = _ => 0 };
    public Option<int> Target { get; } = new("--target") { Description = "Target class id of the backdoor", DefaultValueFactory = _ => 0 };
    public Option<string> LabelMode { get; } = new("--label-mode") { Description = "dirty (relabel poisoned examples as the target) or clean (poison target-class examples, labels kept)", DefaultValueFactory = _ => "dirty" };
    public Option<ulong> AttackSeed { get; } = new("--attack-seed") { Description = "Seed of the poisoned-row choice and the blend pattern", DefaultValueFactory = _ => 0UL };

    public AttackOptions()
    {
        Attack.AcceptOnlyFromAmong("none", "patch", "blend", "mask");
        TriggerCorner.AcceptOnlyFromAmong("bottom-right", "bottom-left", "top-right", "top-left");
        LabelMode.AcceptOnlyFromAmong("dirty", "clean");
    }

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { Attack, TriggerSize, TriggerValue, TriggerNorm, TriggerCorner, Mask, Poison, Target, LabelMode, AttackSeed })
            command.Options.Add(o);
    }

    /// <summary>The trigger the flags describe for rows of <paramref name="data"/>, or null for <c>--attack none</c>.</summary>
    public Trigger? CreateTrigger(ParseResult parse, Dataset data)
    {
        string kind = parse.GetValue(Attack) ?? "none";
        switch (kind)
        {
            case "none":
                return null;
            case "patch":
                if (data.Shape is not { } shape) throw new UserInputException($"--attack patch: {data.Source} is not image data (use --attack blend or mask)");
                return new PatchTrigger(shape, parse.GetValue(TriggerSize), parse.GetValue(TriggerValue), ParseCorner(parse.GetValue(TriggerCorner)));
            case "blend":
                return new BlendTrigger(data.Dimension, parse.GetValue(TriggerNorm), parse.GetValue(AttackSeed));
            case "mask":
                string path = parse.GetValue(Mask) ?? throw new UserInputException("--attack mask: give the pattern with --mask FILE");
                return MaskTrigger.FromFile(path, data.Dimension, data.Shape);
            default:
                throw new UserInputException($"--attack {kind}: unknown (expected none, patch, blend or mask)");
        }
    }

    /// <summary>
    /// Applies the attack the flags describe to a split: poisons the training set and triggers the non-target
    /// test inputs. Null for <c>--attack none</c>.
    /// </summary>
    public AttackResult? Apply(ParseResult parse, DataSplit split)
    {
        Trigger? trigger = CreateTrigger(parse, split.Train);
        if (trigger is null)
        {
            if (parse.GetValue(Poison) != 0) throw new UserInputException($"--poison {parse.GetValue(Poison)}: choose a trigger with --attack patch, blend or mask");
            return null;
        }
        int targetId = parse.GetValue(Target);
        int target = split.LabelOfClassId(targetId);
        if (target < 0) throw new UserInputException($"--target {targetId}: not a class of {split.Name} (classes {string.Join(",", split.ClassIds)})");
        LabelMode mode = parse.GetValue(LabelMode) == "clean" ? Attacks.LabelMode.Clean : Attacks.LabelMode.Dirty;
        var attack = new BackdoorAttack(trigger);
        PoisonedTrainingSet poisoned = attack.Poison(split.Train, parse.GetValue(Poison), target, mode, parse.GetValue(AttackSeed), targetId);
        TriggeredInputs triggered = attack.TriggerInputs(split.Test, target);
        return new AttackResult(attack, target, mode, poisoned, triggered);
    }

    private static TriggerCorner ParseCorner(string? text) => text switch
    {
        "bottom-left" => Attacks.TriggerCorner.BottomLeft,
        "top-right" => Attacks.TriggerCorner.TopRight,
        "top-left" => Attacks.TriggerCorner.TopLeft,
        _ => Attacks.TriggerCorner.BottomRight,
    };
}

/// <summary>What <see cref="AttackOptions.Apply"/> produced: the poisoned training set and the triggered test inputs.</summary>
/// <param name="Attack">The attack and its trigger.</param>
/// <param name="Target">Target label (after --classes remapping).</param>
/// <param name="Mode">Dirty- or clean-label.</param>
/// <param name="Poisoned">Training set with the poisoned rows replaced.</param>
/// <param name="Triggered">Triggered copies of the non-target test rows.</param>
public sealed record AttackResult(BackdoorAttack Attack, int Target, LabelMode Mode, PoisonedTrainingSet Poisoned, TriggeredInputs Triggered);

using System.CommandLine;
using NativeCert.Attacks;
using NativeCert.Data;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Cli.Options;

/// <summary>
/// The backdoor-attack options: <c>--attack none|patch|blend|mask</c>, <c>--trigger-size</c>,
/// <c>--trigger-value</c>, <c>--trigger-norm</c>, <c>--trigger-corner</c>, <c>--mask</c>, <c>--poison</c>,
/// <c>--target</c>, <c>--label-mode</c>, <c>--attack-seed</c>, filling a <see cref="AttackSpec"/>. <c>--target</c> is
/// an original class id (with <c>--classes 1,7 --target 7</c> the target label is 1).
/// </summary>
internal sealed class AttackOptions
{
    private static readonly AttackSpec Defaults = new();

    public Option<string> Attack { get; } = new("--attack")
    {
        Description = "Backdoor trigger: none, patch (k x k square at a corner), blend (seeded random pattern of l2 norm --trigger-norm) or mask (--mask FILE)",
        DefaultValueFactory = _ => AttackSpec.None,
    };
    public Option<int> TriggerSize { get; } = new("--trigger-size") { Description = "Patch side in pixels", DefaultValueFactory = _ => Defaults.TriggerSize };
    public Option<float> TriggerValue { get; } = new("--trigger-value") { Description = "Patch pixel value in [0,1]", DefaultValueFactory = _ => Defaults.TriggerValue };
    public Option<double> TriggerNorm { get; } = new("--trigger-norm") { Description = "Blend pattern l2 norm before clipping, input units", DefaultValueFactory = _ => Defaults.TriggerNorm };
    public Option<string> TriggerCorner { get; } = new("--trigger-corner")
    {
        Description = "Patch corner: bottom-right, bottom-left, top-right or top-left",
        DefaultValueFactory = _ => Defaults.TriggerCorner,
    };
    public Option<string?> Mask { get; } = new("--mask") { Description = "Mask trigger file: one token per pixel (or feature), '.' = unchanged, a number in [0,1] = set" };
    public Option<int> Poison { get; } = new("--poison") { Description = "Number of training examples to poison", DefaultValueFactory = _ => Defaults.Poison };
    public Option<int> Target { get; } = new("--target") { Description = "Target class id of the backdoor", DefaultValueFactory = _ => Defaults.Target };
    public Option<string> LabelMode { get; } = new("--label-mode") { Description = "dirty (relabel poisoned examples as the target) or clean (poison target-class examples, labels kept)", DefaultValueFactory = _ => Defaults.LabelMode };
    public Option<ulong> AttackSeed { get; } = new("--attack-seed") { Description = "Seed of the poisoned-row choice and the blend pattern", DefaultValueFactory = _ => Defaults.Seed };

    public AttackOptions()
    {
        Attack.AcceptOnlyFromAmong([AttackSpec.None, .. AttackSpec.Kinds]);
        TriggerCorner.AcceptOnlyFromAmong(AttackSpec.Corners);
        LabelMode.AcceptOnlyFromAmong(AttackSpec.Dirty, AttackSpec.Clean);
    }

    public void AddTo(Command command)
    {
        foreach (Option o in new Option[] { Attack, TriggerSize, TriggerValue, TriggerNorm, TriggerCorner, Mask, Poison, Target, LabelMode, AttackSeed })
            command.Options.Add(o);
    }

    /// <summary>
    /// <paramref name="current"/> (null: no attack) with the attack flags the user typed applied; null for
    /// <c>--attack none</c>, where <c>--poison</c> other than 0 is refused.
    /// </summary>
    public AttackSpec? Apply(ParseResult parse, AttackSpec? current)
    {
        string kind = parse.ValueOr(Attack, current?.Kind ?? AttackSpec.None);
        if (kind == AttackSpec.None)
        {
            if (parse.Given(Poison) && parse.GetValue(Poison) != 0)
                throw new UserInputException($"--poison {parse.GetValue(Poison)}: choose a trigger with --attack patch, blend or mask");
            return null;
        }
        AttackSpec attack = current ?? Defaults;
        return attack with
        {
            Kind = kind,
            TriggerSize = parse.ValueOr(TriggerSize, attack.TriggerSize),
            TriggerValue = parse.ValueOr(TriggerValue, attack.TriggerValue),
            TriggerNorm = parse.ValueOr(TriggerNorm, attack.TriggerNorm),
            TriggerCorner = parse.ValueOr(TriggerCorner, attack.TriggerCorner),
            // The pattern file belongs to a mask attack only.
            MaskFile = kind == AttackSpec.Mask ? parse.ValueOr(Mask, attack.MaskFile) : null,
            Poison = parse.ValueOr(Poison, attack.Poison),
            Target = parse.ValueOr(Target, attack.Target),
            LabelMode = parse.ValueOr(LabelMode, attack.LabelMode),
            Seed = parse.ValueOr(AttackSeed, attack.Seed),
        };
    }

    /// <summary>
    /// Applies the attack the flags describe to a split: poisons the training set and triggers the non-target
    /// test inputs. Null for <c>--attack none</c>.
    /// </summary>
    public AttackResult? Apply(ParseResult parse, DataSplit split) =>
        Apply(parse, (AttackSpec?)null) is { } attack ? SpecFlags.Translated(() => JobData.ApplyAttack(attack, split)) : null;
}

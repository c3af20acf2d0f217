using System.CommandLine;
using NativeCert.Spec;

namespace NativeCert.Cli.Options;

/// <summary>
/// Which flag fills which <see cref="JobSpec"/> (or <see cref="Runs.RunExecution"/>) field, so that errors Core reports
/// by field path are shown by the flag the user typed (<see cref="Translate"/>).
/// </summary>
internal static class SpecFlags
{
    /// <summary>Field path → flag.</summary>
    public static readonly IReadOnlyDictionary<string, string> FlagOfField = new Dictionary<string, string>
    {
        ["data.dataset"] = "--dataset", ["data.train_size"] = "--train-size", ["data.test_size"] = "--test-size",
        ["data.classes"] = "--classes", ["data.seed"] = "--data-seed",
        ["attack.kind"] = "--attack", ["attack.trigger_size"] = "--trigger-size", ["attack.trigger_value"] = "--trigger-value",
        ["attack.trigger_norm"] = "--trigger-norm", ["attack.trigger_corner"] = "--trigger-corner", ["attack.mask_file"] = "--mask",
        ["attack.poison"] = "--poison", ["attack.target"] = "--target", ["attack.label_mode"] = "--label-mode", ["attack.seed"] = "--attack-seed",
        ["model.hidden"] = "--hidden", ["model.layers"] = "--model", ["model.kind"] = "--model",
        ["training.epochs"] = "--epochs", ["training.batch_size"] = "--batch", ["training.learning_rate"] = "--lr", ["training.warmup_epochs"] = "--warmup-epochs",
        ["training.momentum"] = "--momentum", ["training.weight_decay"] = "--weight-decay",
        ["smoothing.sigma"] = "--sigma", ["smoothing.seed"] = "--seed", ["smoothing.models"] = "--models",
        ["smoothing.method"] = "--method", ["smoothing.n0"] = "--n0",
        ["certification.alpha"] = "--alpha", ["certification.simultaneous"] = "--simultaneous",
        ["certification.trigger_norms"] = "--trigger-norms", ["certification.radii"] = "--radii",
        ["defense.kind"] = "--defense", ["defense.partitions"] = "--partitions", ["defense.bag_size"] = "--bag-size",
        ["execution.backend"] = "--backend", ["execution.threads"] = "--threads", ["execution.chunk_models"] = "--chunk",
        ["execution.keep_models"] = "--keep-models", ["execution.shard"] = "--models-range",
    };

    /// <summary>The message of <paramref name="e"/> with each field it names replaced by its flag (fields without one stay).</summary>
    public static string Translate(SpecException e)
    {
        string message = e.Message;
        foreach (string field in e.Fields.Distinct().OrderByDescending(f => f.Length))
            if (FlagOfField.TryGetValue(field, out string? flag)) message = message.Replace(field, flag, StringComparison.Ordinal);
        return message;
    }

    /// <summary>Runs <paramref name="action"/> with its <see cref="SpecException"/>s shown by flag (for option classes called outside <see cref="CliApp.Run"/>).</summary>
    public static T Translated<T>(Func<T> action)
    {
        try { return action(); }
        catch (SpecException e) { throw new UserInputException(Translate(e), e); }
    }

    /// <summary>Whether the user typed <paramref name="option"/> (rather than it taking its default).</summary>
    public static bool Given(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>The option's value when the user typed it, else <paramref name="current"/>.</summary>
    public static T ValueOr<T>(this ParseResult parse, Option<T> option, T current) => parse.Given(option) ? parse.GetValue(option)! : current;
}

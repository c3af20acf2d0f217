using System.CommandLine;
using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Cli.Options;

/// <summary>
/// The options that define an ensemble: <c>--hidden --epochs --batch --lr --momentum --weight-decay --sigma --seed</c>,
/// filling the model, training and smoothing parts of a <see cref="JobSpec"/> (whose defaults they show).
/// </summary>
public sealed class ModelOptions
{
    private static readonly JobSpec Defaults = JobSpec.Default;

    public Option<string> Hidden { get; } = new("--hidden")
    {
        Description = "Hidden layer widths, comma-separated (e.g. 128 or 256,128)",
        DefaultValueFactory = _ => string.Join(",", Defaults.Model.Hidden),
    };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Training epochs per model", DefaultValueFactory = _ => Defaults.Training.Epochs };
    public Option<int> Batch { get; } = new("--batch") { Description = "Minibatch size", DefaultValueFactory = _ => Defaults.Training.BatchSize };
    public Option<float> LearningRate { get; } = new("--lr") { Description = "SGD learning rate (constant)", DefaultValueFactory = _ => Defaults.Training.LearningRate };
    public Option<float> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => Defaults.Training.Momentum };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => Defaults.Training.WeightDecay };
    public Option<float> Sigma { get; } = new("--sigma") { Description = "Smoothing noise std σ on every training and test feature, in input units", DefaultValueFactory = _ => Defaults.Smoothing.Sigma };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of all training/test noise, init and shuffles", DefaultValueFactory = _ => Defaults.Smoothing.Seed };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Hidden, Epochs, Batch, LearningRate, Momentum, WeightDecay, Sigma, Seed }) command.Options.Add(o);
    }

    /// <summary><paramref name="current"/> with the model, training, σ and seed flags the user typed applied.</summary>
    public JobSpec Apply(ParseResult parse, JobSpec current) => current with
    {
        Model = parse.Given(Hidden) ? current.Model with { Hidden = CliApp.ParseIntList(parse.GetValue(Hidden), "--hidden", min: 1) } : current.Model,
        Training = current.Training with
        {
            Epochs = parse.ValueOr(Epochs, current.Training.Epochs),
            BatchSize = parse.ValueOr(Batch, current.Training.BatchSize),
            LearningRate = parse.ValueOr(LearningRate, current.Training.LearningRate),
            Momentum = parse.ValueOr(Momentum, current.Training.Momentum),
            WeightDecay = parse.ValueOr(WeightDecay, current.Training.WeightDecay),
        },
        Smoothing = current.Smoothing with { Sigma = parse.ValueOr(Sigma, current.Smoothing.Sigma), Seed = parse.ValueOr(Seed, current.Smoothing.Seed) },
    };

    /// <summary>The plain ensemble these flags describe (σ may be 0) for data of the given width and class count.</summary>
    public EnsembleConfig Read(ParseResult parse, int inputs, int classes) => SpecFlags.Translated(() =>
    {
        JobSpec spec = Apply(parse, Defaults).ValidateEnsemble();
        spec.Model.ValidateFor(inputs, classes, "model");
        return spec.ToEnsembleConfig(inputs, classes);
    });
}

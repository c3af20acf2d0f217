using System.CommandLine;
using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Cli.Options;

/// <summary>
/// The options that define an ensemble: <c>--model</c> (or its MLP shorthand <c>--hidden</c>), <c>--epochs --batch
/// --lr --warmup-epochs --momentum --weight-decay --sigma --seed</c>, filling the model, training and smoothing parts of a
/// <see cref="JobSpec"/> (whose defaults they show).
/// </summary>
internal sealed class ModelOptions
{
    private static readonly JobSpec Defaults = JobSpec.Default;

    public Option<string?> Model { get; } = new("--model")
    {
        Description = "Model: mlp:W1,W2 (default mlp:128), lenet, or a layer list such as conv:32:3:1,relu,maxpool,flatten,dense:128,relu " +
                      "(layers dense:UNITS, relu, conv:CHANNELS:KERNEL[:PADDING], maxpool, flatten; the classifier dense:C is appended)",
    };
    public Option<string> Hidden { get; } = new("--hidden")
    {
        Description = "Hidden layer widths of an MLP, comma-separated (e.g. 128 or 256,128): the same as --model mlp:128",
        DefaultValueFactory = _ => string.Join(",", Defaults.Model.Hidden!),
    };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Training epochs per model", DefaultValueFactory = _ => Defaults.Training.Epochs };
    public Option<int> Batch { get; } = new("--batch") { Description = "Minibatch size", DefaultValueFactory = _ => Defaults.Training.BatchSize };
    public Option<float> LearningRate { get; } = new("--lr")
    {
        // No DefaultValueFactory: the default depends on the model (help would print the MLP's for every model).
        Description = $"SGD learning rate (default {TrainingDefaults.LearningRate} for an MLP, {TrainingDefaults.ConvLearningRate} for any other model)",
    };
    public Option<int> WarmupEpochs { get; } = new("--warmup-epochs")
    {
        Description = "Epochs of linear learning-rate warm-up per model, lr·(t+1)/W over the first W steps (0 = constant lr; " +
                      $"default 0 for an MLP, {TrainingDefaults.ConvWarmupEpochs} for any other model)",
    };
    public Option<float> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => Defaults.Training.Momentum };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => Defaults.Training.WeightDecay };
    public Option<float> Sigma { get; } = new("--sigma") { Description = "Smoothing noise std σ on every training and test feature, in input units", DefaultValueFactory = _ => Defaults.Smoothing.Sigma };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of all training/test noise, init and shuffles", DefaultValueFactory = _ => Defaults.Smoothing.Seed };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Hidden, Epochs, Batch, LearningRate, WarmupEpochs, Momentum, WeightDecay, Sigma, Seed }) command.Options.Add(o);
    }

    /// <summary>
    /// The model <c>--model</c> or <c>--hidden</c> gives (canonical: dense+ReLU pairs are an MLP however written), or
    /// <paramref name="current"/> when neither was typed. Both typed must describe the same MLP.
    /// </summary>
    public ModelSpec ReadModel(ParseResult parse, ModelSpec current)
    {
        ModelSpec? hidden = parse.Given(Hidden) ? new ModelSpec { Hidden = CliApp.ParseIntList(parse.GetValue(Hidden), "--hidden", min: 1) } : null;
        if (!parse.Given(Model)) return hidden ?? current;
        string text = parse.GetValue(Model) ?? "";
        ModelSpec model = SpecFlags.Translated(() => ModelSpec.FromText(text));
        if (hidden is not null && hidden.Text != model.Text)
            throw new UserInputException($"--hidden: give the model once (--hidden {parse.GetValue(Hidden)} and --model {text} disagree)");
        return model;
    }

    /// <summary>
    /// <paramref name="current"/> with the model, training, σ and seed flags the user typed applied. A new model
    /// without <c>--lr</c> (<c>--warmup-epochs</c>) takes its kind's default step (warm-up),
    /// <see cref="TrainingSpec.DefaultsFor"/>, when the current value is the current model's default.
    /// </summary>
    public JobSpec Apply(ParseResult parse, JobSpec current)
    {
        ModelSpec model = ReadModel(parse, current.Model);
        bool newModel = model.Text != current.Model.Text;
        float learningRate = current.Training.LearningRate;
        if (parse.Given(LearningRate)) learningRate = parse.GetValue(LearningRate);
        else if (newModel && learningRate == DefaultLearningRate(current.Model)) learningRate = DefaultLearningRate(model);
        int warmupEpochs = current.Training.WarmupEpochs;
        if (parse.Given(WarmupEpochs)) warmupEpochs = parse.GetValue(WarmupEpochs);
        else if (newModel && warmupEpochs == DefaultWarmupEpochs(current.Model)) warmupEpochs = DefaultWarmupEpochs(model);
        return current with
        {
            Model = model,
            Training = current.Training with
            {
                Epochs = parse.ValueOr(Epochs, current.Training.Epochs),
                BatchSize = parse.ValueOr(Batch, current.Training.BatchSize),
                LearningRate = learningRate,
                WarmupEpochs = warmupEpochs,
                Momentum = parse.ValueOr(Momentum, current.Training.Momentum),
                WeightDecay = parse.ValueOr(WeightDecay, current.Training.WeightDecay),
            },
            Smoothing = current.Smoothing with { Sigma = parse.ValueOr(Sigma, current.Smoothing.Sigma), Seed = parse.ValueOr(Seed, current.Smoothing.Seed) },
        };
    }

    /// <summary>The default SGD step of a model of this kind: the MLP's, or the one tuned for LeNet for any other layer list.</summary>
    private static float DefaultLearningRate(ModelSpec model) => TrainingSpec.DefaultsFor(model).LearningRate;

    /// <summary>The default warm-up of a model of this kind: none for an MLP, the LeNet one for any other layer list.</summary>
    private static int DefaultWarmupEpochs(ModelSpec model) => TrainingSpec.DefaultsFor(model).WarmupEpochs;

    /// <summary>The plain ensemble these flags describe (σ may be 0) for <paramref name="data"/> (its width, image shape and class count).</summary>
    public EnsembleConfig Read(ParseResult parse, NativeCert.Data.Dataset data) => SpecFlags.Translated(() =>
    {
        JobSpec spec = Apply(parse, Defaults).ValidateEnsemble();
        spec.Model.ValidateFor(data.Dimension, data.Shape, data.ClassCount, "model");
        return spec.ToEnsembleConfig(data);
    });
}

using System.CommandLine;
using NativeCert.Engine;

namespace NativeCert.Cli.Options;

/// <summary>
/// The options that define an ensemble (<see cref="EnsembleConfig"/>): <c>--model</c> (or its MLP shorthand
/// <c>--hidden</c>), <c>--epochs --batch --lr --momentum --weight-decay --sigma --seed</c>; defaults from
/// <see cref="TrainingDefaults"/>.
/// </summary>
public sealed class ModelOptions
{
    public Option<string?> Model { get; } = new("--model")
    {
        Description = "Model: mlp:W1,W2 (default mlp:128), lenet, or a layer list such as conv:32:3:1,relu,maxpool,flatten,dense:128,relu " +
                      "(layers dense:UNITS, relu, conv:CHANNELS:KERNEL[:PADDING], maxpool, flatten; the classifier dense:C is appended)",
    };
    public Option<string> Hidden { get; } = new("--hidden")
    {
        Description = "Hidden layer widths of an MLP, comma-separated (e.g. 128 or 256,128): the same as --model mlp:128",
        DefaultValueFactory = _ => string.Join(",", TrainingDefaults.Hidden),
    };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Training epochs per model", DefaultValueFactory = _ => TrainingDefaults.Epochs };
    public Option<int> Batch { get; } = new("--batch") { Description = "Minibatch size", DefaultValueFactory = _ => TrainingDefaults.BatchSize };
    public Option<float> LearningRate { get; } = new("--lr") { Description = LearningRateHelp, DefaultValueFactory = _ => TrainingDefaults.LearningRate };
    private const string LearningRateHelp = "SGD learning rate (constant; default 0.1 for an MLP, 0.05 for any other model)";
    public Option<float> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => TrainingDefaults.Momentum };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => TrainingDefaults.WeightDecay };
    public Option<float> Sigma { get; } = new("--sigma") { Description = "Smoothing noise std σ on every training and test feature, in input units", DefaultValueFactory = _ => 0.5f };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of all training/test noise, init and shuffles", DefaultValueFactory = _ => 0UL };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Hidden, Epochs, Batch, LearningRate, Momentum, WeightDecay, Sigma, Seed }) command.Options.Add(o);
    }

    /// <summary>The layer list that <c>--model</c> (or <c>--hidden</c>) gives, unresolved.</summary>
    public LayerSpec[] ReadLayers(ParseResult parse)
    {
        bool hiddenGiven = parse.GetResult(Hidden) is { Implicit: false };
        int[] hidden = CliApp.ParseIntList(parse.GetValue(Hidden), "--hidden", min: 1);
        if (parse.GetValue(Model) is not { } text) return ModelArchitecture.MlpBody(hidden);
        var layers = ModelArchitecture.Parse(text);
        if (hiddenGiven && !(ModelArchitecture.MlpHidden(layers) is { } widths && widths.SequenceEqual(hidden)))
            throw new UserInputException($"--hidden: give the model once (--hidden {parse.GetValue(Hidden)} and --model {text} disagree)");
        return layers;
    }

    /// <summary>The config these flags describe for <paramref name="data"/> (its width, image shape and class count).</summary>
    public EnsembleConfig Read(ParseResult parse, NativeCert.Data.Dataset data) => Read(parse, data.Dimension, data.Shape, data.ClassCount);

    /// <summary>The config these flags describe for data of the given width, image shape and class count.</summary>
    public EnsembleConfig Read(ParseResult parse, int inputs, NativeCert.Data.ImageShape? image, int classes)
    {
        var model = ModelArchitecture.ForData(ReadLayers(parse), inputs, image, classes);
        int epochs = parse.GetValue(Epochs), batch = parse.GetValue(Batch);
        float lr = parse.GetResult(LearningRate) is { Implicit: false } ? parse.GetValue(LearningRate) : TrainingDefaults.LearningRateFor(model);
        float momentum = parse.GetValue(Momentum), wd = parse.GetValue(WeightDecay), sigma = parse.GetValue(Sigma);
        if (epochs < 0) throw new UserInputException($"--epochs: {epochs} is negative");
        if (batch < 1) throw new UserInputException($"--batch: {batch} must be at least 1");
        if (!(lr > 0) || !float.IsFinite(lr)) throw new UserInputException($"--lr: {lr} must be a positive number");
        if (!(momentum >= 0 && momentum < 1)) throw new UserInputException($"--momentum: {momentum} must be in [0, 1)");
        if (!(wd >= 0) || !float.IsFinite(wd)) throw new UserInputException($"--weight-decay: {wd} must be ≥ 0");
        if (!(sigma >= 0) || !float.IsFinite(sigma)) throw new UserInputException($"--sigma: {sigma} must be ≥ 0");
        return new EnsembleConfig(model, new TrainingOptions(epochs, batch, lr, momentum, wd), sigma, parse.GetValue(Seed));
    }
}

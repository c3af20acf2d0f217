using System.CommandLine;
using NativeCert.Engine;

namespace NativeCert.Cli.Options;

/// <summary>
/// The options that define an ensemble (<see cref="EnsembleConfig"/>): <c>--hidden --epochs --batch --lr
/// --momentum --weight-decay --sigma --seed</c>; defaults from <see cref="TrainingDefaults"/>.
/// </summary>
public sealed class ModelOptions
{
    public Option<string> Hidden { get; } = new("--hidden")
    {
        Description = "Hidden layer widths, comma-separated (e.g. 128 or 256,128)",
        DefaultValueFactory = _ => string.Join(",", TrainingDefaults.Hidden),
    };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Training epochs per model", DefaultValueFactory = _ => TrainingDefaults.Epochs };
    public Option<int> Batch { get; } = new("--batch") { Description = "Minibatch size", DefaultValueFactory = _ => TrainingDefaults.BatchSize };
    public Option<float> LearningRate { get; } = new("--lr") { Description = "SGD learning rate (constant)", DefaultValueFactory = _ => TrainingDefaults.LearningRate };
    public Option<float> Momentum { get; } = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => TrainingDefaults.Momentum };
    public Option<float> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => TrainingDefaults.WeightDecay };
    public Option<float> Sigma { get; } = new("--sigma") { Description = "Smoothing noise std σ on every training and test feature, in input units", DefaultValueFactory = _ => 0.5f };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed of all training/test noise, init and shuffles", DefaultValueFactory = _ => 0UL };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Hidden, Epochs, Batch, LearningRate, Momentum, WeightDecay, Sigma, Seed }) command.Options.Add(o);
    }

    /// <summary>The config these flags describe for data of the given width and class count.</summary>
    public EnsembleConfig Read(ParseResult parse, int inputs, int classes)
    {
        int[] hidden = CliApp.ParseIntList(parse.GetValue(Hidden), "--hidden", min: 1);
        int epochs = parse.GetValue(Epochs), batch = parse.GetValue(Batch);
        float lr = parse.GetValue(LearningRate), momentum = parse.GetValue(Momentum), wd = parse.GetValue(WeightDecay), sigma = parse.GetValue(Sigma);
        if (epochs < 0) throw new UserInputException($"--epochs: {epochs} is negative");
        if (batch < 1) throw new UserInputException($"--batch: {batch} must be at least 1");
        if (!(lr > 0) || !float.IsFinite(lr)) throw new UserInputException($"--lr: {lr} must be a positive number");
        if (!(momentum >= 0 && momentum < 1)) throw new UserInputException($"--momentum: {momentum} must be in [0, 1)");
        if (!(wd >= 0) || !float.IsFinite(wd)) throw new UserInputException($"--weight-decay: {wd} must be ≥ 0");
        if (!(sigma >= 0) || !float.IsFinite(sigma)) throw new UserInputException($"--sigma: {sigma} must be ≥ 0");
        return new EnsembleConfig(new MlpShape(inputs, hidden, classes), new TrainingOptions(epochs, batch, lr, momentum, wd), sigma, parse.GetValue(Seed));
    }
}

using System.CommandLine;
using NativeCert.Data;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Cli.Options;

/// <summary>
/// The dataset options every command that reads data shares: <c>--dataset</c>, <c>--train-size</c>,
/// <c>--test-size</c>, <c>--classes</c>, <c>--data-seed</c>, filling a <see cref="DataSpec"/>. Add them to a command
/// with <see cref="AddTo"/>, then load with <see cref="Load"/>.
/// </summary>
internal sealed class DataOptions
{
    private static readonly DataSpec Defaults = JobSpec.Default.Data;

    public Option<string> Dataset { get; } = new("--dataset")
    {
        Description = $"Dataset: {DatasetCatalog.SpecHelp}",
        DefaultValueFactory = _ => Defaults.Dataset,
    };
    public Option<int?> TrainSize { get; } = new("--train-size") { Description = "Keep this many training rows (stratified, seeded)" };
    public Option<int?> TestSize { get; } = new("--test-size") { Description = "Keep this many test rows (stratified, seeded)" };
    public Option<string?> Classes { get; } = new("--classes") { Description = "Keep these class ids, relabelled 0..k-1 in this order (e.g. 1,7)" };
    public Option<ulong> DataSeed { get; } = new("--data-seed") { Description = "Seed of the subset selection", DefaultValueFactory = _ => Defaults.Seed };

    public void AddTo(Command command)
    {
        command.Options.Add(Dataset);
        command.Options.Add(TrainSize);
        command.Options.Add(TestSize);
        command.Options.Add(Classes);
        command.Options.Add(DataSeed);
    }

    /// <summary><paramref name="current"/> with the data flags the user typed applied.</summary>
    public DataSpec Apply(ParseResult parse, DataSpec current) => current with
    {
        Dataset = parse.ValueOr(Dataset, current.Dataset),
        TrainSize = parse.ValueOr(TrainSize, current.TrainSize),
        TestSize = parse.ValueOr(TestSize, current.TestSize),
        Classes = parse.Given(Classes) ? ParseClasses(parse.GetValue(Classes)) : current.Classes,
        Seed = parse.ValueOr(DataSeed, current.Seed),
    };

    private static int[]? ParseClasses(string? text)
    {
        int[] classes = CliApp.ParseIntList(text, "--classes", min: 0);
        return classes.Length == 0 ? null : classes;
    }

    /// <summary>Loads the dataset the flags name (a <see cref="UserInputException"/> on any bad input).</summary>
    public DataSplit Load(ParseResult parse) => SpecFlags.Translated(() => JobData.LoadSplit(Apply(parse, Defaults)));
}

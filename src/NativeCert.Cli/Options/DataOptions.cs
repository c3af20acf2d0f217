using System.CommandLine;
using NativeCert.Data;

namespace NativeCert.Cli.Options;

/// <summary>
/// The dataset options every command that reads data shares: <c>--dataset</c>, <c>--train-size</c>,
/// <c>--test-size</c>, <c>--classes</c>, <c>--data-seed</c>. Add them to a command with <see cref="AddTo"/>,
/// then load with <see cref="Load"/>.
/// </summary>
public sealed class DataOptions
{
    public Option<string> Dataset { get; } = new("--dataset")
    {
        Description = $"Dataset: {DatasetCatalog.SpecHelp}",
        DefaultValueFactory = _ => DatasetCatalog.DefaultSpec,
    };
    public Option<int?> TrainSize { get; } = new("--train-size") { Description = "Keep this many training rows (stratified, seeded)" };
    public Option<int?> TestSize { get; } = new("--test-size") { Description = "Keep this many test rows (stratified, seeded)" };
    public Option<string?> Classes { get; } = new("--classes") { Description = "Keep these class ids, relabelled 0..k-1 in this order (e.g. 1,7)" };
    public Option<ulong> DataSeed { get; } = new("--data-seed") { Description = "Seed of the subset selection", DefaultValueFactory = _ => 0UL };

    public void AddTo(Command command)
    {
        command.Options.Add(Dataset);
        command.Options.Add(TrainSize);
        command.Options.Add(TestSize);
        command.Options.Add(Classes);
        command.Options.Add(DataSeed);
    }

    /// <summary>The load options these flags describe.</summary>
    public DataLoadOptions ReadLoadOptions(ParseResult parse)
    {
        int[] classes = CliApp.ParseIntList(parse.GetValue(Classes), "--classes", min: 0);
        return new DataLoadOptions
        {
            TrainSize = parse.GetValue(TrainSize),
            TestSize = parse.GetValue(TestSize),
            Classes = classes.Length == 0 ? null : classes,
            Seed = parse.GetValue(DataSeed),
        };
    }

    /// <summary>Loads the dataset the flags name (a <see cref="UserInputException"/> on any bad input).</summary>
    public DataSplit Load(ParseResult parse) =>
        DatasetCatalog.Load(parse.GetValue(Dataset) ?? DatasetCatalog.DefaultSpec, ReadLoadOptions(parse));
}

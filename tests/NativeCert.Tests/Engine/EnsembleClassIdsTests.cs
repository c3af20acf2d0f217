using NativeCert.Engine;
using NativeCert.Tests.Cli;

namespace NativeCert.Tests.Engine;

/// <summary>
/// Issue #9 item 3: an ensemble file records which original class each output is, and <c>vote --classes</c> maps
/// the data's classes onto those outputs (or refuses), instead of comparing unrelated label numbers.
/// </summary>
public sealed class EnsembleClassIdsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-ensemble-classes-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static EnsembleFile Small(IReadOnlyList<int>? classIds)
    {
        var config = EngineTestData.Config(4, [3], 2, epochs: 1, batch: 8);
        var parameters = Enumerable.Range(0, 2 * new ParameterLayout(config.Model).Count).Select(i => i * 0.5f).ToArray();
        return new EnsembleFile(config, 5, 2, parameters, classIds);
    }

    [Fact]
    public void ClassIdsRoundTripAndMapOutputs()
    {
        string path = Path.Combine(_dir, "e.bin");
        Small([1, 7]).Save(path);
        var back = EnsembleFile.Load(path);
        Assert.Equal([1, 7], back.ClassIds!);
        Assert.Equal(1, back.OutputOfClassId(7));
        Assert.Equal(0, back.OutputOfClassId(1));
        Assert.Equal(-1, back.OutputOfClassId(0));
        Assert.Throws<ArgumentException>(() => Small([3, 3]));
    }

    [Fact]
    public void VersionOneAndTwoFilesStillLoad()
    {
        string path = Path.Combine(_dir, "old.bin");
        var ensemble = Small(null);
        // Version 1: MLP widths, no class ids.
        File.WriteAllBytes(path, LegacyEnsembleFile.Bytes(ensemble.Config, [4, 3, 2], 5, 2, ensemble.Parameters, version: 1, classIds: null));
        var back = EnsembleFile.Load(path);
        Assert.Null(back.ClassIds);
        Assert.Equal(ensemble.Parameters, back.Parameters);
        Assert.Equal(ensemble.Config, back.Config);
        Assert.Equal(1, back.OutputOfClassId(1)); // outputs taken as classes 0..C-1
        // Version 2: MLP widths and class ids.
        File.WriteAllBytes(path, LegacyEnsembleFile.Bytes(ensemble.Config, [4, 3, 2], 5, 2, ensemble.Parameters, version: 2, classIds: [1, 7]));
        back = EnsembleFile.Load(path);
        Assert.Equal([1, 7], back.ClassIds!);
        Assert.Equal(ensemble.Parameters, back.Parameters);
    }

    [Fact]
    public void VoteWithClassesOnATenClassEnsembleLabelsRowsByTheirOutputs()
    {
        string ens = Path.Combine(_dir, "ten.bin"), tsv = Path.Combine(_dir, "v.tsv");
        var train = CliRunner.Run("train", "--train-size", "600", "--hidden", "32", "--epochs", "4", "--models", "3", "--sigma", "0.25", "--out", ens);
        Assert.True(train.Code == 0, train.Err);
        var vote = CliRunner.Run("vote", "--ensemble", ens, "--classes", "1,7", "--test-size", "80", "--out", tsv);
        Assert.True(vote.Code == 0, vote.Err);

        var votes = NativeCert.Certification.VoteCountsTsv.Read(tsv);
        Assert.Equal(80, votes.Counts.Inputs);
        Assert.All(votes.Labels, y => Assert.Contains(y, new[] { 1, 7 })); // labels are the outputs of classes 1 and 7
        Assert.Equal(3, votes.ModelsPerInput);
        int correct = Enumerable.Range(0, 80).Count(i => NativeCert.Cli.Commands.EnsembleCommands.TopClass(votes.Counts, i) == votes.Labels[i]);
        Assert.True(correct >= 64, $"{correct}/80: 1 vs 7 should be easy once labels and outputs agree");
        Assert.Contains("accuracy", vote.Out);
    }

    [Fact]
    public void VoteRefusesClassesTheEnsembleHasNoOutputFor()
    {
        string ens = Path.Combine(_dir, "17.bin");
        var train = CliRunner.Run("train", "--classes", "1,7", "--train-size", "100", "--hidden", "8", "--epochs", "1", "--models", "1", "--out", ens);
        Assert.True(train.Code == 0, train.Err);
        Assert.Equal([1, 7], EnsembleFile.Load(ens).ClassIds!);
        CliRunner.AssertRefused(_dir, ["vote", "--ensemble", ens, "--classes", "1,3", "--out", Path.Combine(_dir, "v.tsv")],
            "--classes", "class 3", "--classes 1,7");
        CliRunner.AssertRefused(_dir, ["vote", "--ensemble", ens, "--out", Path.Combine(_dir, "v.tsv")], "--classes", "class 0");
    }
}

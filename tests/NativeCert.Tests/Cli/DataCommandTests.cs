using System.CommandLine;
using System.Text.Json;
using NativeCert.Attacks;
using NativeCert.Cli;
using NativeCert.Cli.Options;
using NativeCert.Data;
using NativeCert.Tests.Data;

namespace NativeCert.Tests.Cli;

public sealed class DataCommandTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose() => _files.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => NativeCert.Tests.Cli.CliRunner.Run(args);

    private static void AssertUserError((int Code, string Out, string Err) r, string mustName, string problem)
    {
        Assert.Equal(ExitCodes.UserError, r.Code);
        Assert.Equal("", r.Out);
        string[] lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("nativecert: error: ", lines[0]);
        Assert.Contains(mustName, lines[0]);
        Assert.Contains(problem, lines[0]);
    }

    [Fact]
    public void InfoOnBuiltInMnistShowsTheSplitAndClassCounts()
    {
        var (code, output, err) = Run("data", "info", "--dataset", "mnist");

        Assert.Equal(0, code);
        Assert.Equal("", err);
        Assert.Contains("rows:      train 8000, test 2000, total 10000", output);
        Assert.Contains("shape:     1x28x28 (784 features)", output);
        Assert.Contains("values:    train [0, 1]", output);
        DataSplit split = DatasetCatalog.Load("mnist");
        int[] train = split.Train.ClassCounts(), test = split.Test.ClassCounts();
        for (int c = 0; c < 10; c++)
            Assert.Matches($@"\n  {c} +{c} +{train[c]} +{test[c]}\r?\n", output);
    }

    [Fact]
    public void InfoJsonWithClassesAndSizes()
    {
        var (code, output, _) = Run("data", "info", "--dataset", "mnist", "--classes", "1,7", "--train-size", "300", "--test-size", "50", "--json");

        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("classCount").GetInt32());
        Assert.Equal([1, 7], root.GetProperty("classIds").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(300, root.GetProperty("train").GetProperty("count").GetInt32());
        Assert.Equal(300, root.GetProperty("train").GetProperty("classCounts").EnumerateArray().Sum(e => e.GetInt32()));
        Assert.Equal(50, root.GetProperty("test").GetProperty("count").GetInt32());
        Assert.Equal(1.0, root.GetProperty("test").GetProperty("max").GetDouble());
    }

    [Fact]
    public void InfoWithPatchAttackOnRealDigitsReportsExactNorms()
    {
        var (code, output, err) = Run("data", "info", "--classes", "1,7", "--attack", "patch", "--poison", "50", "--target", "7");

        Assert.Equal(0, code);
        Assert.Equal("", err);
        // MNIST's bottom-right 3x3 corner is background in these digits, so each poisoned row moves by exactly 3.
        Assert.Contains("attack:    patch 3x3 of 1 at bottom-right; target class 7 (label 1), dirty-label", output);
        Assert.Contains("poisoned:  50 training rows; perturbation l2 max 3, mean 3 over 50", output);
        Assert.Contains("triggered: 225 test inputs", output);
        Assert.Contains($"at most {Math.Sqrt(51 * 9.0):G6}", output);
    }

    [Fact]
    public void InfoJsonWithBlendAttackMatchesTheLibrary()
    {
        var (code, output, _) = Run("data", "info", "--attack", "blend", "--trigger-norm", "0.5", "--poison", "30",
            "--label-mode", "clean", "--target", "3", "--attack-seed", "4", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(output);
        JsonElement attack = doc.RootElement.GetProperty("attack");

        DataSplit split = DatasetCatalog.Load("mnist");
        var library = new BackdoorAttack(new BlendTrigger(784, 0.5, 4));
        PoisonedTrainingSet p = library.Poison(split.Train, 30, 3, LabelMode.Clean, 4);
        TriggeredInputs t = library.TriggerInputs(split.Test, 3);
        Assert.Equal("clean", attack.GetProperty("labelMode").GetString());
        Assert.Equal(p.Norms.Max, attack.GetProperty("poisoned").GetProperty("normMax").GetDouble());
        Assert.Equal(t.Norms.Mean, attack.GetProperty("triggered").GetProperty("normMean").GetDouble());
        Assert.Equal(split.Test.Count - split.Test.ClassCounts()[3], attack.GetProperty("triggered").GetProperty("count").GetInt32());
        Assert.True(p.Norms.Max <= 0.5);
    }

    [Fact]
    public void InfoOnCsvPrintsTheFileAndItsFeatures()
    {
        string path = _files.PathOf("t.csv");
        File.WriteAllText(path, "y,a,b\n0,1.5,-2\n1,3,4\n0,0,0\n1,1,1\n0,2,2\n");
        var (code, output, _) = Run("data", "info", "--dataset", $"csv:{path}");
        Assert.Equal(0, code);
        Assert.Contains("shape:     2 features", output);
        Assert.Contains("rows:      train 4, test 1, total 5", output);
    }

    [Fact]
    public void UnknownDatasetIsExitCode2WithOneLine() =>
        AssertUserError(Run("data", "info", "--dataset", "imagenet"), "--dataset 'imagenet'", "unknown dataset");

    [Fact]
    public void MissingDirectoryIsExitCode2NamingIt()
    {
        string missing = _files.PathOf("nope");
        AssertUserError(Run("data", "info", "--dataset", "idx:" + missing), missing, "directory not found");
    }

    [Fact]
    public void TruncatedIdxIsExitCode2NamingTheFile()
    {
        string dir = _files.SubDir("idx");
        _files.WriteIdxDir(dir, 10, 5, 3, 3, 2, gzip: true);
        string labels = Path.Combine(dir, "train-labels-idx1-ubyte.gz");
        byte[] gz = File.ReadAllBytes(labels);
        File.WriteAllBytes(labels, gz[..^3]);
        AssertUserError(Run("data", "info", "--dataset", "idx:" + dir), labels, "gzip");
    }

    [Fact]
    public void NaNInCsvIsExitCode2NamingTheFile()
    {
        string path = _files.PathOf("nan.csv");
        File.WriteAllText(path, "0,1,2\n1,nan,3\n");
        AssertUserError(Run("data", "info", "--dataset", $"csv:{path},{path}"), path, "line 2, column 2");
    }

    [Fact]
    public void BadSizeAndClassOptionsAreExitCode2()
    {
        AssertUserError(Run("data", "info", "--train-size", "9000"), "--train-size 9000", "only 8000 training rows");
        AssertUserError(Run("data", "info", "--classes", "1,x"), "--classes", "'x' is not an integer");
        AssertUserError(Run("data", "info", "--classes", "3,11"), "--classes 3,11", "class 11 is not in mnist");
        AssertUserError(Run("data", "info", "--attack", "patch", "--trigger-size", "29"), "--trigger-size 29", "between 1 and the image side");
        AssertUserError(Run("data", "info", "--attack", "patch", "--poison", "7200", "--target", "0"), "--poison 7200", "only 7199 rows outside");
        string csv = _files.PathOf("tab.csv");
        File.WriteAllText(csv, "0,1,2\n1,2,3\n0,1,1\n1,0,0\n0,3,3\n");
        AssertUserError(Run("data", "info", "--dataset", "csv:" + csv, "--attack", "patch"), "--attack patch", "not image data");
        string mask = _files.PathOf("mask.txt");
        File.WriteAllText(mask, "1 2 3");
        AssertUserError(Run("data", "info", "--attack", "mask", "--mask", mask), mask, "3 mask entries; expected 784");
    }

    [Fact]
    public void AttackOptionsPoisonAndTriggerTheSplitWithTargetAsOriginalClassId()
    {
        var data = new DataOptions();
        var attack = new AttackOptions();
        var command = new RootCommand();
        data.AddTo(command);
        attack.AddTo(command);
        ParseResult parse = command.Parse(["--classes", "1,7", "--train-size", "400", "--test-size", "100",
            "--attack", "patch", "--trigger-size", "3", "--poison", "20", "--target", "7", "--label-mode", "dirty"]);
        Assert.Empty(parse.Errors);

        DataSplit split = data.Load(parse);
        AttackResult? result = attack.Apply(parse, split);

        Assert.NotNull(result);
        Assert.Equal(1, result.Target); // class 7 is label 1 after --classes 1,7
        Assert.Equal(LabelMode.Dirty, result.Mode);
        Assert.Equal(20, result.Poisoned.PoisonedRows.Length);
        Assert.All(result.Poisoned.PoisonedRows, i => Assert.Equal(0, split.Train.Labels[i]));
        Assert.All(result.Poisoned.PoisonedRows, i => Assert.Equal(1, result.Poisoned.Data.Labels[i]));
        Assert.Equal(split.Test.Labels.Count(y => y == 0), result.Triggered.Data.Count);
        Assert.InRange(result.Poisoned.Norms.Max, 2.5, 3.0);
        Assert.Equal("patch 3x3 of 1 at bottom-right", result.Attack.Trigger.Describe());

        ParseResult none = command.Parse([]);
        Assert.Null(attack.Apply(none, split));
        ParseResult badTarget = command.Parse(["--classes", "1,7", "--attack", "blend", "--target", "3"]);
        DataTestFiles.AssertUserError(() => attack.Apply(badTarget, data.Load(badTarget)), "--target 3", "not a class of mnist");
        DataTestFiles.AssertUserError(() => attack.Apply(command.Parse(["--poison", "5"]), split), "--poison 5", "--attack patch, blend or mask");
        ParseResult noMask = command.Parse(["--attack", "mask"]);
        DataTestFiles.AssertUserError(() => attack.Apply(noMask, split), "--attack mask", "--mask FILE");
        Assert.NotEmpty(command.Parse(["--attack", "rainbow"]).Errors);
    }
}

/// <summary>Tests that set NATIVECERT_DATA run alone, after the parallel ones, so no other test sees it.</summary>
[CollectionDefinition(nameof(DataEnvironmentCollection), DisableParallelization = true)]
public sealed class DataEnvironmentCollection;

[Collection(nameof(DataEnvironmentCollection))]
public sealed class DataRootEnvironmentTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose()
    {
        Environment.SetEnvironmentVariable(DataRoot.EnvironmentVariable, null);
        _files.Dispose();
    }

    [Fact]
    public void NativecertDataOverridesTheBuiltInDirectory()
    {
        string mnist = _files.SubDir("mnist");
        byte[] pixels = DataTestFiles.RandomBytes(50 * 28 * 28, 4);
        IdxFormat.WriteImages(Path.Combine(mnist, DataRoot.MnistImages), pixels, 50, 28, 28, gzip: true);
        IdxFormat.WriteLabels(Path.Combine(mnist, DataRoot.MnistLabels), DataTestFiles.CyclingLabels(50, 10), gzip: true);
        Environment.SetEnvironmentVariable(DataRoot.EnvironmentVariable, _files.Dir);

        DataSplit split = DatasetCatalog.Load("mnist");

        Assert.Equal((40, 10), (split.Train.Count, split.Test.Count));
        Assert.Equal(mnist, split.Location);
    }

    [Fact]
    public void NativecertDataNamingAMissingDirectoryIsAUserError()
    {
        string missing = _files.PathOf("gone");
        Environment.SetEnvironmentVariable(DataRoot.EnvironmentVariable, missing);
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), ["data", "info"], new StringWriter(), stderr);
        Assert.Equal(ExitCodes.UserError, code);
        Assert.Contains($"NATIVECERT_DATA={missing}: directory not found", stderr.ToString());
    }
}

using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

/// <summary>
/// Bad options and run directories are refused before anything is printed or created: exit 2, exactly one line on
/// stderr naming the option, and no run directory (issue 9, items 7, 8, 9, 17, 19, 21); merge finishes a merge that
/// was killed (item 14); report on a complete shard says to merge it (item 15).
/// </summary>
public sealed class CertifyRefusalTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-refusal-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => ConfigIntegrityTests.Cli(args);

    private static readonly string[] Small = ["--train-size", "200", "--test-size", "20", "--classes", "0,1", "--epochs", "1", "--backend", "cpu", "--models", "6"];

    private static void AssertOneLine(string err, string named)
    {
        string[] lines = err.Trim().Split('\n');
        Assert.True(lines.Length == 1, err);
        Assert.StartsWith("nativecert: error: ", lines[0]);
        Assert.Contains(named, lines[0]);
    }

    [Theory]
    [InlineData("--batch 0", "--batch 0: must be at least 1")]
    [InlineData("--lr Infinity", "--lr Infinity")]
    [InlineData("--momentum 1", "--momentum 1: must be in [0, 1)")]
    [InlineData("--weight-decay -1", "--weight-decay -1")]
    [InlineData("--sigma NaN", "--sigma NaN")]
    [InlineData("--epochs 0", "--epochs 0")]
    [InlineData("--backend tpu", "--backend tpu")]
    [InlineData("--method foo", "'foo'")]
    [InlineData("--threads -1", "--threads -1")]
    [InlineData("--chunk -2", "--chunk -2")]
    [InlineData("--alpha 0", "--alpha 0")]
    [InlineData("--radii 0,-1", "--radii")]
    [InlineData("--classes 3,3", "--classes 3,3")]
    [InlineData("--train-size 0", "--train-size 0")]
    [InlineData("--models-range 0:99", "--models-range 0:99")]
    [InlineData("--method cohen --n0 2147483647", "--n0 2147483647")]          // item 7: n0 + N overflowed
    [InlineData("--hidden 5000000", "--hidden 5000000")]                          // item 8: too large for one flat buffer
    [InlineData("--classes 0,1 --attack patch --target 9", "--target 9")]
    [InlineData("--attack patch --poison 100000", "--poison 100000")]
    [InlineData("--attack mask", "--mask FILE")]
    public void BadOptionsAreRefusedInOneLineBeforeAnythingIsCreated(string options, string named)
    {
        string outDir = Path.Combine(_dir, "run");
        var (code, output, err) = Cli(["certify", "--models", "6", "--test-size", "20", .. options.Split(' '), "--out", outDir]);
        Assert.True(code == 2, $"exit {code}: {err}");
        AssertOneLine(err, named);
        Assert.Empty(output);
        Assert.False(Directory.Exists(outDir), "the run directory was created");
    }

    [Fact]
    public void ResumeErrorsAreOneLineAndNameWhatDiffers()
    {
        // Item 21: a missing directory is reported before any data is loaded (no data line, the directory named).
        string missing = Path.Combine(_dir, "missing");
        var (code, _, err) = Cli("certify", "--resume", "--out", missing);
        Assert.Equal(2, code);
        AssertOneLine(err, missing);
        Assert.False(Directory.Exists(missing));

        string run = Path.Combine(_dir, "mnist");
        Assert.Equal(0, Cli(["certify", .. Small, "--out", run]).Code);
        var before = ConfigIntegrityTests.Snapshot(new RunDirectory(run));

        // Item 19: another dataset is named as the difference, before it is loaded (this CSV file does not even exist).
        (code, _, err) = Cli("certify", "--resume", "--out", run, "--dataset", "csv:" + Path.Combine(_dir, "good.csv"));
        Assert.Equal(2, code);
        AssertOneLine(err, "--dataset mnist (run) vs csv:");
        Assert.DoesNotContain("--train-size", err);

        (code, _, err) = Cli("certify", "--resume", "--out", run, "--sigma", "0.3", "--hidden", "16");
        Assert.Equal(2, code);
        AssertOneLine(err, "--hidden 128 (run) vs 16 (now); --sigma 0.5 (run) vs 0.3 (now)");
        Assert.DoesNotContain("--train-size", err);

        (code, _, err) = Cli("certify", "--resume", "--out", run, "--models-range", "0:3");
        Assert.Equal(2, code);
        AssertOneLine(err, "--models-range");

        (code, _, err) = Cli("certify", "--resume", "--out", run, "--batch", "0");
        Assert.Equal(2, code);
        AssertOneLine(err, "--batch 0");
        Assert.Equal(before, ConfigIntegrityTests.Snapshot(new RunDirectory(run)));

        // Execution settings may change.
        (code, _, err) = Cli("certify", "--resume", "--out", run, "--threads", "1", "--chunk", "2");
        Assert.True(code == 0, err);
    }

    [Fact]
    public void RerunningAKilledMergeFinishesIt()
    {
        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b"), full = Path.Combine(_dir, "full"), merged = Path.Combine(_dir, "merged");
        Assert.Equal(0, Cli(["certify", .. Small, "--out", full]).Code);
        Assert.Equal(0, Cli(["certify", .. Small, "--out", a, "--models-range", "0:2"]).Code);
        Assert.Equal(0, Cli(["certify", .. Small, "--out", b, "--models-range", "2:6"]).Code);

        // Item 15: report on a complete shard says it is a shard and how to merge it.
        var (code, _, err) = Cli("report", "--run", b);
        Assert.Equal(2, code);
        AssertOneLine(err, "is a shard (models [2, 6) of 6), complete: merge it");
        Assert.Contains("nativecert merge", err);
        Assert.DoesNotContain("--resume", err);

        Assert.Equal(0, Cli("merge", "--out", merged, a, b).Code);
        var reference = ConfigIntegrityTests.Snapshot(new RunDirectory(merged));

        // Item 14: killed after config.json (or votes.bin) was written, before the report: the same merge again finishes it.
        foreach (string[] left in new[] { new[] { "config.json", "votes.bin" }, ["votes.bin"], ["config.json"] })
        {
            foreach (string f in Directory.GetFiles(merged)) if (!left.Contains(Path.GetFileName(f))) File.Delete(f);
            (code, _, err) = Cli("merge", "--out", merged, a, b);
            Assert.True(code == 0, $"{string.Join(",", left)}: {err}");
            var now = ConfigIntegrityTests.Snapshot(new RunDirectory(merged));
            foreach (string f in new[] { "votes.bin", "certificates.tsv", "summary.json", "summary.txt" }) Assert.Equal(reference[f], now[f]);
        }
        Assert.Equal(File.ReadAllBytes(Path.Combine(full, "votes.bin")), File.ReadAllBytes(Path.Combine(merged, "votes.bin")));

        // Another run in the directory is not this merge's: refused, untouched.
        var fullBefore = ConfigIntegrityTests.Snapshot(new RunDirectory(full));
        string other = Path.Combine(_dir, "other");
        Assert.Equal(0, Cli(["certify", .. Small, "--seed", "3", "--out", other, "--models-range", "0:2"]).Code);
        (code, _, err) = Cli("merge", "--out", full, other, b);
        Assert.Equal(2, code);
        (code, _, err) = Cli("merge", "--out", full, a, b);
        Assert.Equal(0, code);
        Assert.Equal(fullBefore["votes.bin"], ConfigIntegrityTests.Snapshot(new RunDirectory(full))["votes.bin"]);
        string lone = Path.Combine(_dir, "lone");
        Assert.Equal(0, Cli(["certify", .. Small, "--seed", "3", "--out", lone]).Code);
        (code, _, err) = Cli("merge", "--out", lone, a, b);
        Assert.Equal(2, code);
        AssertOneLine(err, "already holds another run");

        // The output may not be one of the inputs: a complete run merged into itself had its config.json rewritten
        // (backend facts dropped, created_utc reset) with exit 0.
        fullBefore = ConfigIntegrityTests.Snapshot(new RunDirectory(full));
        (code, _, err) = Cli("merge", "--out", full + "/", full);
        Assert.Equal(2, code);
        AssertOneLine(err, "is the shard");
        Assert.Equal(fullBefore, ConfigIntegrityTests.Snapshot(new RunDirectory(full)));
    }
}

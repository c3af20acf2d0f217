using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-atomic-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WritesReplacesAndLeavesNoTemporaries()
    {
        string path = Path.Combine(_dir, "a.txt");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Equal(["a.txt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void FailureMidWriteKeepsTheOldFileAndRemovesTheTemporary()
    {
        string path = Path.Combine(_dir, "votes.bin");
        AtomicFile.WriteAllText(path, "complete old content");
        var e = Assert.Throws<UserInputException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("No space left on device");
        }));
        Assert.Contains("votes.bin", e.Message);
        Assert.Contains("No space left on device", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal("complete old content", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void UnwritableDirectoryIsAUserErrorNamingTheFile()
    {
        // A path under a regular file cannot be created, even by root.
        string blocker = Path.Combine(_dir, "file");
        File.WriteAllText(blocker, "x");
        var e = Assert.Throws<UserInputException>(() => AtomicFile.WriteAllText(Path.Combine(blocker, "config.json"), "{}"));
        Assert.Contains("config.json", e.Message);
        var d = Assert.Throws<UserInputException>(() => AtomicFile.CreateDirectory(Path.Combine(blocker, "run"), "--out"));
        Assert.StartsWith("--out", d.Message);
    }

    [Fact]
    public void Crc32MatchesTheCheckValue() =>
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
}

public sealed class RunDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-rundir-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ASecondProcessCannotTakeTheRunLock()
    {
        var run = new RunDirectory(_dir);
        using (run.Lock("--out"))
        {
            var e = Assert.Throws<UserInputException>(() => run.Lock("--out"));
            Assert.Contains("in use", e.Message);
        }
        run.Lock("--out").Dispose(); // released
    }

    [Fact]
    public void SummaryMarksCompletionAndIsRemovedFirst()
    {
        var run = new RunDirectory(_dir);
        Assert.False(run.IsComplete);
        File.WriteAllText(run.SummaryPath, "{}");
        Assert.True(run.IsComplete);
        run.MarkIncomplete();
        Assert.False(run.IsComplete);
        Assert.StartsWith(Path.Combine("runs", "2026"), RunDirectory.DefaultPath(new DateTime(2026, 11, 25, 10, 19, 0, DateTimeKind.Utc)));
    }
}

using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

public sealed class RunDirectoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-rundir-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ASecondProcessCannotTakeTheRunLock()
    {
        var run = new RunDirectory(_dir);
        using (run.Lock())
        {
            var e = Assert.Throws<UserInputException>(() => run.Lock());
            Assert.Contains("in use", e.Message);
        }
        run.Lock().Dispose(); // released
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

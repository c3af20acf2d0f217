using System.IO.Compression;
using NativeCert.IO;

namespace NativeCert.Tests.IO;

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
    public void WriteTextStreamsUtf8WithoutAByteOrderMark()
    {
        string path = Path.Combine(_dir, "certificates.tsv");
        AtomicFile.WriteText(path, w => { w.Write("idx\tσ\n"); w.Write(0); });
        Assert.Equal("idx\tσ\n0"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void GzipWriteRoundTripsThroughAStandardDecoder()
    {
        string path = Path.Combine(_dir, "labels.gz");
        byte[] data = Enumerable.Range(0, 5000).Select(i => (byte)(i % 10)).ToArray();
        AtomicFile.WriteAllBytes(path, data, gzip: true);
        using var z = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        var back = new MemoryStream();
        z.CopyTo(back);
        Assert.Equal(data, back.ToArray());
        AtomicFile.WriteAllBytes(path, data, gzip: false);
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void MissingDirectoryIsAOneLineUserErrorAndCreatesNothing()
    {
        string missing = Path.Combine(_dir, "no-such-dir");
        var e = Assert.Throws<UserInputException>(() => AtomicFile.WriteAllBytes(Path.Combine(missing, "model.bin"), [1, 2, 3]));
        Assert.Contains("model.bin", e.Message);
        Assert.Contains("does not exist", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(missing));
    }
}

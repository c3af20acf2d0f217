using NativeCert.Data;

namespace NativeCert.Tests.Data;

/// <summary>A temporary directory for files a test writes, removed afterwards, plus small synthetic data.</summary>
public sealed class DataTestFiles : IDisposable
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("nativecert-data-test-").FullName;

    public string PathOf(string name) => Path.Combine(Dir, name);

    public string SubDir(string name) => Directory.CreateDirectory(PathOf(name)).FullName;

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Seeded random bytes, <c>(n)</c>.</summary>
    public static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Labels 0..classes−1 cycling, so every class appears.</summary>
    public static byte[] CyclingLabels(int n, int classes) => Enumerable.Range(0, n).Select(i => (byte)(i % classes)).ToArray();

    /// <summary>Writes an IDX directory (train-*/t10k-* images and labels) and returns the pixels and labels written.</summary>
    public (byte[] TrainPixels, byte[] TrainLabels, byte[] TestPixels, byte[] TestLabels) WriteIdxDir(
        string dir, int nTrain, int nTest, int rows, int cols, int classes, bool gzip, int seed = 1)
    {
        string ext = gzip ? ".gz" : "";
        byte[] trainPixels = RandomBytes(nTrain * rows * cols, seed), testPixels = RandomBytes(nTest * rows * cols, seed + 1);
        byte[] trainLabels = CyclingLabels(nTrain, classes), testLabels = CyclingLabels(nTest, classes);
        IdxFormat.WriteImages(Path.Combine(dir, "train-images-idx3-ubyte" + ext), trainPixels, nTrain, rows, cols, gzip);
        IdxFormat.WriteLabels(Path.Combine(dir, "train-labels-idx1-ubyte" + ext), trainLabels, gzip);
        IdxFormat.WriteImages(Path.Combine(dir, "t10k-images-idx3-ubyte" + ext), testPixels, nTest, rows, cols, gzip);
        IdxFormat.WriteLabels(Path.Combine(dir, "t10k-labels-idx1-ubyte" + ext), testLabels, gzip);
        return (trainPixels, trainLabels, testPixels, testLabels);
    }

    /// <summary>Asserts the action throws a one-line UserInputException whose message names <paramref name="mustName"/>.</summary>
    public static UserInputException AssertUserError(Action action, string mustName, string? mustContain = null)
    {
        var e = Assert.ThrowsAny<UserInputException>(action);
        Assert.Contains(mustName, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        if (mustContain is not null) Assert.Contains(mustContain, e.Message, StringComparison.OrdinalIgnoreCase);
        return e;
    }
}

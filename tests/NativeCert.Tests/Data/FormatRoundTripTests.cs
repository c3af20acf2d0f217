using NativeCert.Data;

namespace NativeCert.Tests.Data;

/// <summary>Every format is written to files and read back through the public loaders.</summary>
public sealed class FormatRoundTripTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IdxDirectoryRoundTripsRawAndGzip(bool gzip)
    {
        string dir = _files.SubDir("idx");
        var (trainPixels, trainLabels, testPixels, testLabels) = _files.WriteIdxDir(dir, nTrain: 30, nTest: 12, rows: 5, cols: 4, classes: 3, gzip);

        DataSplit split = DatasetCatalog.Load("idx:" + dir);

        Assert.Equal(new ImageShape(1, 5, 4), split.Train.Shape);
        Assert.Equal(3, split.Train.ClassCount);
        Assert.Equal(trainPixels.Select(b => b / 255f), split.Train.Features);
        Assert.Equal(trainLabels.Select(b => (int)b), split.Train.Labels);
        Assert.Equal(testPixels.Select(b => b / 255f), split.Test.Features);
        Assert.Equal(testLabels.Select(b => (int)b), split.Test.Labels);
        Assert.All(split.Train.Features, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void GzipIsDetectedByMagicWithoutTheExtension()
    {
        byte[] pixels = DataTestFiles.RandomBytes(6 * 3 * 3, 7);
        string gz = _files.PathOf("images.gz"), plain = _files.PathOf("images-no-extension");
        IdxFormat.WriteImages(gz, pixels, 6, 3, 3, gzip: true);
        File.Copy(gz, plain);
        Assert.Equal(0x1F, File.ReadAllBytes(plain)[0]);

        var (read, count, rows, cols) = IdxFormat.ReadImages(plain);

        Assert.Equal((6, 3, 3), (count, rows, cols));
        Assert.Equal(pixels, read);
    }

    [Fact]
    public void Cifar10DirectoryRoundTrips()
    {
        string dir = _files.SubDir("cifar");
        var trainPixels = new List<byte>();
        var trainLabels = new List<byte>();
        for (int batch = 1; batch <= 5; batch++)
        {
            byte[] px = DataTestFiles.RandomBytes(4 * CifarBinary.PixelBytes, batch);
            byte[] y = DataTestFiles.CyclingLabels(4, 10).Select(l => (byte)((l + batch) % 10)).ToArray();
            CifarBinary.Write(Path.Combine(dir, $"data_batch_{batch}.bin"), px, y);
            trainPixels.AddRange(px);
            trainLabels.AddRange(y);
        }
        byte[] testPx = DataTestFiles.RandomBytes(3 * CifarBinary.PixelBytes, 99);
        byte[] testY = [9, 0, 5];
        CifarBinary.Write(Path.Combine(dir, "test_batch.bin"), testPx, testY);

        DataSplit split = DatasetCatalog.Load("cifar10:" + dir);

        Assert.Equal(new ImageShape(3, 32, 32), split.Train.Shape);
        Assert.Equal(20, split.Train.Count);
        Assert.Equal(trainPixels.Select(b => b / 255f), split.Train.Features);
        Assert.Equal(trainLabels.Select(b => (int)b), split.Train.Labels);
        Assert.Equal(testPx.Select(b => b / 255f), split.Test.Features);
        Assert.Equal([9, 0, 5], split.Test.Labels);
        Assert.Equal("cat", split.ClassNames[3]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CsvRoundTripsExactlyWithAndWithoutHeader(bool header)
    {
        var rng = new Random(3);
        int n = 40, d = 6;
        var features = Enumerable.Range(0, n * d).Select(_ => (float)(rng.NextDouble() * 200 - 100) * 1e-3f).ToArray();
        features[0] = 1e-30f; features[1] = -3.4e38f; features[2] = 0.1f;
        var labels = Enumerable.Range(0, n).Select(i => i % 4).ToArray();
        var train = new Dataset(features, labels, d, 4, null, "t");
        var test = train.Select([5, 1, 2]);
        string trainPath = _files.PathOf("train.csv"), testPath = _files.PathOf("test.csv");
        CsvFormat.Write(trainPath, train, header);
        CsvFormat.Write(testPath, test, header);

        DataSplit split = DatasetCatalog.Load($"csv:{trainPath},{testPath}");

        Assert.Null(split.Train.Shape);
        Assert.Equal(4, split.Train.ClassCount);
        Assert.Equal(features, split.Train.Features);
        Assert.Equal(labels, split.Train.Labels);
        Assert.Equal(test.Features, split.Test.Features);
        Assert.Equal(test.Labels, split.Test.Labels);
        Assert.Equal(header, CsvFormat.Read(trainPath).Header is not null);
    }

    [Fact]
    public void SingleCsvIsSplit8020StratifiedAndDeterministically()
    {
        int n = 103, d = 3;
        var features = Enumerable.Range(0, n * d).Select(i => (float)i).ToArray(); // every row distinct
        var labels = Enumerable.Range(0, n).Select(i => i % 3 == 0 ? 0 : (i % 3 == 1 ? 1 : 2)).ToArray();
        string path = _files.PathOf("all.csv");
        CsvFormat.Write(path, new Dataset(features, labels, d, 3, null, "t"), header: true);

        DataSplit a = DatasetCatalog.Load("csv:" + path), b = DatasetCatalog.Load("csv:" + path);

        Assert.Equal(103 - 20, a.Train.Count);
        Assert.Equal(20, a.Test.Count);
        Assert.Equal(a.Train.Features, b.Train.Features);
        Assert.Equal(a.Test.Labels, b.Test.Labels);
        var trainRows = Enumerable.Range(0, a.Train.Count).Select(i => a.Train.Row(i)[0]).ToHashSet();
        var testRows = Enumerable.Range(0, a.Test.Count).Select(i => a.Test.Row(i)[0]).ToHashSet();
        Assert.Empty(trainRows.Intersect(testRows));
        Assert.Equal(n, trainRows.Count + testRows.Count);
        int[] trainQuota = StratifiedSampler.Apportion([35, 34, 34], 83);
        Assert.Equal(trainQuota, a.Train.ClassCounts());
        Assert.Equal(new[] { 35, 34, 34 }.Zip(trainQuota, (all, train) => all - train), a.Test.ClassCounts());
    }
}

public sealed class GzipIntegrityTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose() => _files.Dispose();

    [Fact]
    public void FlippedBitInsideTheCompressedDataIsCaughtByTheTrailer()
    {
        string path = _files.PathOf("labels.gz");
        IdxFormat.WriteLabels(path, DataTestFiles.CyclingLabels(4000, 10), gzip: true);
        byte[] gz = File.ReadAllBytes(path);
        gz[^9] ^= 0x01; // last byte of deflate data, or the CRC itself: both must be caught
        File.WriteAllBytes(path, gz);
        DataTestFiles.AssertUserError(() => IdxFormat.ReadLabels(path), path);
    }
}

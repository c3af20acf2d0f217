using System.Buffers.Binary;
using NativeCert.Data;
using static NativeCert.Tests.Data.DataTestFiles;

namespace NativeCert.Tests.Data;

/// <summary>Every malformed input is a one-line UserInputException that names the file (or option) and the problem.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly DataTestFiles _files = new();
    public void Dispose() => _files.Dispose();

    private string IdxDir(int nTrain = 20, int nTest = 10, int classes = 4, bool gzip = false)
    {
        string dir = _files.SubDir("idx" + Guid.NewGuid().ToString("N")[..6]);
        _files.WriteIdxDir(dir, nTrain, nTest, 4, 4, classes, gzip);
        return dir;
    }

    private static void Truncate(string path, int removeBytes)
    {
        byte[] b = File.ReadAllBytes(path);
        File.WriteAllBytes(path, b[..^removeBytes]);
    }

    [Fact]
    public void TruncatedIdxImages()
    {
        string dir = IdxDir();
        string images = Path.Combine(dir, "train-images-idx3-ubyte");
        Truncate(images, 5);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), images, "truncated");
    }

    [Fact]
    public void TruncatedIdxLabelsInsideGzip()
    {
        string dir = IdxDir(gzip: true);
        string labels = Path.Combine(dir, "t10k-labels-idx1-ubyte.gz");
        byte[] raw = new byte[8 + 9]; // header says 10 labels, 9 present
        BinaryPrimitives.WriteUInt32BigEndian(raw, IdxFormat.LabelsMagic);
        BinaryPrimitives.WriteUInt32BigEndian(raw.AsSpan(4), 10);
        DataFiles.WriteAtomic(labels, raw, gzip: true);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), labels, "truncated");
    }

    [Fact]
    public void TruncatedGzipStream()
    {
        string dir = IdxDir(gzip: true);
        string images = Path.Combine(dir, "train-images-idx3-ubyte.gz");
        Truncate(images, 12);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), images);
    }

    [Fact]
    public void WrongIdxMagic()
    {
        string dir = IdxDir();
        string images = Path.Combine(dir, "train-images-idx3-ubyte");
        File.Copy(Path.Combine(dir, "train-labels-idx1-ubyte"), images, overwrite: true);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), images, "wrong magic 0x00000801");
    }

    [Fact]
    public void LabelCountDiffersFromImageCount()
    {
        string dir = IdxDir(nTrain: 20);
        string labels = Path.Combine(dir, "train-labels-idx1-ubyte");
        IdxFormat.WriteLabels(labels, CyclingLabels(19, 4), gzip: false);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), labels, "19 labels but");
    }

    [Fact]
    public void TestLabelAtOrAboveClassCountOfIdxDirectory()
    {
        string dir = IdxDir(classes: 4);
        string labels = Path.Combine(dir, "t10k-labels-idx1-ubyte");
        byte[] y = CyclingLabels(10, 4);
        y[7] = 4; // training labels are 0..3, so 4 classes
        IdxFormat.WriteLabels(labels, y, gzip: false);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), labels, "record 7 has label 4, not below the class count 4");
    }

    [Fact]
    public void LabelAboveTenInFashionMnistDirectory()
    {
        string dir = IdxDir(classes: 4);
        string labels = Path.Combine(dir, "train-labels-idx1-ubyte");
        byte[] y = CyclingLabels(20, 4);
        y[3] = 10;
        IdxFormat.WriteLabels(labels, y, gzip: false);
        AssertUserError(() => DatasetCatalog.Load("fashion-mnist:" + dir), labels, "not below the class count 10");
    }

    [Fact]
    public void CifarLabelAboveNineAndTruncatedRecord()
    {
        string dir = _files.SubDir("cifar");
        for (int b = 1; b <= 5; b++) CifarBinary.Write(Path.Combine(dir, $"data_batch_{b}.bin"), new byte[2 * CifarBinary.PixelBytes], [1, 2]);
        string test = Path.Combine(dir, "test_batch.bin");
        CifarBinary.Write(test, new byte[2 * CifarBinary.PixelBytes], [3, 10]);
        AssertUserError(() => DatasetCatalog.Load("cifar10:" + dir), test, "record 1 has label 10");

        CifarBinary.Write(test, new byte[2 * CifarBinary.PixelBytes], [3, 4]);
        Truncate(test, 1);
        AssertUserError(() => DatasetCatalog.Load("cifar10:" + dir), test, "not a whole number of 3073-byte records");

        File.Delete(Path.Combine(dir, "data_batch_4.bin"));
        AssertUserError(() => DatasetCatalog.Load("cifar10:" + dir), "data_batch_4.bin", "file not found");
    }

    [Theory]
    [InlineData("1,0.5,NaN\n0,1,2\n", "line 1, column 3", "not a finite float")]
    [InlineData("label,a,b\n1,0.5,2\n0,Infinity,2\n", "line 3, column 2", "not a finite float")]
    [InlineData("1,0.5,2\n0,1e39,2\n", "line 2, column 2", "not a finite float")]
    [InlineData("1,0.5,2\n0,1\n", "line 2", "ragged row with 2 fields, expected 3")]
    [InlineData("a,b,c\n1,0.5,2\n0,1,2,3\n", "line 3", "ragged row with 4 fields, expected 3")]
    [InlineData("1,0.5,2\n0,x,2\n", "line 2, column 2", "not a number")]
    [InlineData("1,0.5,2\n-1,1,2\n", "line 2", "label '-1' is not a non-negative integer")]
    [InlineData("1,0.5,2\n0.5,1,2\n", "line 2", "not a non-negative integer")]
    [InlineData("label,a,b\n", "", "no data rows")]
    [InlineData("", "", "no data rows")]
    [InlineData("0,0.5,2\n0,1,2\n", "", "at least two classes")]
    public void MalformedCsv(string text, string where, string problem)
    {
        string path = _files.PathOf("bad.csv");
        File.WriteAllText(path, text);
        var e = AssertUserError(() => DatasetCatalog.Load("csv:" + path + "," + path), path, problem);
        Assert.Contains(where, e.Message);
    }

    [Fact]
    public void CsvTestLabelAtOrAboveTrainingClassCount()
    {
        string train = _files.PathOf("train.csv"), test = _files.PathOf("test.csv");
        File.WriteAllText(train, "0,1\n1,2\n2,3\n");
        File.WriteAllText(test, "0,1\n3,2\n");
        AssertUserError(() => DatasetCatalog.Load($"csv:{train},{test}"), test, "data row 2 has label 3, not below the class count 3");
    }

    [Fact]
    public void EmptyIdxSetAndEmptyFile()
    {
        string dir = IdxDir();
        string images = Path.Combine(dir, "t10k-images-idx3-ubyte");
        IdxFormat.WriteImages(images, [], 0, 4, 4, gzip: false);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), images, "empty IDX image file");

        File.WriteAllBytes(images, []);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), images, "truncated");
    }

    [Fact]
    public void EmptyClassSubset()
    {
        string dir = IdxDir(nTrain: 20, nTest: 2, classes: 4); // test labels 0,1 only
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { Classes = [2, 3] }), "data.classes 2,3", "no test rows");
    }

    [Fact]
    public void TrainTestDimensionMismatch()
    {
        string dir = IdxDir();
        string testImages = Path.Combine(dir, "t10k-images-idx3-ubyte");
        IdxFormat.WriteImages(testImages, new byte[10 * 5 * 4], 10, 5, 4, gzip: false);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), testImages, "shape 1x5x4 but the training records");

        string train = _files.PathOf("a.csv"), test = _files.PathOf("b.csv");
        File.WriteAllText(train, "0,1,2\n1,2,3\n");
        File.WriteAllText(test, "0,1\n");
        AssertUserError(() => DatasetCatalog.Load($"csv:{train},{test}"), test, "1 features but the training records");
    }

    [Theory]
    [InlineData("svhn")]
    [InlineData("mnist2")]
    [InlineData("foo:bar")]
    public void UnknownDatasetName(string spec) =>
        AssertUserError(() => DatasetCatalog.Load(spec), $"data.dataset '{spec}'", "unknown dataset");

    [Theory]
    [InlineData("idx:")]
    [InlineData("cifar10:")]
    [InlineData("fashion-mnist:")]
    public void MissingDirectory(string prefix)
    {
        string missing = Path.Combine(_files.Dir, "does-not-exist");
        AssertUserError(() => DatasetCatalog.Load(prefix + missing), missing, "directory not found");
    }

    [Fact]
    public void MissingFilesInDirectory()
    {
        string dir = _files.SubDir("empty");
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir), dir, "no train-images-idx3-ubyte[.gz] file");
        string csv = Path.Combine(dir, "none.csv");
        AssertUserError(() => DatasetCatalog.Load("csv:" + csv), csv, "file not found");
    }

    [Fact]
    public void BadSubsetOptions()
    {
        string dir = IdxDir(nTrain: 20, nTest: 10);
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { TrainSize = 21 }), "data.train_size 21", "only 20 training rows");
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { TestSize = 0 }), "data.test_size 0", "at least 1");
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { Classes = [1, 9] }), "data.classes 1,9", "class 9 is not in");
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { Classes = [1, 1] }), "data.classes 1,1", "repeated");
        AssertUserError(() => DatasetCatalog.Load("idx:" + dir, new DataLoadOptions { Classes = [1] }), "data.classes 1", "at least two");
    }
}

using System.IO.Compression;
using NativeCert.Data;
using static NativeCert.Tests.Cli.CliRunner;

namespace NativeCert.Tests.Cli;

/// <summary>
/// Issue #9's bad inputs from the command line, one table row each: exit 2, one stderr line naming the file,
/// option or field, and nothing created or changed in the directory the files live in.
/// </summary>
public sealed class BadInputCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-bad-cli-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public BadInputCliTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "csvdir"));
        string good = string.Concat(Enumerable.Range(0, 20).Select(i => $"{i % 2},{i * 0.05},{1 - i * 0.05},0.5\n"));
        File.WriteAllText(Path.Combine(_dir, "good.csv"), good);
        File.WriteAllText(Path.Combine(_dir, "huge-label.csv"), "0,1,2\n1,2,3\n2147483647,3,4\n");
        File.WriteAllText(Path.Combine(_dir, "sparse-label.csv"), "0,1\n1,2\n0,3\n1,2\n0,1\n1,2\n1000,3\n");
        File.WriteAllText(Path.Combine(_dir, "nul.csv"), "0,1\n1,2\n0,3.5\0\0\n1,2\n0,1\n");
        File.WriteAllText(Path.Combine(_dir, "mask.txt"), ". 1");
        File.WriteAllText(Path.Combine(_dir, "not-a-run"), "x");
        File.WriteAllText(Path.Combine(_dir, "counts.tsv"), "label\tcount_0\tcount_1\n0\t90\t10\n1\t5\t95\n");
        byte[] gz = Gzip(System.Text.Encoding.UTF8.GetBytes(good));
        for (int i = 12; i < 24; i++) gz[i] ^= 0xFF; // inside the deflate stream, past the 10-byte header
        File.WriteAllBytes(Path.Combine(_dir, "corrupt.csv.gz"), gz);
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(data);
        return output.ToArray();
    }

    /// <summary>Arguments (<c>{dir}</c> is the test directory), then what the one error line must contain.</summary>
    public static TheoryData<string[], string[]> Cases => new()
    {
        // item 16: unknown command named, nearest suggested
        { ["frobnicate"], ["'frobnicate' is not a command", "certify"] },
        { ["certfy", "--models", "3"], ["'certfy'", "did you mean 'certify'?"] },
        { ["data", "infoo"], ["'infoo' is not a data command", "did you mean 'info'?"] },
        { [], ["no command given"] },
        // item 12: bench validates sigma like certify
        { ["bench", "--sigma", "-1"], ["--sigma -1", "positive"] },
        { ["bench", "--sigma", "NaN"], ["--sigma NaN", "positive"] },
        { ["bench", "--model", "lenet", "--warmup-epochs", "-1"], ["--warmup-epochs", "zero (no warm-up) or a positive number"] },
        { ["certify", "--model", "lenet", "--warmup-epochs", "-2", "--out", "{dir}/run"], ["--warmup-epochs -2", "zero (no warm-up) or a positive number"] },
        // item 13: certify-counts --out must not be an input
        { ["certify-counts", "--counts", "{dir}/counts.tsv", "--sigma", "0.5", "--out", "{dir}/counts.tsv"], ["--out {dir}/counts.tsv", "--counts"] },
        { ["certify-counts", "--counts", "{dir}/counts.tsv", "--sigma", "0.5", "--out", "{dir}/./counts.tsv"], ["--out", "--counts"] },
        { ["certify-counts", "--counts", "{dir}/counts.tsv", "--sigma", "0.5", "--out", "{dir}/missing/c.tsv"], ["--out", "does not exist"] },
        { ["vote", "--ensemble", "{dir}/counts.tsv", "--out", "{dir}/counts.tsv"], ["--out {dir}/counts.tsv", "--ensemble"] },
        // item 6: class count bounded, no overflow
        { ["data", "info", "--dataset", "csv:{dir}/huge-label.csv"], ["{dir}/huge-label.csv", "line 3", "label 2147483647", "65536"] },
        { ["data", "info", "--dataset", "csv:{dir}/sparse-label.csv"], ["{dir}/sparse-label.csv", "1001 classes", "only 7 rows"] },
        // item 20: corrupt deflate data
        { ["data", "info", "--dataset", "csv:{dir}/corrupt.csv.gz"], ["{dir}/corrupt.csv.gz", "corrupt"] },
        // item 21
        { ["data", "info", "--dataset", "csv:{dir}/csvdir"], ["{dir}/csvdir", "is a directory"] },
        { ["data", "info", "--dataset", "csv:{dir}/nul.csv"], ["{dir}/nul.csv", "line 3", "NUL byte"] },
        { ["report", "--run", "{dir}/not-a-run"], ["--run", "{dir}/not-a-run", "is a file"] },
        { ["certify", "--train-size", "20", "--test-size", "5", "--models", "1", "--epochs", "1", "--out", ""], ["--out", "path is empty"] },
        { ["merge", "--out", " ", "{dir}/csvdir"], ["--out", "path is empty"] },
        { ["data", "info", "--dataset", "csv:{dir}/good.csv", "--attack", "mask", "--mask", "{dir}/mask.txt"], ["{dir}/mask.txt", "expected 3 (one per feature)"] },
        { ["data", "info", "--classes", "1,7", "--attack", "patch", "--poison", "5000", "--target", "7"], ["--poison 5000", "target class 7"] },
        { ["bound", "--k", "1", "--n", "10", "--alpha", "1e-400"], ["--alpha 1e-400", "underflows"] },
        { ["bound", "--k", "1", "--n", "10", "--alpha", "0.6"], ["--alpha 0.6", "[1e-300, 0.5]"] },
        { ["bound", "--k", "1", "--n", "10", "--alpha", "1e-301"], ["--alpha 1e-301", "[1e-300, 0.5]"] },
        { ["bound", "--k", "1", "--n", "2000000000", "--alpha", "0.1"], ["--n 2000000000", "10^9"] },
        { ["train", "--train-size", "20", "--hidden", "4", "--epochs", "1", "--out", "{dir}/csvdir"], ["--out {dir}/csvdir", "is a directory"] },
        { ["train", "--train-size", "20", "--hidden", "4", "--epochs", "1", "--out", "{dir}/not-a-run/e.bin"], ["--out", "is a file"] },
        // item 10
        { ["train", "--model-start", "2147483647", "--out", "{dir}/e.bin"], ["--model-start 2147483647", "--models 100"] },
        // items 5 and 8: memory plan and the flat-buffer limit, before anything is allocated or written
        { ["train", "--train-size", "20", "--hidden", "5000000", "--out", "{dir}/e.bin"], ["--hidden", "flat buffer"] },
        { ["train", "--train-size", "20", "--hidden", "2000000", "--threads", "64", "--models", "64", "--out", "{dir}/e.bin"], ["the cpu engine needs", "available"] },
        { ["bench", "--hidden", "2000000", "--threads", "64", "--models", "64", "--examples", "100"], ["the cpu engine needs", "available"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedInOneLineAndTouchesNothing(string[] args, string[] mustContain)
    {
        string[] Fill(string[] s) => s.Select(a => a.Replace("{dir}", _dir)).ToArray();
        AssertRefused(_dir, Fill(args), Fill(mustContain));
    }
}

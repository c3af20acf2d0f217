using NativeCert.Certification;
using NativeCert.Engine;
using NativeCert.Tests.Cli;

namespace NativeCert.Tests.Certification;

/// <summary>
/// One votes.tsv format: a run directory's votes.tsv and <c>nativecert vote</c>'s output have the same columns, and
/// <c>certify-counts</c> reads both as they are, giving the run's own certificates.
/// </summary>
public sealed class VotesTsvFormatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-votes-tsv-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Tiny =
        ["--train-size", "300", "--test-size", "40", "--classes", "0,1,7", "--hidden", "16", "--epochs", "1", "--batch", "32",
         "--sigma", "0.25", "--threads", "2"];

    private static void Ok((int Code, string Out, string Err) r) => Assert.True(r.Code == 0, r.Err);

    [Theory]
    [InlineData("simuem")]
    [InlineData("cohen")]
    public void CertifyCountsOnARunsVotesTsvReproducesItsCertificates(string method)
    {
        string run = Path.Combine(_dir, method);
        string[] cohen = method == "cohen" ? ["--n0", "8"] : [];
        // An attack run: votes.tsv holds clean and triggered rows (and the undefended model's column).
        Ok(CliRunner.Run(["certify", .. Tiny, "--models", "30", "--method", method, .. cohen, "--attack", "patch", "--poison", "10", "--target", "7",
                "--alpha", "0.01", "--out", run]));
        string votes = Path.Combine(run, "votes.tsv");
        string header = File.ReadLines(votes).First();
        Assert.StartsWith("idx\tset\tlabel\tmodels\tn_0\tn_1\tn_2", header);
        Assert.Equal(method == "cohen", header.Contains("\tn0_0"));
        Assert.EndsWith("\tundefended", header);

        foreach (var (set, certificates) in new[] { ("clean", "certificates.tsv"), ("triggered", "certificates-triggered.tsv") })
        {
            string mine = Path.Combine(_dir, $"{method}-{set}.tsv");
            Ok(CliRunner.Run("certify-counts", "--counts", votes, "--set", set, "--method", method, "--sigma", "0.25", "--alpha", "0.01", "--out", mine));
            // Every column but the run's max_poison (which needs the attack's trigger norm): idx label prediction p_a p_b radius correct.
            var expected = File.ReadAllLines(Path.Combine(run, certificates)).Select(l => string.Join('\t', l.Split('\t')[..7]));
            Assert.Equal(expected, File.ReadAllLines(mine));
        }
    }

    [Fact]
    public void VoteWritesTheRunFormatAndCertifyCountsReadsIt()
    {
        string ensemble = Path.Combine(_dir, "e.bin"), votes = Path.Combine(_dir, "votes.tsv");
        Ok(CliRunner.Run(["train", .. Tiny, "--models", "12", "--out", ensemble]));
        Ok(CliRunner.Run(["vote", "--ensemble", ensemble, "--out", votes, .. Tiny[..6]]));
        string[] lines = File.ReadAllLines(votes);
        Assert.Equal("idx\tset\tlabel\tmodels\tn_0\tn_1\tn_2", lines[0]);
        Assert.Equal(41, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Equal(["clean", "12"], l.Split('\t')[1..2].Append(l.Split('\t')[3])));

        var read = VoteCountsTsv.Read(votes);
        Assert.Equal(12, read.ModelsPerInput);
        Assert.Equal(Enumerable.Repeat("clean", 40), read.Sets!);
        var certified = CliRunner.Run("certify-counts", "--counts", votes, "--sigma", "0.25");
        Ok(certified);
        var expected = Certifier.CertifySimuEM(read.Counts, 0.25, 0.001);
        var rows = certified.Out.Trim().Split('\n').Skip(1).ToArray();
        Assert.Equal(40, rows.Length);
        for (int i = 0; i < 40; i++) Assert.Equal(expected[i].Prediction.ToString(), rows[i].Split('\t')[2]);

        // --split train rows are marked so.
        string train = Path.Combine(_dir, "train.tsv");
        Ok(CliRunner.Run(["vote", "--ensemble", ensemble, "--out", train, "--split", "train", .. Tiny[..6]]));
        Assert.Equal("train", File.ReadAllLines(train)[1].Split('\t')[1]);
    }

    [Fact]
    public void WriteThenReadRoundTripsEveryColumn()
    {
        var estimation = new VoteCounts(3, 2, [5, 1, 0, 6, 3, 3]);
        var selection = new VoteCounts(3, 2, [2, 0, 1, 1, 0, 2]);
        string path = Path.Combine(_dir, "rt.tsv");
        VoteCountsTsv.Write(path, [0, 1, 1], ["clean", "clean", "triggered"], estimation, selection, [0, 1, 1]);
        var read = VoteCountsTsv.Read(path);
        Assert.Equal(estimation.Counts, read.Counts.Counts);
        Assert.Equal(selection.Counts, read.Selection!.Counts);
        Assert.Equal([0, 1, 1], read.Labels);
        Assert.Equal(["clean", "clean", "triggered"], read.Sets!);
        var triggered = read.Where("triggered");
        Assert.Equal([3u, 3u], triggered.Counts.Counts);
        Assert.Equal([0u, 2u], triggered.Selection!.Counts);
        Assert.Equal([1], triggered.Labels);
    }

    [Theory]
    [InlineData("idx\tset\tlabel\tmodels\tn_0\tn_1\n0\tclean\t0\t7\t5\t1\n", "models is '7'")]
    [InlineData("idx\tset\tlabel\tmodels\tn_0\tn_1\tn0_0\n0\tclean\t0\t6\t5\t1\t1\n", "n0_* columns")]
    [InlineData("idx\tset\tlabel\tmodels\tn_0\tn_1\tn0_0\tn0_1\n0\tclean\t0\t6\t5\t1\t1\t1\n1\tclean\t0\t6\t5\t1\t1\t0\n", "n0_* counts sum to 1")]
    public void InconsistentRunFormatRowsAreRefusedNamingTheLine(string text, string what)
    {
        string path = Path.Combine(_dir, "bad.tsv");
        File.WriteAllText(path, text);
        var e = Assert.Throws<UserInputException>(() => VoteCountsTsv.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void SetAndCohenOptionsAreCheckedAgainstTheFile()
    {
        string plain = Path.Combine(_dir, "plain.tsv");
        File.WriteAllText(plain, "label\ta\tb\n0\t9\t1\n");
        var r = CliRunner.Run("certify-counts", "--counts", plain, "--sigma", "1", "--set", "clean");
        Assert.Equal(2, r.Code);
        Assert.Contains("no set column", r.Err);
        string run = Path.Combine(_dir, "run.tsv");
        VoteCountsTsv.Write(run, [0], ["clean"], new VoteCounts(1, 2, [9, 1]));
        r = CliRunner.Run("certify-counts", "--counts", run, "--sigma", "1", "--set", "triggered");
        Assert.Equal(2, r.Code);
        Assert.Contains("it has clean", r.Err);
        r = CliRunner.Run("certify-counts", "--counts", run, "--sigma", "1", "--method", "cohen");
        Assert.Equal(2, r.Code);
        Assert.Contains("n0_* columns", r.Err);
    }
}

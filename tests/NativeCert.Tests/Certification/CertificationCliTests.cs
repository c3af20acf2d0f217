using System.Globalization;
using System.Text.Json;
using NativeCert.Certification;
using NativeCert.Cli;

namespace NativeCert.Tests.Certification;

public sealed class CertificationCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-cert-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args) => NativeCert.Tests.Cli.CliRunner.Run(args);

    private string File(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Bound_json_round_trips_the_library_values()
    {
        var (code, stdout, stderr) = Run("bound", "--k", "990", "--n", "1000", "--alpha", "1e-12", "--json");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(990, root.GetProperty("k").GetInt64());
        Assert.Equal(1000, root.GetProperty("n").GetInt64());
        Assert.Equal(1e-12, root.GetProperty("alpha").GetDouble());
        Assert.Equal(ClopperPearson.Lower(990, 1000, 1e-12), root.GetProperty("lower").GetDouble());
        Assert.Equal(ClopperPearson.Upper(990, 1000, 1e-12), root.GetProperty("upper").GetDouble());
    }

    [Fact]
    public void Bound_text_and_bad_options()
    {
        var (code, stdout, _) = Run("bound", "--k", "0", "--n", "10", "--alpha", "0.05");
        Assert.Equal(0, code);
        Assert.Contains("lower\t0\n", stdout.ReplaceLineEndings("\n"));
        Assert.Contains("upper\t" + ClopperPearson.Upper(0, 10, 0.05).ToString("R", CultureInfo.InvariantCulture), stdout);

        var bad = Run("bound", "--k", "11", "--n", "10", "--alpha", "0.05");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--k", bad.Err);
        Assert.Single(bad.Err.Trim().Split('\n'));
        Assert.Equal(2, Run("bound", "--k", "1", "--n", "10", "--alpha", "1.5").Code);
        Assert.Equal(2, Run("bound", "--k", "1", "--n", "10", "--alpha", "0").Code);
        Assert.Equal(2, Run("bound", "--k", "x", "--n", "10", "--alpha", "0.1").Code);
        Assert.Equal(2, Run("bound", "--n", "10", "--alpha", "0.1").Code);
    }

    [Fact]
    public void Certify_counts_simuem_with_label_header_and_trigger()
    {
        string counts = File("counts.tsv", "label\tc0\tc1\tc2\n1\t20\t70\t10\n0\t50\t50\t0\n2\t0\t1\t99\n");
        string outPath = Path.Combine(_dir, "certs.tsv");
        var (code, stdout, stderr) = Run("certify-counts", "--counts", counts, "--sigma", "0.5", "--alpha", "0.03", "--trigger-norm", "0.05", "--out", outPath);
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("certified 2, abstained 1", stdout);
        string[] lines = System.IO.File.ReadAllLines(outPath);
        Assert.Equal(CertificateTsv.Header + "\t" + CertificateTsv.PoisonColumn, lines[0]);
        Assert.Equal(4, lines.Length);
        var (certs, labels) = CertificateTsv.Read(outPath);
        Assert.Equal([1, 0, 2], labels);
        var expected = Certifier.CertifySimuEMReference([20u, 70u, 10u], 0.5, 0.03);
        Assert.Equal(expected, certs[0]);
        Assert.True(certs[1].IsAbstain);
        string[] row0 = lines[1].Split('\t');
        Assert.Equal(["0", "1", "1"], row0[..3]);
        Assert.Equal("1", row0[6]);
        Assert.Equal(PoisoningUnits.LargestCertifiedPoisonCount(expected.Radius, 0.05).ToString(CultureInfo.InvariantCulture), row0[7]);
        Assert.Equal("-1", lines[2].Split('\t')[7]);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    [Fact]
    public void Certify_counts_without_labels_prints_to_stdout_and_summary_to_stderr()
    {
        string counts = File("plain.tsv", "90\t10\n10\t90\n");
        var (code, stdout, stderr) = Run("certify-counts", "--counts", counts, "--sigma", "1", "--simultaneous");
        Assert.Equal(0, code);
        string[] lines = stdout.Trim().Split('\n');
        Assert.Equal(CertificateTsv.Header, lines[0]);
        Assert.StartsWith("1\t-1\t1\t", lines[2]);
        Assert.EndsWith("\t-1", lines[2]);
        Assert.Contains("(simultaneous)", stderr);
        Assert.Equal(Certifier.CertifySimuEMReference([10u, 90u], 1, 0.001 / 2).Radius.ToString("R", CultureInfo.InvariantCulture), lines[2].Split('\t')[5]);
        // --has-label reads the first column as the label.
        var labelled = Run("certify-counts", "--counts", File("l.tsv", "0\t90\t10\n"), "--sigma", "1", "--has-label");
        Assert.Equal(0, labelled.Code);
        Assert.StartsWith("0\t0\t0\t", labelled.Out.Split('\n')[1]);
        Assert.EndsWith("\t1", labelled.Out.Split('\n')[1]);
    }

    [Fact]
    public void Certify_counts_reads_the_older_vote_command_tsv()
    {
        // Files of earlier `nativecert vote` versions (idx, label, prediction, count_c columns) are still read.
        string votes = File("votes.tsv", "idx\tlabel\tprediction\tcount_0\tcount_1\tcount_2\n0\t2\t2\t3\t7\t990\n1\t0\t1\t400\t600\t0\n");
        var (code, stdout, stderr) = Run("certify-counts", "--counts", votes, "--sigma", "0.25");
        Assert.Equal(0, code);
        string[] lines = stdout.Trim().Split('\n');
        Assert.StartsWith("0\t2\t2\t", lines[1]);
        Assert.Equal(Certifier.CertifySimuEMReference([3u, 7u, 990u], 0.25, 0.001).Radius.ToString("R", CultureInfo.InvariantCulture), lines[1].Split('\t')[5]);
        Assert.StartsWith("1\t0\t1\t", lines[2]);
        Assert.EndsWith("\t0", lines[2]);
        Assert.Contains("clean accuracy 0.5", stderr);
    }

    [Fact]
    public void Certify_counts_cohen()
    {
        string sel = File("sel.tsv", "label\ta\tb\n0\t9\t1\n1\t5\t5\n");
        string est = File("est.tsv", "label\ta\tb\n0\t990\t10\n1\t10\t990\n");
        var (code, stdout, _) = Run("certify-counts", "--counts", est, "--selection-counts", sel, "--method", "cohen", "--n0", "10", "--sigma", "0.25");
        Assert.Equal(0, code);
        string[] lines = stdout.Trim().Split('\n');
        var first = Certifier.CertifyCohenReference([9u, 1u], [990u, 10u], 0.25, 0.001);
        Assert.Equal(first.Radius.ToString("R", CultureInfo.InvariantCulture), lines[1].Split('\t')[5]);
        // Second row: tie in the selection goes to class 0, which has only 10 estimation votes → abstain.
        Assert.Equal("-1", lines[2].Split('\t')[2]);
        Assert.Equal(2, Run("certify-counts", "--counts", est, "--method", "cohen", "--sigma", "1").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", est, "--selection-counts", sel, "--method", "cohen", "--n0", "7", "--sigma", "1").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", est, "--selection-counts", sel, "--sigma", "1").Code);
    }

    [Theory]
    [InlineData("10\t5\n10\t2.5\n", ":2:", "not a non-negative integer")]
    [InlineData("10\t5\n10\t5\t1\n", ":2:", "columns")]
    [InlineData("10\t5\n10\t-5\n", ":2:", "negative")]
    [InlineData("10\t5\n# comment\n11\t5\n", ":3:", "sum to 16")]
    [InlineData("label\ta\tb\n7\t1\t2\n", ":2:", "label")]
    [InlineData("idx\tlabel\tprediction\tcount_0\n0\t0\t0\t5\n", ":1:", "at least 2")]
    [InlineData("10\n", ":1:", "at least 2")]
    [InlineData("", "no count rows", "")]
    public void Certify_counts_bad_input_exits_2_with_one_line_naming_file_and_line(string text, string where, string what)
    {
        string counts = File("bad.tsv", text);
        string outPath = Path.Combine(_dir, "never.tsv");
        var (code, stdout, stderr) = Run("certify-counts", "--counts", counts, "--sigma", "1", "--out", outPath);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("bad.tsv" + (where.StartsWith(':') ? where : ""), stderr);
        if (!where.StartsWith(':')) Assert.Contains(where, stderr);
        Assert.Contains(what, stderr);
        Assert.False(System.IO.File.Exists(outPath));
    }

    [Fact]
    public void Certify_counts_bad_options_exit_2()
    {
        string counts = File("ok.tsv", "9\t1\n");
        Assert.Equal(2, Run("certify-counts", "--counts", counts, "--sigma", "0").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", counts, "--sigma", "1", "--alpha", "2").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", counts, "--sigma", "1", "--method", "bogus").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", counts, "--sigma", "1", "--trigger-norm", "-1").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", Path.Combine(_dir, "missing.tsv"), "--sigma", "1").Code);
        Assert.Equal(2, Run("certify-counts", "--counts", counts, "--sigma", "1", "--out", Path.Combine(_dir, "nodir", "x.tsv")).Code);
    }
}

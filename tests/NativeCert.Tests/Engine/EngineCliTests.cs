using System.Text.Json;
using NativeCert.Cli;
using NativeCert.Engine.Cpu;

namespace NativeCert.Tests.Engine;

/// <summary>`nativecert train`, `vote` and `bench` end to end, in-process, on small real MNIST subsets.</summary>
public class EngineCliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(Program.BuildRoot(), args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void TrainThenVoteWritesOneRowPerInputWithAllModelsCounted()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"nativecert-cli-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string ens = Path.Combine(dir, "e.bin"), tsv = Path.Combine(dir, "votes.tsv");
            var data = new[] { "--dataset", "mnist", "--train-size", "400", "--test-size", "60" };
            var train = Run([.. new[] { "train", "--models", "3", "--hidden", "32", "--epochs", "10", "--sigma", "0.25", "--threads", "2", "--out", ens }, .. data]);
            Assert.True(train.Code == 0, train.Err);
            var vote = Run([.. new[] { "vote", "--ensemble", ens, "--out", tsv }, .. data]);
            Assert.True(vote.Code == 0, vote.Err);
            var lines = File.ReadAllLines(tsv);
            Assert.Equal(61, lines.Length);
            Assert.StartsWith("idx\tset\tlabel\tmodels\tn_0", lines[0]);
            int correct = 0;
            foreach (var line in lines.Skip(1))
            {
                var f = line.Split('\t').Where((_, i) => i != 1).Select(int.Parse).ToArray();   // idx label models n_0 …
                Assert.Equal(3, f[2]);
                Assert.Equal(3, f.Skip(3).Sum());
                int majority = Array.IndexOf(f, f.Skip(3).Max(), 3) - 3;
                if (f[1] == majority) correct++;
            }
            Assert.True(correct >= 45, $"{correct}/60 correct after 10 epochs on 400 rows");

            // Same votes again from a second run of the same command (determinism end to end).
            string tsv2 = Path.Combine(dir, "votes2.tsv");
            Assert.Equal(0, Run([.. new[] { "vote", "--ensemble", ens, "--out", tsv2, "--threads", "1" }, .. data]).Code);
            Assert.Equal(lines, File.ReadAllLines(tsv2));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BadInputsAreOneLineUserErrors()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"nativecert-missing-{Guid.NewGuid():N}.bin");
        var r = Run("vote", "--ensemble", missing, "--out", Path.Combine(Path.GetTempPath(), "v.tsv"));
        Assert.Equal(2, r.Code);
        Assert.Contains(missing, r.Err);
        r = Run("train", "--hidden", "12,x", "--out", Path.Combine(Path.GetTempPath(), "e.bin"));
        Assert.Equal(2, r.Code);
        Assert.Contains("--hidden", r.Err);
        r = Run("bench", "--backend", "abacus");
        Assert.Equal(2, r.Code);
        Assert.Contains("--backend", r.Err);
        r = Run("train", "--models", "2", "--out", Path.Combine(Path.GetTempPath(), $"no-such-dir-{Guid.NewGuid():N}", "e.bin"));
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void BenchJsonReportsThroughputAndPeak()
    {
        var r = Run("bench", "--json", "--models", "2", "--epochs", "1", "--examples", "512", "--threads", "2");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out.Trim());
        var root = doc.RootElement;
        Assert.Equal("cpu", root.GetProperty("backend").GetString());
        Assert.Contains("threads", root.GetProperty("device").GetString());
        Assert.True(root.GetProperty("model_epochs_per_s").GetDouble() > 0);
        Assert.True(root.GetProperty("gflops").GetDouble() > 0);
        Assert.True(root.GetProperty("peak_gflops").GetDouble() > root.GetProperty("gflops").GetDouble());
    }

    [Fact]
    public void BenchProfileReportsEveryPhaseAtEachSimdLevelOnOneAndTwoThreads()
    {
        var r = Run("bench", "--json", "--profile", "--models", "2", "--epochs", "1", "--examples", "256", "--threads", "2", "--isa", "avx2");
        Assert.True(r.Code == 0, r.Err);
        using var doc = JsonDocument.Parse(r.Out.Trim());
        var root = doc.RootElement;
        Assert.Equal(CpuIsa.Name(CpuIsa.Clamp(IsaLevel.Avx2)), root.GetProperty("isa").GetString());
        var profiles = root.GetProperty("profile").EnumerateArray().ToArray();
        Assert.Equal([1, 2], profiles.Select(p => p.GetProperty("threads").GetInt32()));
        foreach (var p in profiles)
        {
            Assert.Equal(CpuIsa.Name(CpuIsa.Clamp(IsaLevel.Avx2)), p.GetProperty("isa").GetString());
            Assert.True(p.GetProperty("test_inputs").GetInt32() > 0);
            var phases = p.GetProperty("phases");
            foreach (var key in new[] { "noise", "gather", "gemm_forward_first_layer", "gemm_weight_gradient_first_layer", "tail", "optimizer", "vote" })
                Assert.True(phases.GetProperty(key).GetProperty("seconds").GetDouble() > 0, key);
            double shares = phases.EnumerateObject().Sum(ph => ph.Value.GetProperty("share").GetDouble());
            Assert.InRange(shares, 0.99, 1.01);
        }

        r = Run("bench", "--isa", "sse9");
        Assert.Equal(2, r.Code);
        Assert.Contains("--isa", r.Err);
    }

    [Fact]
    public void BenchProfileTableHasOneEntryALevelForEachPhaseAndNoRowForAFoldedPass()
    {
        // Every row of the text table names its own phase with one entry a level (a figure, or a dash where that level
        // folds the pass into another: the rows are the union of the levels' phases), and a pass every level folds has
        // no row: LeNet's pool1 backward (inside conv1's weight gradient) and, on AVX-512 and AVX2, its forward.
        var r = Run("bench", "--model", "lenet", "--profile", "--models", "1", "--epochs", "1", "--examples", "64", "--threads", "1");
        Assert.True(r.Code == 0, r.Err);
        var lines = r.Out.Split('\n');
        int header = Array.FindIndex(lines, l => l.TrimStart().StartsWith("phase ", StringComparison.Ordinal));
        Assert.True(header >= 0, r.Out);
        int levels = lines[header].Split(' ', StringSplitOptions.RemoveEmptyEntries).Length / 2; // "phase", then "LEVEL Nt" pairs
        var rows = lines.Skip(header + 1).TakeWhile(l => l.StartsWith("  ", StringComparison.Ordinal)).ToArray();
        foreach (var row in rows)
            Assert.Equal(levels, System.Text.RegularExpressions.Regex.Matches(row, @"\d+\.\d{3} \( *\d+\.\d%\)|— \(folded\)").Count);
        var keys = rows.Select(l => l.Trim().Split("  ")[0]).ToArray();
        Assert.Equal(keys.Distinct().Count(), keys.Length);
        Assert.Contains("conv1_forward", keys);
        Assert.DoesNotContain("pool1_backward", keys); // folded into conv1_backward_weight at every level
        if (CpuIsa.Clamp(IsaLevel.Avx2) >= IsaLevel.Avx2) Assert.DoesNotContain("pool1_forward", keys); // folded at every profiled level
    }
}

using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

/// <summary>
/// votes.bin rewritten as a well-formed file (valid CRC, every row summing to its models, the run's config hash) but
/// with a shape the hashed facts rule out: report and merge refuse it (exit 2, one line naming votes.bin) instead of
/// certifying other numbers.
/// </summary>
public sealed class VoteBindingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-votebinding-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The stored votes rebuilt with other kinds, n0 or undefended model; counts kept, so every row still sums right.</summary>
    private static VoteFile Forge(VoteFile v, InputKind[]? kinds = null, bool dropSelection = false, bool dropUndefended = false)
    {
        var forged = new VoteFile(v.ConfigHash, v.Labels, kinds ?? v.Kinds, v.Classes, dropSelection ? 0 : v.SelectionModels, v.ModelStart);
        if (!dropSelection) forged.Selection.Add(v.Selection);
        else forged.Estimation.Add(v.Selection);
        forged.Estimation.Add(v.Estimation);
        forged.ModelsDone = v.ModelsDone;
        forged.Undefended = dropUndefended ? null : v.Undefended?.Clone();
        return forged;
    }

    [Theory]
    [InlineData("kinds", "clean test inputs followed by")]
    [InlineData("n0", "smoothing.n0")]
    [InlineData("undefended", "undefended model")]
    public void ReshapedVotesAreRefusedByReport(string forgery, string named)
    {
        string root = Path.Combine(_dir, forgery);
        var (code, _, err) = ConfigIntegrityTests.Cli(["certify", .. ConfigIntegrityTests.Tiny, "--out", root, "--method", "cohen", "--n0", "4",
                                                       "--attack", "patch", "--poison", "10", "--target", "1"]);
        Assert.True(code == 0, err);
        var run = new RunDirectory(root);
        VoteFile votes = VoteFile.Read(run.VotesPath);
        InputKind[] kinds = (InputKind[])votes.Kinds.Clone();
        kinds[^1] = InputKind.Clean; // a triggered input counted as a clean one
        VoteFile forged = forgery switch
        {
            "kinds" => Forge(votes, kinds: kinds),
            "n0" => Forge(votes, dropSelection: true),
            _ => Forge(votes, dropUndefended: true),
        };
        forged.Write(run.VotesPath);
        Assert.Equal(forged.ToBytes(), VoteFile.Read(run.VotesPath).ToBytes()); // well-formed: it parses

        ConfigIntegrityTests.AssertRefused(run, "votes.bin", named);
        (code, _, err) = ConfigIntegrityTests.Cli("merge", "--out", Path.Combine(_dir, forgery + "-merged"), root);
        Assert.True(code == 2, $"exit {code}: {err}");
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains(named, err);
        Assert.False(Directory.Exists(Path.Combine(_dir, forgery + "-merged")));
    }
}

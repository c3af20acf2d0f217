using NativeCert.Engine;
using NativeCert.Runs;

namespace NativeCert.Tests.Runs;

public sealed class VoteFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-votes-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static VoteFile Sample(int selectionModels, bool undefended)
    {
        var hash = new byte[32];
        for (int i = 0; i < 32; i++) hash[i] = (byte)(i * 7);
        var file = new VoteFile(hash, [3, 1, 0], [InputKind.Clean, InputKind.Clean, InputKind.Triggered], classes: 4, selectionModels);
        var chunk = new VoteCounts(3, 4);
        chunk[0, 3] = 2; chunk[1, 1] = 1; chunk[1, 2] = 1; chunk[2, 0] = 2;
        file.AddChunk(0, 2, chunk);
        if (undefended) { file.Undefended = new VoteCounts(3, 4); file.Undefended[0, 3] = 1; file.Undefended[1, 1] = 1; file.Undefended[2, 1] = 1; }
        return file;
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(2, true)]
    public void RoundTrips(int selectionModels, bool undefended)
    {
        var file = Sample(selectionModels, undefended);
        string path = Path.Combine(_dir, "votes.bin");
        file.Write(path);
        var back = VoteFile.Read(path);
        Assert.Equal(file.ConfigHash, back.ConfigHash);
        Assert.Equal(file.Labels, back.Labels);
        Assert.Equal(file.Kinds, back.Kinds);
        Assert.Equal(2, back.ModelsDone);
        Assert.Equal(selectionModels, back.SelectionModels);
        Assert.Equal(file.Selection.Counts, back.Selection.Counts);
        Assert.Equal(file.Estimation.Counts, back.Estimation.Counts);
        Assert.Equal(undefended, back.Undefended is not null);
        Assert.Equal(file.ToBytes(), back.ToBytes());
        // Cohen: the first two models are selection votes.
        Assert.Equal(selectionModels > 0 ? 2 : 0, back.Selection.Total(0));
    }

    [Fact]
    public void CorruptOrTruncatedFilesAreUserErrorsNamingTheFile()
    {
        byte[] bytes = Sample(0, false).ToBytes();
        string path = Path.Combine(_dir, "votes.bin");
        File.WriteAllBytes(path, bytes[..^7]);
        Assert.Contains("votes.bin", Assert.Throws<UserInputException>(() => VoteFile.Read(path)).Message);
        bytes[60] ^= 1;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("checksum", Assert.Throws<UserInputException>(() => VoteFile.Read(path)).Message);
    }

    /// <summary>Byte offsets of the header fields (after magic, version and the 32-byte hash).</summary>
    private const int InputsAt = 44, ClassesAt = 48, DoneAt = 60, UndefendedAt = 64, LabelsAt = 68;

    /// <summary>A forgery: the bytes edited, then the CRC recomputed so only the content checks can catch it.</summary>
    private static byte[] Forge(byte[] bytes, Action<byte[]> edit)
    {
        var b = (byte[])bytes.Clone();
        edit(b);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(b.Length - 4), NativeCert.IO.Crc32.Compute(b.AsSpan(0, b.Length - 4)));
        return b;
    }

    private static void Put(byte[] b, int at, uint v) => System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);

    public static TheoryData<string, int, uint, string> Forgeries => new()
    {
        // what, offset, value, what the message says
        { "inputs over int.MaxValue", InputsAt, 0x80000000, "inputs 2147483648" },
        { "classes 0", ClassesAt, 0, "0 classes" },
        { "classes beyond the limit", ClassesAt, 70_000, "70000 classes" },
        { "more models done than counted", DoneAt, 3, "input 0 has 0 estimation votes, but the models it covers cast 1" },
        { "undefended flag 7", UndefendedAt, 7, "has-undefended flag 7" },
        { "label out of range", LabelsAt + 4, 4, "input 1 has label 4, not below the 4 classes" },
        { "a count raised", LabelsAt + 3 * 4 + 3 + 3 * 4, 5, "input 0 has 5 selection votes, but the models it covers cast 2" },
    };

    [Theory]
    [MemberData(nameof(Forgeries))]
    public void ForgedFilesWithAValidCrcAreRefusedNamingTheFile(string what, int offset, uint value, string message)
    {
        byte[] forged = Forge(Sample(selectionModels: 2, undefended: true).ToBytes(), b => Put(b, offset, value));
        string path = Path.Combine(_dir, "votes.bin");
        File.WriteAllBytes(path, forged);
        var e = Assert.Throws<UserInputException>(() => VoteFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        _ = what;
    }

    [Fact]
    public void ForgedKindAndEstimationCountAreRefused()
    {
        byte[] bytes = Sample(selectionModels: 0, undefended: false).ToBytes();
        var e = Assert.Throws<UserInputException>(() => VoteFile.Parse(Forge(bytes, b => b[LabelsAt + 3 * 4 + 2] = 2), "v.bin"));
        Assert.Contains("input 2 has kind 2", e.Message);
        // Estimation row 1: one vote moved to a class the models never voted for is fine, one vote added is not.
        int row1 = LabelsAt + 3 * 4 + 3 + 4 * 4;
        VoteFile.Parse(Forge(bytes, b => { Put(b, row1 + 4, 0); Put(b, row1, 1); }), "v.bin");
        e = Assert.Throws<UserInputException>(() => VoteFile.Parse(Forge(bytes, b => Put(b, row1 + 4, 2)), "v.bin"));
        Assert.Contains("input 1 has 3 estimation votes, but the models it covers cast 2", e.Message);
    }

    [Fact]
    public void ShardsMergeIntoTheWholeRange()
    {
        var hash = new byte[32];
        VoteFile Shard(int start, int end)
        {
            var f = new VoteFile(hash, [0, 1], [InputKind.Clean, InputKind.Clean], classes: 2, selectionModels: 3, modelStart: start);
            for (int m = start; m < end; m++)
            {
                var c = new VoteCounts(2, 2);
                c[0, m % 2] = 1; c[1, 1] = 1;
                f.AddChunk(m, m + 1, c);
            }
            return f;
        }
        var whole = Shard(0, 10);
        var parts = new[] { Shard(0, 2), VoteFile.Parse(Shard(2, 7).ToBytes(), "shard"), Shard(7, 10) };
        Assert.Equal(2, parts[1].ModelStart);
        Assert.Equal(whole.ToBytes(), VoteFile.Merge(parts).ToBytes());
        Assert.Throws<ArgumentException>(() => VoteFile.Merge([parts[0], parts[2]]));
    }

    [Fact]
    public void ChunksMustContinueTheRangeAndNotStraddleSelection()
    {
        var file = Sample(3, false);
        Assert.Throws<InvalidOperationException>(() => file.AddChunk(5, 6, new VoteCounts(3, 4)));
        Assert.Throws<ArgumentException>(() => file.AddChunk(2, 4, new VoteCounts(3, 4)));
    }
}

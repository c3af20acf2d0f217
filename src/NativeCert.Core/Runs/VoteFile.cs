using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>Which set a voted-on input belongs to.</summary>
internal enum InputKind : byte
{
    /// <summary>A test input as given.</summary>
    Clean = 0,
    /// <summary>A test input with the attack's trigger added (attack runs only).</summary>
    Triggered = 1,
}

/// <summary>
/// The vote counts of a run, what <c>votes.bin</c> holds: for every voted-on input its true label and kind,
/// and the counts of models <c>[ModelStart, ModelsDone)</c> (ModelStart is 0 except for a shard made with
/// a model range, <c>execution.shard</c>). Models below <see cref="SelectionModels"/> (Cohen's n0) go to <see cref="Selection"/>,
/// the rest to <see cref="Estimation"/>; with simultaneous estimation SelectionModels is 0. An attack run also
/// keeps the votes of one undefended model (σ = 0).
/// </summary>
/// <remarks>
/// Binary layout, little-endian: magic "NCVOTES\0"; u32 version; 32-byte config hash (SHA-256);
/// u32 inputs, classes, selectionModels, modelStart, modelsDone, hasUndefended; i32 labels (inputs); u8 kinds (inputs);
/// u32 selection counts (inputs × classes, only when selectionModels &gt; 0); u32 estimation counts
/// (inputs × classes); u32 undefended counts (inputs × classes, only when hasUndefended);
/// u32 CRC-32 of every byte before it.
/// </remarks>
internal sealed class VoteFile
{
    public const uint FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "NCVOTES\0"u8;

    /// <summary>SHA-256 of every option that determines votes (<c>config_hash</c> of config.json).</summary>
    public byte[] ConfigHash { get; }
    /// <summary>True label of each input, <c>(Inputs)</c>.</summary>
    public int[] Labels { get; }
    /// <summary>Kind of each input, <c>(Inputs)</c>.</summary>
    public InputKind[] Kinds { get; }
    /// <summary>Models used only to select the top class (Cohen's n0); 0 for simultaneous estimation.</summary>
    public int SelectionModels { get; }
    /// <summary>First model of the range this file covers (0 unless it is a shard).</summary>
    public int ModelStart { get; }
    /// <summary>Models <c>[ModelStart, ModelsDone)</c> have voted.</summary>
    public int ModelsDone { get; set; }
    /// <summary>Votes of the covered models below <see cref="SelectionModels"/>, <c>(Inputs, Classes)</c>.</summary>
    public VoteCounts Selection { get; }
    /// <summary>Votes of the covered models from <see cref="SelectionModels"/> on, <c>(Inputs, Classes)</c>.</summary>
    public VoteCounts Estimation { get; }
    /// <summary>Votes of one model trained without noise (σ = 0) on the same data; null when there is no attack.</summary>
    public VoteCounts? Undefended { get; set; }

    public int Inputs => Labels.Length;
    public int Classes => Estimation.Classes;

    public VoteFile(byte[] configHash, int[] labels, InputKind[] kinds, int classes, int selectionModels, int modelStart = 0)
        : this(configHash, labels, kinds, selectionModels, modelStart, modelStart,
               new VoteCounts(labels.Length, classes), new VoteCounts(labels.Length, classes), null) { }

    private VoteFile(byte[] configHash, int[] labels, InputKind[] kinds, int selectionModels, int modelStart, int modelsDone,
                     VoteCounts selection, VoteCounts estimation, VoteCounts? undefended)
    {
        if (configHash.Length != 32) throw new ArgumentException("config hash must be 32 bytes (SHA-256)");
        if (kinds.Length != labels.Length) throw new ArgumentException("labels and kinds differ in length");
        ArgumentOutOfRangeException.ThrowIfNegative(selectionModels);
        ArgumentOutOfRangeException.ThrowIfNegative(modelStart);
        ArgumentOutOfRangeException.ThrowIfLessThan(modelsDone, modelStart);
        ConfigHash = configHash;
        Labels = labels;
        Kinds = kinds;
        SelectionModels = selectionModels;
        ModelStart = modelStart;
        ModelsDone = modelsDone;
        Selection = selection;
        Estimation = estimation;
        Undefended = undefended;
    }

    /// <summary>
    /// Adds the votes of models <c>[modelStart, modelEnd)</c>, which must continue the covered range, and
    /// splits them between selection and estimation. <paramref name="votes"/> must come from that range only,
    /// and a range may not straddle <see cref="SelectionModels"/>.
    /// </summary>
    public void AddChunk(int modelStart, int modelEnd, VoteCounts votes)
    {
        if (modelStart != ModelsDone) throw new InvalidOperationException($"chunk starts at model {modelStart}, but {ModelsDone} models are done");
        if (modelStart < SelectionModels && modelEnd > SelectionModels)
            throw new ArgumentException($"chunk [{modelStart}, {modelEnd}) straddles the selection/estimation boundary {SelectionModels}");
        (modelEnd <= SelectionModels && SelectionModels > 0 ? Selection : Estimation).Add(votes);
        ModelsDone = modelEnd;
    }

    /// <summary>
    /// Sums shards that cover adjacent model ranges of one configuration into one file covering their union;
    /// the shards must share config hash, inputs and n0, be ordered by range, and each continue the previous.
    /// The undefended model's votes (attack runs) come from the shard that holds them: the one starting at model 0
    /// trains it; shards that also hold them must agree.
    /// </summary>
    public static VoteFile Merge(IReadOnlyList<VoteFile> shards)
    {
        if (shards.Count == 0) throw new ArgumentException("no shards to merge");
        var first = shards[0];
        var merged = new VoteFile(first.ConfigHash, first.Labels, first.Kinds, first.Classes, first.SelectionModels, first.ModelStart)
        {
            Undefended = shards.FirstOrDefault(s => s.Undefended is not null)?.Undefended!.Clone(),
        };
        foreach (var shard in shards)
        {
            if (!shard.ConfigHash.AsSpan().SequenceEqual(first.ConfigHash) || shard.SelectionModels != first.SelectionModels
                || shard.Classes != first.Classes || !shard.Labels.AsSpan().SequenceEqual(first.Labels) || !shard.Kinds.AsSpan().SequenceEqual(first.Kinds))
                throw new ArgumentException("shards of different configurations");
            if (shard.ModelStart != merged.ModelsDone)
                throw new ArgumentException($"shard [{shard.ModelStart}, {shard.ModelsDone}) does not continue [{merged.ModelStart}, {merged.ModelsDone})");
            if (shard.Undefended is { } u && !u.Counts.AsSpan().SequenceEqual(merged.Undefended!.Counts))
                throw new ArgumentException("shards disagree on the undefended model's votes");
            merged.Selection.Add(shard.Selection);
            merged.Estimation.Add(shard.Estimation);
            merged.ModelsDone = shard.ModelsDone;
        }
        return merged;
    }

    /// <summary>The same votes under another config hash (a run upgraded to a new config format).</summary>
    public VoteFile WithConfigHash(byte[] configHash) =>
        new(configHash, Labels, Kinds, SelectionModels, ModelStart, ModelsDone, Selection, Estimation, Undefended);

    /// <summary>Writes the file atomically (temp, fsync, rename).</summary>
    public void Write(string path) => AtomicFile.WriteAllBytes(path, ToBytes());

    public byte[] ToBytes()
    {
        int n = Inputs, c = Classes;
        long cells = (long)n * c;
        long size = 8 + 4 + 32 + 6 * 4 + 4L * n + n + 4 * cells * (1 + (SelectionModels > 0 ? 1 : 0) + (Undefended is null ? 0 : 1)) + 4;
        var bytes = new byte[size];
        var w = new SpanWriter(bytes);
        w.Bytes(Magic);
        w.U32(FormatVersion);
        w.Bytes(ConfigHash);
        w.U32((uint)n);
        w.U32((uint)c);
        w.U32((uint)SelectionModels);
        w.U32((uint)ModelStart);
        w.U32((uint)ModelsDone);
        w.U32(Undefended is null ? 0u : 1u);
        foreach (int y in Labels) w.U32((uint)y);
        foreach (var k in Kinds) w.Byte((byte)k);
        if (SelectionModels > 0) foreach (uint v in Selection.Counts) w.U32(v);
        foreach (uint v in Estimation.Counts) w.U32(v);
        if (Undefended is { } u) foreach (uint v in u.Counts) w.U32(v);
        w.U32(Crc32.Compute(bytes.AsSpan(0, w.Position)));
        if (w.Position != bytes.Length) throw new InvalidOperationException("votes.bin size mismatch");
        return bytes;
    }

    /// <summary>Reads a vote file; a missing, truncated or corrupt file is a <see cref="UserInputException"/> naming it.</summary>
    public static VoteFile Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        return Parse(bytes, path);
    }

    /// <summary>
    /// Parses a vote file and checks that it is internally consistent before anything trusts it: header fields in
    /// range, every label below the class count, every kind known, and every row's counts summing to exactly the
    /// models the file covers (each model votes once per input; the undefended model once). A forged file with a
    /// recomputed CRC is thus refused, naming <paramref name="name"/>, instead of certified.
    /// </summary>
    public static VoteFile Parse(byte[] bytes, string name)
    {
        UserInputException Bad(string what) => new($"{name}: not a valid NativeCert vote file ({what})");
        if (bytes.Length < 8 + 4 + 32 + 24 + 4 || !bytes.AsSpan(0, 8).SequenceEqual(Magic)) throw Bad("bad magic");
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4));
        if (crc != Crc32.Compute(bytes.AsSpan(0, bytes.Length - 4))) throw Bad("checksum mismatch: truncated or corrupt");
        var r = new SpanReader(bytes);
        r.Skip(8);
        uint version = r.U32();
        if (version != FormatVersion) throw Bad($"format version {version}, this build reads {FormatVersion}");
        byte[] hash = r.Bytes(32).ToArray();
        uint inputs = r.U32(), classes = r.U32(), selectionField = r.U32(), startField = r.U32(), doneField = r.U32(), undefendedFlag = r.U32();
        int n = Field(inputs, "inputs"), selectionModels = Field(selectionField, "selection models");
        int start = Field(startField, "model start"), done = Field(doneField, "models done");
        if (classes < 2 || classes > Dataset.MaxClasses) throw Bad($"{classes} classes, expected 2..{Dataset.MaxClasses}");
        int c = (int)classes;
        if (done < start) throw Bad($"model range [{start}, {done}) is empty backwards");
        if (undefendedFlag > 1) throw Bad($"has-undefended flag {undefendedFlag} is neither 0 nor 1");
        bool hasUndefended = undefendedFlag == 1;
        long cells = (long)n * c;
        long expected = r.Position + 4L * n + n + 4 * cells * (1 + (selectionModels > 0 ? 1 : 0) + (hasUndefended ? 1 : 0)) + 4;
        if (expected != bytes.Length) throw Bad($"{bytes.Length} bytes, header says {expected}");
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            uint y = r.U32();
            if (y >= classes) throw Bad($"input {i} has label {y}, not below the {c} classes");
            labels[i] = (int)y;
        }
        var kinds = new InputKind[n];
        for (int i = 0; i < n; i++)
        {
            byte k = r.Byte();
            if (k > (byte)InputKind.Triggered) throw Bad($"input {i} has kind {k}, neither 0 (clean) nor 1 (triggered)");
            kinds[i] = (InputKind)k;
        }
        // Models [start, done) split at selectionModels: those below it voted in selection, the rest in estimation.
        int selectionVotes = Math.Max(0, Math.Min(done, selectionModels) - Math.Min(start, selectionModels));
        int estimationVotes = done - start - selectionVotes;
        var selection = selectionModels > 0 ? ReadCounts(ref r, n, c, selectionVotes, "selection", Bad) : new VoteCounts(n, c);
        var estimation = ReadCounts(ref r, n, c, estimationVotes, "estimation", Bad);
        var undefended = hasUndefended ? ReadCounts(ref r, n, c, 1, "undefended-model", Bad) : null;
        return new VoteFile(hash, labels, kinds, selectionModels, start, done, selection, estimation, undefended);

        int Field(uint value, string field) =>
            value <= int.MaxValue ? (int)value : throw Bad($"{field} {value} is above {int.MaxValue}");
    }

    /// <summary>Reads counts <c>(inputs, classes)</c>; each row must sum to <paramref name="votesPerRow"/>.</summary>
    private static VoteCounts ReadCounts(ref SpanReader r, int inputs, int classes, int votesPerRow, string what, Func<string, UserInputException> bad)
    {
        var counts = new uint[(long)inputs * classes];
        for (int t = 0; t < inputs; t++)
        {
            long sum = 0;
            for (int k = 0; k < classes; k++) sum += counts[(long)t * classes + k] = r.U32();
            if (sum != votesPerRow)
                throw bad($"input {t} has {sum} {what} votes, but the models it covers cast {votesPerRow}");
        }
        return new VoteCounts(inputs, classes, counts);
    }

    /// <summary>Writes the counts as text (votes.tsv, the format of <see cref="VoteCountsTsv"/>).</summary>
    public void WriteTsv(string path)
    {
        int[]? undefended = Undefended is { } u ? Enumerable.Range(0, Inputs).Select(t => ArgMax(u.Row(t))).ToArray() : null;
        VoteCountsTsv.Write(path, Labels, Kinds.Select(k => k == InputKind.Clean ? VoteCountsTsv.Clean : VoteCountsTsv.Triggered).ToArray(),
                            Estimation, SelectionModels > 0 ? Selection : null, undefended);
    }

    /// <summary>Index of the largest count, lowest index on ties.</summary>
    public static int ArgMax(ReadOnlySpan<uint> counts)
    {
        int best = 0;
        for (int k = 1; k < counts.Length; k++) if (counts[k] > counts[best]) best = k;
        return best;
    }

    private ref struct SpanWriter(Span<byte> span)
    {
        private readonly Span<byte> _span = span;
        public int Position;
        public void Bytes(ReadOnlySpan<byte> b) { b.CopyTo(_span[Position..]); Position += b.Length; }
        public void Byte(byte b) => _span[Position++] = b;
        public void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(_span[Position..], v); Position += 4; }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        private readonly ReadOnlySpan<byte> _span = span;
        public int Position;
        public void Skip(int n) => Position += n;
        public ReadOnlySpan<byte> Bytes(int n) { var b = _span.Slice(Position, n); Position += n; return b; }
        public byte Byte() => _span[Position++];
        public uint U32() { uint v = BinaryPrimitives.ReadUInt32LittleEndian(_span[Position..]); Position += 4; return v; }
    }
}

using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NativeCert.Data;
using NativeCert.Engine.Cpu;
using NativeCert.IO;

namespace NativeCert.Engine;

/// <summary>
/// A trained ensemble kept on disk: the config that made it and the flat parameters of models
/// [ModelStart, ModelStart + ModelCount). Versioned little-endian binary:
/// <code>
/// magic "NCENSEMB" (8) | version u32 (4) | config hash u64
/// | input: channels i32, height i32, width i32, image u8 | classes i32 | model text: byte count i32, UTF-8 (<see cref="ModelArchitecture.Text"/>)
/// | epochs i32 | batch i32 | lr f32 | momentum f32 | weight decay f32 | warm-up epochs i32 (version 4 on) | sigma f32 | seed u64
/// | model start i32 | model count i32 | parameters per model i32
/// | class ids: count i32 (0 = not recorded, else C), i32×count     (version 2 on)
/// | parameters f32 (model count, P) | FNV-1a 64 of every preceding byte u64
/// </code>
/// Versions 1 and 2 (MLPs only, before layer lists) stored <c>widths: count i32, i32×count</c> in place of the input,
/// classes and model text; such files still load, as the MLP they describe. Files before version 4 have no warm-up
/// field and load as warm-up 0 (a constant step: all they could have been trained with).
/// Votes on new inputs use each model's own test noise (TestNoise, m, t), so they equal the votes the ensemble
/// would have cast had those inputs been given at training time. Version 1 files (no class ids) still load, with
/// <see cref="ClassIds"/> null.
/// </summary>
internal sealed class EnsembleFile
{
    public static ReadOnlySpan<byte> Magic => "NCENSEMB"u8;
    public const uint CurrentVersion = 4;
    /// <summary>The first version that records <see cref="ClassIds"/>; older files still load.</summary>
    public const uint ClassIdsVersion = 2;
    /// <summary>The first version that stores the model as its input shape, classes and layer-list text (before: MLP widths).</summary>
    public const uint LayerListVersion = 3;
    /// <summary>The first version that stores <see cref="TrainingOptions.WarmupEpochs"/>; older files load as no warm-up.</summary>
    public const uint WarmupVersion = 4;

    public EnsembleConfig Config { get; }
    public ParameterLayout Layout { get; }
    /// <summary>Index m of the first model stored (noise streams are keyed by m).</summary>
    public int ModelStart { get; }
    public int ModelCount { get; }
    /// <summary>Parameters <c>(ModelCount, Layout.Count)</c>.</summary>
    public float[] Parameters { get; }
    /// <summary>
    /// Original dataset class id of each output, <c>(C)</c> (e.g. [1, 7] for an ensemble trained with
    /// <c>data.classes</c> [1, 7]); null when not recorded (version 1 files).
    /// </summary>
    public IReadOnlyList<int>? ClassIds { get; }

    /// <summary>Models [modelStart, modelStart + modelCount) of <paramref name="config"/>, parameters <c>(modelCount, P)</c>,
    /// and the original class id of each output <c>(C)</c> (distinct; null when unknown).</summary>
    public EnsembleFile(EnsembleConfig config, int modelStart, int modelCount, float[] parameters, IReadOnlyList<int>? classIds = null)
    {
        Config = config;
        Layout = new ParameterLayout(config.Model);
        if (modelStart < 0 || modelCount < 0) throw new ArgumentOutOfRangeException(nameof(modelCount));
        if (parameters.Length != (long)modelCount * Layout.Count) throw new ArgumentException("parameters must hold (modelCount, P) floats");
        if (classIds is not null && (classIds.Count != config.Model.Classes || classIds.Distinct().Count() != classIds.Count || classIds.Any(id => id < 0)))
            throw new ArgumentException($"class ids must be {config.Model.Classes} distinct non-negative ids, one per output");
        ModelStart = modelStart;
        ModelCount = modelCount;
        Parameters = parameters;
        ClassIds = classIds?.ToArray();
    }

    /// <summary>
    /// The output that votes for original class <paramref name="classId"/>, or −1 when no output does. Without
    /// recorded class ids (version 1 files) the outputs are taken as classes 0..C−1.
    /// </summary>
    public int OutputOfClassId(int classId)
    {
        if (ClassIds is null) return classId >= 0 && classId < Config.Model.Classes ? classId : -1;
        for (int k = 0; k < ClassIds.Count; k++) if (ClassIds[k] == classId) return k;
        return -1;
    }

    /// <summary>Parameters of stored model i (model index ModelStart + i).</summary>
    public ReadOnlySpan<float> Model(int i) => Parameters.AsSpan(i * Layout.Count, Layout.Count);

    /// <summary>
    /// Trains models [m0, m1) on <paramref name="backend"/> (one session, its model sink) and keeps them;
    /// <paramref name="classIds"/> records which original class each output is. On the CPU engine, refuses (before
    /// allocating) a plan that does not fit in memory, see <see cref="CpuMemoryPlan"/>.
    /// </summary>
    public static EnsembleFile Train(IEnsembleBackend backend, EnsembleConfig config, Dataset train, int m0, int m1,
        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default, IReadOnlyList<int>? classIds = null)
    {
        if (backend is CpuEnsembleBackend cpu)
            CpuMemoryPlan.CheckFits(config, train.Count, inputRows: 0, cpu.Threads, m1 - m0, keepParameters: true);
        var kept = new ParameterArraySink(m0, m1 - m0, new ParameterLayout(config.Model).Count);
        var noInputs = new Dataset([], [], train.Dimension, train.ClassCount, train.Shape, "no inputs");
        using (var session = backend.Open(config, train, noInputs, m1 - m0))
            session.Run(m0, m1, new VoteCounts(0, config.Model.Classes), kept, progress, cancellation);
        return new EnsembleFile(config, m0, m1 - m0, kept.Parameters, classIds);
    }

    /// <summary>
    /// Every stored model votes once on every input row (with its own test-noise draw); counts <c>(T, C)</c>.
    /// Bit-identical for any thread count.
    /// </summary>
    public VoteCounts Vote(Dataset inputs, int threads = 0, IsaLevel isa = IsaLevel.Avx512, CancellationToken cancellation = default)
    {
        if (inputs.Dimension != Config.Model.InputSize)
            throw new UserInputException($"{inputs.Source}: {inputs.Dimension} features but the ensemble's models take {Config.Model.InputSize}");
        var votes = new VoteCounts(inputs.Count, Config.Model.Classes);
        if (ModelCount == 0) return votes;
        threads = Math.Min(threads > 0 ? threads : Environment.ProcessorCount, ModelCount);
        CpuMemoryPlan.CheckFits(Config, trainRows: 0, inputs.Count, threads, ModelCount);
        var partial = new VoteCounts[threads];
        int next = -1;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads, CancellationToken = cancellation }, w =>
        {
            var trainer = new CpuTrainer(Config, isa);
            var mine = partial[w] = new VoteCounts(inputs.Count, Config.Model.Classes);
            int i;
            while ((i = Interlocked.Increment(ref next)) < ModelCount)
            {
                cancellation.ThrowIfCancellationRequested();
                Model(i).CopyTo(trainer.Parameters);
                trainer.Vote(inputs, ModelStart + i, mine);
            }
        });
        foreach (var p in partial) votes.Add(p);
        return votes;
    }

    /// <summary>
    /// FNV-1a 64 of a canonical text of the config: equal configs, equal hashes. The warm-up is in the text only when it
    /// is on, so a config without one hashes as it did before the field existed (and older files check).
    /// </summary>
    public static ulong ConfigHash(EnsembleConfig c)
    {
        var t = c.Training;
        string warmup = t.WarmupEpochs == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $";warmup={t.WarmupEpochs}");
        string text = string.Create(CultureInfo.InvariantCulture,
            $"shape={c.Model};epochs={t.Epochs};batch={t.BatchSize};lr={Bits(t.LearningRate)};momentum={Bits(t.Momentum)};wd={Bits(t.WeightDecay)}{warmup};sigma={Bits(c.Sigma)};seed={c.Seed}");
        return Fnv1a(Fnv1aOffset, Encoding.UTF8.GetBytes(text));
        static string Bits(float f) => BitConverter.SingleToUInt32Bits(f).ToString("x8", CultureInfo.InvariantCulture);
    }

    /// <summary>Writes the file atomically (<see cref="AtomicFile"/>: temp file, fsync, rename, directory fsync);
    /// a failure is a one-line <see cref="UserInputException"/> naming the file.</summary>
    public void Save(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        AtomicFile.Write(path, stream =>
        {
            var header = new MemoryStream();
            var w = new BinaryWriter(header);
            w.Write(Magic);
            w.Write(CurrentVersion);
            w.Write(ConfigHash(Config));
            var input = Config.Model.Input;
            w.Write(input.Channels); w.Write(input.Height); w.Write(input.Width); w.Write(input.IsImage);
            w.Write(Config.Model.Classes);
            byte[] text = Encoding.UTF8.GetBytes(Config.Model.Text);
            w.Write(text.Length); w.Write(text);
            var t = Config.Training;
            w.Write(t.Epochs); w.Write(t.BatchSize); w.Write(t.LearningRate); w.Write(t.Momentum); w.Write(t.WeightDecay); w.Write(t.WarmupEpochs);
            w.Write(Config.Sigma); w.Write(Config.Seed);
            w.Write(ModelStart); w.Write(ModelCount); w.Write(Layout.Count);
            w.Write(ClassIds?.Count ?? 0);
            foreach (int id in ClassIds ?? []) w.Write(id);
            w.Flush();
            ulong hash = Fnv1a(Fnv1aOffset, header.GetBuffer().AsSpan(0, (int)header.Length));
            stream.Write(header.GetBuffer(), 0, (int)header.Length);
            var body = MemoryMarshal.AsBytes(Parameters.AsSpan());
            hash = Fnv1a(hash, body);
            stream.Write(body);
            Span<byte> tail = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(tail, hash);
            stream.Write(tail);
        });
    }

    /// <summary>Reads a file written by <see cref="Save"/>; any problem is a <see cref="UserInputException"/> naming the file.</summary>
    public static EnsembleFile Load(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{path}: cannot read ensemble file ({e.Message})", e);
        }
        try
        {
            var span = bytes.AsSpan();
            if (span.Length < 8 + 8 || !span[..8].SequenceEqual(Magic)) throw Bad("not a NativeCert ensemble file (bad magic)");
            var r = new BinaryReader(new MemoryStream(bytes));
            r.ReadBytes(8);
            uint version = r.ReadUInt32();
            if (version is < 1 or > CurrentVersion) throw Bad($"version {version} is not supported (this build reads 1 to {CurrentVersion})");
            ulong configHash = r.ReadUInt64();
            ModelArchitecture model;
            if (version < LayerListVersion)
            {
                int layers = r.ReadInt32();
                if (layers < 2 || layers > 64) throw Bad($"{layers} layer widths");
                var widths = new int[layers];
                for (int i = 0; i < layers; i++) { widths[i] = r.ReadInt32(); if (widths[i] <= 0) throw Bad($"layer width {widths[i]}"); }
                model = ModelArchitecture.Mlp(widths[0], widths[1..^1], widths[^1]);
            }
            else
            {
                int channels = r.ReadInt32(), height = r.ReadInt32(), width = r.ReadInt32();
                bool image = r.ReadBoolean();
                int classes = r.ReadInt32(), textBytes = r.ReadInt32();
                if (channels < 1 || height < 1 || width < 1 || classes < 1 || textBytes < 0 || textBytes > 1 << 16)
                    throw Bad($"invalid model header (input {channels}x{height}x{width}, {classes} classes, {textBytes} bytes of model text)");
                string text = Encoding.UTF8.GetString(r.ReadBytes(textBytes));
                var input = image ? FeatureShape.Image(channels, height, width) : FeatureShape.Flat(channels * height * width);
                try { model = ModelArchitecture.Resolve(input, ModelArchitecture.Parse(text, "model"), classes, "model"); }
                catch (UserInputException e) { throw Bad(e.Message); }
            }
            var training = new TrainingOptions(r.ReadInt32(), r.ReadInt32(), r.ReadSingle(), r.ReadSingle(), r.ReadSingle(),
                                               WarmupEpochs: version >= WarmupVersion ? r.ReadInt32() : 0);
            if (training.Epochs < 0 || training.BatchSize < 1 || training.WarmupEpochs < 0)
                throw Bad($"invalid training options (epochs {training.Epochs}, batch {training.BatchSize}, warm-up epochs {training.WarmupEpochs})");
            float sigma = r.ReadSingle();
            if (!(sigma >= 0) || !float.IsFinite(sigma)) throw Bad($"invalid sigma {sigma}");
            ulong seed = r.ReadUInt64();
            int modelStart = r.ReadInt32(), modelCount = r.ReadInt32(), p = r.ReadInt32();
            var config = new EnsembleConfig(model, training, sigma, seed);
            if (ConfigHash(config) != configHash) throw Bad("config hash does not match the stored config");
            var layout = new ParameterLayout(model);
            if (p != layout.Count) throw Bad($"{p} parameters per model, but model {model} has {layout.Count}");
            if (modelStart < 0 || modelCount < 0) throw Bad("negative model range");
            int[]? classIds = null;
            if (version >= ClassIdsVersion)
            {
                int ids = r.ReadInt32();
                if (ids != 0 && ids != config.Model.Classes) throw Bad($"{ids} class ids for {config.Model.Classes} outputs");
                if (ids > 0)
                {
                    classIds = new int[ids];
                    for (int i = 0; i < ids; i++) classIds[i] = r.ReadInt32();
                    if (classIds.Any(id => id < 0) || classIds.Distinct().Count() != ids) throw Bad($"class ids {string.Join(",", classIds)} are not distinct non-negative ids");
                }
            }
            long headerLength = r.BaseStream.Position;
            long expected = headerLength + (long)modelCount * p * 4 + 8;
            if (bytes.LongLength != expected) throw Bad($"{bytes.LongLength} bytes, expected {expected} (truncated or corrupt)");
            ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(span[^8..]);
            if (Fnv1a(Fnv1aOffset, span[..^8]) != stored) throw Bad("checksum mismatch (corrupt file)");
            var parameters = new float[(long)modelCount * p];
            MemoryMarshal.Cast<byte, float>(span.Slice((int)headerLength, modelCount * p * 4)).CopyTo(parameters);
            return new EnsembleFile(config, modelStart, modelCount, parameters, classIds);
        }
        catch (EndOfStreamException) { throw Bad("truncated header"); }
        catch (ArgumentException e) { throw Bad(e.Message); }

        UserInputException Bad(string problem) => new($"{path}: {problem}");
    }

    private const ulong Fnv1aOffset = 14695981039346656037UL;

    private static ulong Fnv1a(ulong hash, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }
}

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
/// magic "NCENSEMB" (8) | version u32 (2) | config hash u64
/// | input: channels i32, height i32, width i32, image u8 | classes i32 | model text: byte count i32, UTF-8 (<see cref="ModelArchitecture.Text"/>)
/// | epochs i32 | batch i32 | lr f32 | momentum f32 | weight decay f32 | sigma f32 | seed u64
/// | model start i32 | model count i32 | parameters per model i32
/// | parameters f32 (model count, P) | FNV-1a 64 of every preceding byte u64
/// </code>
/// Version 1 (MLPs only, before layer lists) stored <c>widths: count i32, i32×count</c> in place of the input, classes and
/// model text; such files still load, as the MLP they describe.
/// Votes on new inputs use each model's own test noise (TestNoise, m, t), so they equal the votes the ensemble
/// would have cast had those inputs been given at training time.
/// </summary>
public sealed class EnsembleFile
{
    public static ReadOnlySpan<byte> Magic => "NCENSEMB"u8;
    public const uint CurrentVersion = 2;
    /// <summary>The MLP-only format before layer lists; still read.</summary>
    public const uint MlpVersion = 1;

    public EnsembleConfig Config { get; }
    public ParameterLayout Layout { get; }
    /// <summary>Index m of the first model stored (noise streams are keyed by m).</summary>
    public int ModelStart { get; }
    public int ModelCount { get; }
    /// <summary>Parameters <c>(ModelCount, Layout.Count)</c>.</summary>
    public float[] Parameters { get; }

    public EnsembleFile(EnsembleConfig config, int modelStart, int modelCount, float[] parameters)
    {
        Config = config;
        Layout = new ParameterLayout(config.Model);
        if (modelStart < 0 || modelCount < 0) throw new ArgumentOutOfRangeException(nameof(modelCount));
        if (parameters.Length != (long)modelCount * Layout.Count) throw new ArgumentException("parameters must hold (modelCount, P) floats");
        ModelStart = modelStart;
        ModelCount = modelCount;
        Parameters = parameters;
    }

    /// <summary>Parameters of stored model i (model index ModelStart + i).</summary>
    public ReadOnlySpan<float> Model(int i) => Parameters.AsSpan(i * Layout.Count, Layout.Count);

    /// <summary>Trains models [m0, m1) with the CPU engine and keeps them.</summary>
    public static EnsembleFile Train(CpuEnsembleBackend backend, EnsembleConfig config, Dataset train, int m0, int m1,
        IProgress<EnsembleProgress>? progress = null, CancellationToken cancellation = default)
    {
        var layout = new ParameterLayout(config.Model);
        var parameters = new float[(long)(m1 - m0) * layout.Count];
        backend.Run(config, train, null, m0, m1, null, parameters, progress, cancellation);
        return new EnsembleFile(config, m0, m1 - m0, parameters);
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

    /// <summary>FNV-1a 64 of a canonical text of the config: equal configs, equal hashes.</summary>
    public static ulong ConfigHash(EnsembleConfig c)
    {
        var t = c.Training;
        string text = string.Create(CultureInfo.InvariantCulture,
            $"shape={c.Model};epochs={t.Epochs};batch={t.BatchSize};lr={Bits(t.LearningRate)};momentum={Bits(t.Momentum)};wd={Bits(t.WeightDecay)};sigma={Bits(c.Sigma)};seed={c.Seed}");
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
            w.Write(t.Epochs); w.Write(t.BatchSize); w.Write(t.LearningRate); w.Write(t.Momentum); w.Write(t.WeightDecay);
            w.Write(Config.Sigma); w.Write(Config.Seed);
            w.Write(ModelStart); w.Write(ModelCount); w.Write(Layout.Count);
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
            if (version is not (CurrentVersion or MlpVersion)) throw Bad($"version {version} is not supported (expected {MlpVersion} or {CurrentVersion})");
            ulong configHash = r.ReadUInt64();
            ModelArchitecture model;
            if (version == MlpVersion)
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
            var training = new TrainingOptions(r.ReadInt32(), r.ReadInt32(), r.ReadSingle(), r.ReadSingle(), r.ReadSingle());
            if (training.Epochs < 0 || training.BatchSize < 1) throw Bad($"invalid training options (epochs {training.Epochs}, batch {training.BatchSize})");
            float sigma = r.ReadSingle();
            if (!(sigma >= 0) || !float.IsFinite(sigma)) throw Bad($"invalid sigma {sigma}");
            ulong seed = r.ReadUInt64();
            int modelStart = r.ReadInt32(), modelCount = r.ReadInt32(), p = r.ReadInt32();
            var config = new EnsembleConfig(model, training, sigma, seed);
            if (ConfigHash(config) != configHash) throw Bad("config hash does not match the stored config");
            var layout = new ParameterLayout(model);
            if (p != layout.Count) throw Bad($"{p} parameters per model, but model {model} has {layout.Count}");
            if (modelStart < 0 || modelCount < 0) throw Bad("negative model range");
            long headerLength = r.BaseStream.Position;
            long expected = headerLength + (long)modelCount * p * 4 + 8;
            if (bytes.LongLength != expected) throw Bad($"{bytes.LongLength} bytes, expected {expected} (truncated or corrupt)");
            ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(span[^8..]);
            if (Fnv1a(Fnv1aOffset, span[..^8]) != stored) throw Bad("checksum mismatch (corrupt file)");
            var parameters = new float[(long)modelCount * p];
            MemoryMarshal.Cast<byte, float>(span.Slice((int)headerLength, modelCount * p * 4)).CopyTo(parameters);
            return new EnsembleFile(config, modelStart, modelCount, parameters);
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

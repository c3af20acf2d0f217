using System.Buffers.Binary;

namespace NativeCert.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: big-endian magic 0x00000803 then (count, rows, cols) then
/// count·rows·cols bytes for images; magic 0x00000801 then (count) then count bytes for labels. Raw or gzipped.
/// </summary>
internal static class IdxFormat
{
    public const uint ImagesMagic = 0x00000803;
    public const uint LabelsMagic = 0x00000801;

    /// <summary>Reads an IDX image file: pixels <c>(Count, Rows, Cols)</c> as bytes.</summary>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        byte[] b = DataFiles.ReadMaybeGzip(path);
        if (b.Length < 16) throw new UserInputException($"{path}: truncated IDX image file ({b.Length} bytes, header alone is 16)");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(b);
        if (magic != ImagesMagic)
            throw new UserInputException($"{path}: wrong magic 0x{magic:X8} for an IDX image file (expected 0x{ImagesMagic:X8})");
        uint count = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4));
        uint rows = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(8));
        uint cols = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(12));
        if (count == 0) throw new UserInputException($"{path}: empty IDX image file (0 images)");
        if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096)
            throw new UserInputException($"{path}: implausible image size {rows}x{cols}");
        long expected = 16 + (long)count * rows * cols;
        if (b.Length < expected)
            throw new UserInputException($"{path}: truncated: header says {count} images of {rows}x{cols} ({expected} bytes) but the file has {b.Length}");
        if (b.Length > expected)
            throw new UserInputException($"{path}: {b.Length - expected} bytes after the {count} images the header declares");
        return (b.AsSpan(16).ToArray(), (int)count, (int)rows, (int)cols);
    }

    /// <summary>Reads an IDX label file: one byte per record.</summary>
    public static byte[] ReadLabels(string path)
    {
        byte[] b = DataFiles.ReadMaybeGzip(path);
        if (b.Length < 8) throw new UserInputException($"{path}: truncated IDX label file ({b.Length} bytes, header alone is 8)");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(b);
        if (magic != LabelsMagic)
            throw new UserInputException($"{path}: wrong magic 0x{magic:X8} for an IDX label file (expected 0x{LabelsMagic:X8})");
        uint count = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4));
        if (count == 0) throw new UserInputException($"{path}: empty IDX label file (0 labels)");
        long expected = 8 + (long)count;
        if (b.Length < expected)
            throw new UserInputException($"{path}: truncated: header says {count} labels but the file has {b.Length - 8}");
        if (b.Length > expected)
            throw new UserInputException($"{path}: {b.Length - expected} bytes after the {count} labels the header declares");
        return b.AsSpan(8).ToArray();
    }

    /// <summary>
    /// Loads an images/labels pair as a dataset with pixels scaled to [0,1] (byte/255), shape 1xRowsxCols.
    /// Labels must be below <paramref name="classCount"/>.
    /// </summary>
    public static Dataset Load(string imagesPath, string labelsPath, int classCount, string source)
    {
        var (pixels, count, rows, cols) = ReadImages(imagesPath);
        byte[] labels = ReadLabels(labelsPath);
        if (labels.Length != count)
            throw new UserInputException($"{labelsPath}: {labels.Length} labels but {imagesPath} has {count} images");
        return FromBytes(pixels, labels, new ImageShape(1, rows, cols), classCount, labelsPath, source);
    }

    /// <summary>Builds a dataset from byte pixels (scaled by 1/255) and byte labels, checking labels against the class count.</summary>
    internal static Dataset FromBytes(byte[] pixels, byte[] labels, ImageShape shape, int classCount, string labelsPath, string source)
    {
        var lut = new float[256];
        for (int v = 0; v < 256; v++) lut[v] = v / 255f;
        var features = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) features[i] = lut[pixels[i]];
        var y = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
                throw new UserInputException($"{labelsPath}: record {i} has label {labels[i]}, not below the class count {classCount}");
            y[i] = labels[i];
        }
        return new Dataset(features, y, shape.Size, classCount, shape, source);
    }

    /// <summary>Writes an IDX image file atomically (gzipped when <paramref name="gzip"/>).</summary>
    public static void WriteImages(string path, ReadOnlySpan<byte> pixels, int count, int rows, int cols, bool gzip)
    {
        if (pixels.Length != (long)count * rows * cols) throw new ArgumentException($"{pixels.Length} bytes are not {count} images of {rows}x{cols}");
        var b = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, ImagesMagic);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), (uint)count);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8), (uint)rows);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(12), (uint)cols);
        pixels.CopyTo(b.AsSpan(16));
        DataFiles.WriteAtomic(path, b, gzip);
    }

    /// <summary>Writes an IDX label file atomically (gzipped when <paramref name="gzip"/>).</summary>
    public static void WriteLabels(string path, ReadOnlySpan<byte> labels, bool gzip)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, LabelsMagic);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(4), (uint)labels.Length);
        labels.CopyTo(b.AsSpan(8));
        DataFiles.WriteAtomic(path, b, gzip);
    }
}

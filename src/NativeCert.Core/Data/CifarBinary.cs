namespace NativeCert.Data;

/// <summary>
/// CIFAR-10 binary batches (<c>data_batch_1..5.bin</c>, <c>test_batch.bin</c>): records of 1 label byte then
/// 3072 pixel bytes, channel-major R, G, B planes of 32x32, which is exactly <see cref="ImageShape"/>'s layout.
/// </summary>
internal static class CifarBinary
{
    public const int Side = 32, Channels = 3, PixelBytes = Channels * Side * Side, RecordBytes = 1 + PixelBytes, ClassCount = 10;
    public static readonly ImageShape Shape = new(Channels, Side, Side);

    /// <summary>Loads and concatenates batches, pixels scaled to [0,1]; each file must hold whole records with labels 0..9.</summary>
    public static Dataset Load(IReadOnlyList<string> paths, string source)
    {
        var pixels = new List<byte[]>();
        var labels = new List<byte[]>();
        foreach (string path in paths)
        {
            byte[] b = DataFiles.ReadMaybeGzip(path);
            if (b.Length == 0) throw new UserInputException($"{path}: empty CIFAR-10 batch (0 records)");
            if (b.Length % RecordBytes != 0)
                throw new UserInputException($"{path}: truncated or not a CIFAR-10 binary batch: {b.Length} bytes is not a whole number of {RecordBytes}-byte records");
            int n = b.Length / RecordBytes;
            var px = new byte[n * PixelBytes];
            var y = new byte[n];
            for (int i = 0; i < n; i++)
            {
                y[i] = b[i * RecordBytes];
                if (y[i] >= ClassCount)
                    throw new UserInputException($"{path}: record {i} has label {y[i]}, not below the class count {ClassCount}");
                b.AsSpan(i * RecordBytes + 1, PixelBytes).CopyTo(px.AsSpan(i * PixelBytes));
            }
            pixels.Add(px);
            labels.Add(y);
        }
        byte[] allPixels = Concat(pixels), allLabels = Concat(labels);
        return IdxFormat.FromBytes(allPixels, allLabels, Shape, ClassCount, paths[^1], source);
    }

    private static byte[] Concat(List<byte[]> parts)
    {
        var all = new byte[parts.Sum(p => (long)p.Length)];
        long at = 0;
        foreach (byte[] p in parts) { p.CopyTo(all, at); at += p.Length; }
        return all;
    }

    /// <summary>Writes a CIFAR-10 binary batch atomically from byte pixels <c>(n, 3, 32, 32)</c> and labels <c>(n)</c>.</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels)
    {
        if (pixels.Length != labels.Length * PixelBytes) throw new ArgumentException($"{pixels.Length} bytes are not {labels.Length} CIFAR images");
        var b = new byte[labels.Length * RecordBytes];
        for (int i = 0; i < labels.Length; i++)
        {
            b[i * RecordBytes] = labels[i];
            pixels.Slice(i * PixelBytes, PixelBytes).CopyTo(b.AsSpan(i * RecordBytes + 1));
        }
        DataFiles.WriteAtomic(path, b);
    }
}

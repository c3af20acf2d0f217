using System.Buffers.Binary;
using System.IO.Compression;
using NativeCert.IO;

namespace NativeCert.Plotting;

/// <summary>
/// Minimal PNG writer: 8-bit RGB, no interlace, filter type 0 on every scanline, one IDAT chunk compressed
/// with zlib. The same pixels give the same bytes (no timestamps or text chunks), so regenerated plots compare equal.
/// </summary>
internal static class PngEncoder
{
    public static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Encodes <paramref name="rgb"/> <c>(height, width, 3)</c> row-major as a PNG file.</summary>
    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), "image must have pixels");
        if (rgb.Length != (long)width * height * 3) throw new ArgumentException("rgb length is not width × height × 3");

        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(0), (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: truecolour RGB
        ihdr[10] = 0; // compression: deflate
        ihdr[11] = 0; // filter method 0
        ihdr[12] = 0; // no interlace

        // Scanlines each prefixed with filter byte 0 (None).
        int stride = width * 3;
        var raw = new byte[(long)(stride + 1) * height];
        for (int y = 0; y < height; y++) rgb.Slice(y * stride, stride).CopyTo(raw.AsSpan(y * (stride + 1) + 1));
        byte[] idat;
        using (var compressed = new MemoryStream())
        {
            using (var z = new ZLibStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) z.Write(raw);
            idat = compressed.ToArray();
        }

        using var png = new MemoryStream();
        png.Write(Signature);
        WriteChunk(png, "IHDR"u8, ihdr);
        WriteChunk(png, "IDAT"u8, idat);
        WriteChunk(png, "IEND"u8, []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        s.Write(word);
        s.Write(type);
        s.Write(data);
        // The CRC covers type and data, not the length.
        uint crc = Crc32.Append(Crc32.Compute(type), data);
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        s.Write(word);
    }
}

using System.Buffers.Binary;
using System.IO.Compression;
using NativeCert.IO;

namespace NativeCert.Data;

/// <summary>Reading and atomically writing data files, with gzip detected by magic bytes or extension.</summary>
internal static class DataFiles
{
    /// <summary>The whole file, gunzipped when it starts with the gzip magic 1f 8b or is named *.gz.</summary>
    public static byte[] ReadMaybeGzip(string path)
    {
        byte[] bytes = ReadAll(path);
        bool gzip = bytes.Length >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B;
        if (!gzip && !path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return bytes;
        try
        {
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var output = new MemoryStream(bytes.Length * 4);
            input.CopyTo(output);
            byte[] data = output.ToArray();
            // GZipStream checks neither the CRC nor the size in the 8-byte trailer, so a file cut inside its
            // trailer or with flipped bits would load silently. (Single-member files, as gzip and zlib write.)
            if (bytes.Length < 18) throw new InvalidDataException("shorter than a gzip header and trailer");
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 8));
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4));
            if (size != (uint)data.Length || crc != Crc32.Compute(data))
                throw new UserInputException($"{path}: corrupt or truncated gzip file (CRC-32 or size does not match the trailer)");
            return data;
        }
        catch (InvalidDataException e)
        {
            // Bad deflate data surface as "unsupported compression method" and the like: the file is corrupt.
            throw new UserInputException(gzip
                ? $"{path}: corrupt or truncated gzip file (its compressed data do not decode)"
                : $"{path}: named .gz but not a gzip file (no gzip magic 1f 8b)", e);
        }
    }

    /// <summary>The whole file; a missing or unreadable file is a user error naming it.</summary>
    public static byte[] ReadAll(string path)
    {
        // Reading a directory fails as "access denied", which would send the user hunting for permissions.
        if (Directory.Exists(path)) throw new UserInputException($"{path}: is a directory, not a file");
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw new UserInputException($"{path}: file not found", e); }
        catch (DirectoryNotFoundException e) { throw new UserInputException($"{path}: file not found (no such directory)", e); }
        catch (UnauthorizedAccessException e) { throw new UserInputException($"{path}: permission denied", e); }
        catch (IOException e) { throw new UserInputException($"{path}: cannot read ({e.Message.TrimEnd('.')})", e); }
    }

    /// <summary>
    /// Writes a file atomically (gzipped when <paramref name="gzip"/>): see <see cref="AtomicFile"/>: temporary file
    /// in the same directory, fsync, rename, directory fsync; a reader never sees a half-written file, and a failure
    /// is a one-line <see cref="UserInputException"/> naming the file.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> bytes, bool gzip = false) =>
        AtomicFile.WriteAllBytes(path, bytes, gzip);
}

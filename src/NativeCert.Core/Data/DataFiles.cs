using System.IO.Compression;

namespace NativeCert.Data;

/// <summary>Reading and atomically writing data files, with gzip detected by magic bytes or extension.</summary>
public static class DataFiles
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
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new UserInputException($"{path}: not a valid gzip file ({e.Message.TrimEnd('.')})", e);
        }
    }

    /// <summary>The whole file; a missing or unreadable file is a user error naming it.</summary>
    public static byte[] ReadAll(string path)
    {
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw new UserInputException($"{path}: file not found", e); }
        catch (DirectoryNotFoundException e) { throw new UserInputException($"{path}: file not found (no such directory)", e); }
        catch (UnauthorizedAccessException e) { throw new UserInputException($"{path}: permission denied", e); }
        catch (IOException e) { throw new UserInputException($"{path}: cannot read ({e.Message.TrimEnd('.')})", e); }
    }

    /// <summary>
    /// Writes a file atomically: the bytes go to a temporary file in the same directory, are flushed to disk,
    /// then renamed over <paramref name="path"/>, so a reader never sees a half-written file.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> bytes, bool gzip = false)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                if (gzip)
                {
                    using var z = new GZipStream(file, CompressionLevel.Optimal, leaveOpen: true);
                    z.Write(bytes);
                }
                else
                {
                    file.Write(bytes);
                }
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}

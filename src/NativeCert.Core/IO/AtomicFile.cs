using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace NativeCert.IO;

/// <summary>
/// Writes a file so that readers see either the old file or the complete new one, never a part:
/// the bytes go to a temporary file in the same directory, which is flushed to disk (fsync) and renamed
/// over the target; then the directory itself is synced so the rename survives a power cut.
/// A failure to write (full disk, read-only or missing directory) becomes a one-line
/// <see cref="UserInputException"/> naming the file, and leaves the target as it was.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Checks, before any work, that <paramref name="path"/> can be written as a file: its directory exists, it is
    /// not itself a directory, and it is none of the command's <paramref name="inputs"/> (input path, its option), so
    /// that a result never silently replaces what it was computed from. A problem is a one-line
    /// <see cref="UserInputException"/> naming <paramref name="option"/>.
    /// </summary>
    public static void CheckWritableFile(string path, string option, params ReadOnlySpan<(string? Path, string Option)> inputs)
    {
        foreach (var (input, inputOption) in inputs)
            if (input is not null && SameFile(path, input))
                throw new UserInputException($"{option} {path}: is the {inputOption} file; write the result to another file");
        if (string.IsNullOrWhiteSpace(path)) throw new UserInputException($"{option}: empty file name");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UserInputException($"{option} {path}: is a directory; give a file name");
        string? dir = Path.GetDirectoryName(full);
        if (dir is null) throw new UserInputException($"{option} {path}: not a file path");
        if (!Directory.Exists(dir))
            throw new UserInputException($"{option} {path}: directory {dir} {(File.Exists(dir) ? "is a file" : "does not exist")}");
    }

    /// <summary>Whether two paths name one file: equal full paths, or (for existing files) equal targets after symbolic links.</summary>
    public static bool SameFile(string a, string b)
    {
        static string Resolve(string p)
        {
            string full = Path.GetFullPath(p);
            try { return File.Exists(full) && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target ? target.FullName : full; }
            catch (IOException) { return full; }
        }
        return Resolve(a) == Resolve(b);
    }

    /// <summary>Writes <paramref name="path"/> with the bytes <paramref name="write"/> puts into the stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Write(path, write, static (stream, w) => w(stream));
    }

    /// <summary>
    /// Writes <paramref name="path"/> with the bytes <paramref name="write"/> puts into the stream, given
    /// <paramref name="state"/>; the state may be a span, so callers need not copy their bytes into a closure.
    /// </summary>
    public static void Write<TState>(string path, TState state, Action<Stream, TState> write)
        where TState : allows ref struct
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new UserInputException($"{path}: not a file path");
        // Checked here so the message names the directory, not the temporary file the open would fail on.
        if (!Directory.Exists(dir))
            throw new UserInputException($"cannot write {path}: {dir} {(File.Exists(dir) ? "is a file, not a directory" : "does not exist")}");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream, state);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            SyncDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new UserInputException($"cannot write {path}: {OneLine(e.Message)}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes the text <paramref name="write"/> puts into the writer, as UTF-8 without a byte-order mark.</summary>
    public static void WriteText(string path, Action<TextWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        Write(path, write, static (stream, w) =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
            w(writer);
        });
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, text, static (stream, t) => stream.Write(new UTF8Encoding(false).GetBytes(t)));

    /// <summary>Writes <paramref name="bytes"/> as the whole file.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes) =>
        Write(path, bytes, static (stream, b) => stream.Write(b));

    /// <summary>
    /// Writes <paramref name="bytes"/> as the whole file, gzip-compressed (a single member, as gzip writes) when
    /// <paramref name="gzip"/>.
    /// </summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes, bool gzip)
    {
        if (!gzip) { WriteAllBytes(path, bytes); return; }
        Write(path, bytes, static (stream, b) =>
        {
            using var z = new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true);
            z.Write(b);
        });
    }

    /// <summary>
    /// Creates <paramref name="dir"/> (and parents); a failure names the directory and the option that gave it.
    /// </summary>
    public static void CreateDirectory(string dir, string option)
    {
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UserInputException($"{option}: cannot create directory {dir}: {OneLine(e.Message)}", e);
        }
    }

    /// <summary>Deletes a file durably (the deletion is synced to the directory); missing is fine.</summary>
    public static void Delete(string path)
    {
        try
        {
            if (!File.Exists(path)) return;
            File.Delete(path);
            SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot delete {path}: {OneLine(e.Message)}", e);
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    /// <summary>fsync of the directory entry; .NET has no API for it, so libc on Unix, nothing on Windows
    /// (where MoveFileEx already writes through the rename).</summary>
    private static void SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            int fd = Libc.open(dir, 0 /* O_RDONLY */);
            if (fd < 0) return;
            Libc.fsync(fd);
            Libc.close(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    private static class Libc
    {
        [DllImport("libc", SetLastError = true)] public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
        [DllImport("libc", SetLastError = true)] public static extern int fsync(int fd);
        [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
    }
}

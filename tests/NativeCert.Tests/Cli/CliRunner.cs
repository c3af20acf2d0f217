using NativeCert.Cli;

namespace NativeCert.Tests.Cli;

/// <summary>Runs the CLI in-process and checks the bad-input contract: exit 2, one stderr line naming the culprit.</summary>
public static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(Program.BuildRoot(), args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>
    /// Runs <paramref name="args"/> and asserts a user error: exit 2, exactly one line on stderr that contains every
    /// one of <paramref name="mustContain"/>, and no file under <paramref name="watched"/> created, removed or changed.
    /// Returns the line.
    /// </summary>
    public static string AssertRefused(string watched, string[] args, params string[] mustContain)
    {
        var before = Snapshot(watched);
        var (code, _, err) = Run(args);
        string[] lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(code == ExitCodes.UserError, $"exit {code} for {string.Join(' ', args)}: {err}");
        Assert.True(lines.Length == 1, $"expected one stderr line for {string.Join(' ', args)}, got:\n{err}");
        Assert.StartsWith("nativecert: error: ", lines[0]);
        foreach (string s in mustContain) Assert.Contains(s, lines[0]);
        Assert.Equal(before, Snapshot(watched));
        return lines[0];
    }

    /// <summary>Every file and directory under <paramref name="dir"/> with its bytes, as sorted text.</summary>
    public static string Snapshot(string dir) =>
        string.Join("\n", Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p) ? $"{p} {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(p)))}" : p + "/"));
}

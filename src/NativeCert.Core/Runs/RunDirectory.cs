using System.Globalization;
using NativeCert.IO;

namespace NativeCert.Runs;

/// <summary>
/// The files of one run. A run is complete exactly when <c>summary.json</c> exists:
/// it is written last, and removed first whenever a run (re)starts, so a killed run never looks complete.
/// </summary>
internal sealed class RunDirectory
{
    public string Root { get; }
    public RunDirectory(string root) => Root = root;

    public string ConfigPath => Path.Combine(Root, "config.json");
    public string VotesPath => Path.Combine(Root, "votes.bin");
    public string VotesTsvPath => Path.Combine(Root, "votes.tsv");
    public string CertificatesPath => Path.Combine(Root, "certificates.tsv");
    public string SummaryPath => Path.Combine(Root, "summary.json");
    public string SummaryTextPath => Path.Combine(Root, "summary.txt");
    public string RadiusPlotPath => Path.Combine(Root, "certified-accuracy-vs-radius.png");
    public string PoisonPlotPath => Path.Combine(Root, "certified-accuracy-vs-poison.png");
    public string TimingPath => Path.Combine(Root, "timing.json");
    /// <summary>Trained models (<see cref="RunExecution.KeepModels"/>): one EnsembleFile per chunk.</summary>
    public string ModelsDirectory => Path.Combine(Root, "models");

    /// <summary>True when the run finished: summary.json, written last, exists.</summary>
    public bool IsComplete => File.Exists(SummaryPath);

    /// <summary>Default run directory <c>runs/&lt;UTC timestamp&gt;</c>, e.g. runs/20261125-101900Z.</summary>
    public static string DefaultPath(DateTime utcNow) =>
        Path.Combine("runs", utcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "Z");

    /// <summary>
    /// Checks, creating nothing, that <paramref name="root"/> can take a new run: it is not a file and holds no run
    /// (config.json or votes.bin; resume such a run instead).
    /// </summary>
    public static void CheckNew(string root)
    {
        var dir = new RunDirectory(root);
        if (File.Exists(root))
            throw new UserInputException($"{root} is a file, not a run directory");
        if (File.Exists(dir.ConfigPath) || File.Exists(dir.VotesPath))
            throw new UserInputException($"{root} already holds a run; resume it to continue it, or choose another directory");
    }

    /// <summary>Prepares a directory for a new run (see <see cref="CheckNew"/>): creates it.</summary>
    public static RunDirectory CreateNew(string root)
    {
        CheckNew(root);
        AtomicFile.CreateDirectory(root, "run directory");
        return new RunDirectory(root);
    }

    /// <summary>Opens an existing run (to resume, report or merge it); its config.json must exist.</summary>
    public static RunDirectory OpenExisting(string root)
    {
        var dir = new RunDirectory(root);
        if (File.Exists(root)) throw new UserInputException($"{root} is a file, not a run directory");
        if (!Directory.Exists(root)) throw new UserInputException($"run directory {root} does not exist");
        if (!File.Exists(dir.ConfigPath)) throw new UserInputException($"{root} holds no run (no config.json)");
        return dir;
    }

    public string LockPath => Path.Combine(Root, ".lock");

    /// <summary>
    /// Takes the run's lock (an exclusive lock on <c>.lock</c>, released by the OS even on kill -9), so that two
    /// processes never write the same run; a held lock is a <see cref="UserInputException"/> naming the directory.
    /// </summary>
    public IDisposable Lock()
    {
        try
        {
            return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new UserInputException($"{Root} is in use by another nativecert process ({e.Message.ReplaceLineEndings(" ")})", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UserInputException($"cannot lock {LockPath}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    /// <summary>Marks the run incomplete (removes summary.json durably) before anything else changes.</summary>
    public void MarkIncomplete() => AtomicFile.Delete(SummaryPath);
}

namespace NativeCert.Data;

/// <summary>
/// Finds the repository's <c>data/</c> directory (which holds <c>mnist/</c>): the <c>NATIVECERT_DATA</c>
/// environment variable when set, otherwise the first directory named <c>data</c> holding the built-in MNIST
/// files found walking up from the application's base directory (the CLI's output directory carries a copy).
/// </summary>
internal static class DataRoot
{
    public const string EnvironmentVariable = "NATIVECERT_DATA";
    public const string MnistImages = "mnist-images-idx3-ubyte.gz", MnistLabels = "mnist-labels-idx1-ubyte.gz";

    /// <summary>The data directory; a user error when NATIVECERT_DATA names a missing directory or nothing is found.</summary>
    public static string Find()
    {
        string? env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrEmpty(env))
        {
            if (!Directory.Exists(env)) throw new UserInputException($"{EnvironmentVariable}={env}: directory not found");
            return Path.GetFullPath(env);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "data");
            if (File.Exists(Path.Combine(candidate, "mnist", MnistImages))) return candidate;
        }
        throw new UserInputException($"built-in data directory not found above {AppContext.BaseDirectory} (set {EnvironmentVariable} to the repository's data/ directory)");
    }
}

using System.Diagnostics;
using System.Text.Json;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// Builds the device bundle once (benchmarks/gpu/make-bundle.sh: two trimmed self-contained publishes, the slow
/// part of this class) and unpacks it, for the tests below. Skipped off Linux x64.
/// </summary>
public sealed class DeviceBundleFixture : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("nativecert-bundle-").FullName;
    public string Archive => Path.Combine(Directory, "nativecert-gpu.tar.gz");
    public string Unpacked => Path.Combine(Directory, "unpacked", "nativecert-bundle");
    public string Root { get; }
    public TimeSpan BuildTime { get; }
    /// <summary>A PATH with only the tools the scripts use, linked into one directory: no dotnet on it.</summary>
    public string BarePath { get; }

    public static bool Supported => OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.X64;

    public DeviceBundleFixture()
    {
        Root = FindRoot();
        BarePath = Path.Combine(Directory, "bare-bin");
        if (!Supported) return;
        var sw = Stopwatch.StartNew();
        var (exit, output) = Run(Path.Combine(Root, "benchmarks/gpu/make-bundle.sh"), [Archive], Environment.GetEnvironmentVariable("PATH")!, Root, TimeSpan.FromMinutes(15));
        BuildTime = sw.Elapsed;
        if (exit != 0) throw new InvalidOperationException($"make-bundle.sh failed ({exit}):\n{output}");
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "unpacked"));
        (exit, output) = Run("tar", ["-C", Path.Combine(Directory, "unpacked"), "-xzf", Archive], Environment.GetEnvironmentVariable("PATH")!, Directory, TimeSpan.FromMinutes(2));
        if (exit != 0) throw new InvalidOperationException($"tar failed: {output}");
        System.IO.Directory.CreateDirectory(BarePath);
        foreach (string tool in new[] { "bash", "sh", "tar", "gzip", "mkdir", "mktemp", "rm", "cp", "cat", "head", "tail", "grep", "awk", "timeout", "ldconfig", "date", "basename", "dirname", "column", "env", "sed", "tee" })
            if (Which(tool) is { } path) File.CreateSymbolicLink(Path.Combine(BarePath, tool), path);
    }

    private static string? Which(string tool) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists)
        ?? new[] { "/sbin", "/usr/sbin" }.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NativeCert.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root (NativeCert.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs <paramref name="file"/> with <paramref name="path"/> as PATH and no DOTNET_ROOT; exit code and stdout+stderr.</summary>
    public static (int Exit, string Output) Run(string file, string[] args, string path, string workingDirectory, TimeSpan limit, bool stdoutOnly = false)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (string a in args) psi.ArgumentList.Add(a);
        psi.Environment["PATH"] = path;
        foreach (string v in new[] { "DOTNET_ROOT", "DOTNET_ROOT_X64", "DOTNET_HOST_PATH", "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
            psi.Environment.Remove(v);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} ran past {limit}"); }
        return (p.ExitCode, stdoutOnly ? stdout.Result : stdout.Result + stderr.Result);
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// The device bundle as a bare GPU machine meets it (no .NET on PATH, no DOTNET_ROOT): under the 48 MiB limit, the
/// trimmed CLI runs, and device-check.sh's dry run proves its whole logic (the trimmed harness compiling and running
/// every kernel on ILGPU's CPU accelerator) before a GPU minute is spent.
/// </summary>
public sealed class DeviceBundleTests(DeviceBundleFixture bundle) : IClassFixture<DeviceBundleFixture>
{
    [Fact]
    public void Archive_fits_the_48_MiB_limit_and_holds_both_apps_and_the_scripts()
    {
        if (!DeviceBundleFixture.Supported) return;
        Assert.True(new FileInfo(bundle.Archive).Length <= 48L << 20, $"{new FileInfo(bundle.Archive).Length} bytes");
        foreach (string f in new[] { "cli/nativecert", "gpucheck/nativecert-gpucheck", "device-check.sh", "torch_cuda_ensemble.py", "BUILD" })
            Assert.True(File.Exists(Path.Combine(bundle.Unpacked, f)), f);
        foreach (string app in new[] { "cli", "gpucheck" }) // the built-in MNIST travels with both
            Assert.Equal(2, Directory.GetFiles(Path.Combine(bundle.Unpacked, app, "data", "mnist"), "*.gz").Length);
        Assert.False(File.Exists(Path.Combine(bundle.BarePath, "dotnet")));
    }

    [Fact]
    public void Bench_runs_from_the_unpacked_bundle_without_dotnet()
    {
        if (!DeviceBundleFixture.Supported) return;
        var (exit, output) = DeviceBundleFixture.Run(Path.Combine(bundle.Unpacked, "cli/nativecert"),
            ["bench", "--backend", "cpu", "--models", "2", "--epochs", "1", "--json"], bundle.BarePath, bundle.Directory, TimeSpan.FromMinutes(5), stdoutOnly: true);
        Assert.True(exit == 0, output);
        using var json = JsonDocument.Parse(output);
        Assert.Equal("cpu", json.RootElement.GetProperty("backend").GetString());
        Assert.Equal(2, json.RootElement.GetProperty("models").GetInt32());
        Assert.Equal("mnist train", json.RootElement.GetProperty("data").GetString()); // the built-in MNIST travels with it
        Assert.True(json.RootElement.GetProperty("model_epochs_per_s").GetDouble() > 0);
    }

    [Fact]
    public void Device_check_dry_run_from_the_archive_passes_every_stage_and_says_what_it_skipped()
    {
        if (!DeviceBundleFixture.Supported) return;
        string outDir = Path.Combine(bundle.Directory, "dry-run");
        var (exit, output) = DeviceBundleFixture.Run(Path.Combine(bundle.Unpacked, "device-check.sh"), [bundle.Archive, outDir, "--dry-run"],
            bundle.BarePath, bundle.Directory, TimeSpan.FromMinutes(10));
        Assert.True(exit == 0, output + File.ReadAllText(Path.Combine(outDir, "device-check.log")));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "device-check.json")));
        var root = json.RootElement;
        Assert.StartsWith("dry run", root.GetProperty("mode").GetString());
        Assert.True(root.GetProperty("all_stages_passed").GetBoolean());
        var stages = root.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("stage").GetString()!, s => s);
        foreach (string ran in new[] { "info", "ptx", "correctness", "gemm", "bench-mlp", "votes", "certify" })
            Assert.Equal("ok", stages[ran].GetProperty("status").GetString());
        foreach (string skipped in new[] { "nvidia-smi", "ptxas", "torch" })
        {
            Assert.Equal("skipped", stages[skipped].GetProperty("status").GetString());
            Assert.Contains("dry run", stages[skipped].GetProperty("note").GetString());
        }
        var results = root.GetProperty("results");
        // The trimmed harness compiled every kernel to PTX and ran every one on the CPU accelerator against the CPU engine.
        Assert.True(results.GetProperty("ptx").GetProperty("kernels").EnumerateObject().Count() >= 12);
        var correctness = results.GetProperty("correctness");
        Assert.True(correctness.GetProperty("passed").GetBoolean());
        var kernels = correctness.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("kernel").GetString()).ToHashSet();
        foreach (string k in new[] { "HeInit", "Shuffle", "GatherNoisyTrainingRows", "NoisyTestRows", "BatchedGemm", "BiasGradient", "ReluBackward", "SoftmaxCrossEntropy", "SgdMomentum", "ArgmaxVote" })
            Assert.Contains(k, kernels);
        Assert.True(results.GetProperty("votes").GetProperty("passed").GetBoolean());
        Assert.Equal(0, results.GetProperty("votes").GetProperty("predictions_differing").GetInt32());
        Assert.True(results.GetProperty("gemm").GetProperty("gemms").GetArrayLength() >= 8);
        Assert.Equal("ilgpu-cpu", results.GetProperty("bench-mlp").GetProperty("backend").GetString());
        Assert.True(File.Exists(Path.Combine(outDir, "certify-run", "certificates.tsv")));
    }
}

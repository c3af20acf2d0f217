using System.Diagnostics;
using NativeCert.Cli.Cluster;

namespace NativeCert.Tests.Cluster;

/// <summary>Whether a Slurm cluster answers here (sbatch on PATH, <c>scontrol ping</c> reaches slurmctld), checked once.</summary>
public static class SlurmAvailability
{
    private static readonly Lazy<string?> Problem = new(Check);

    /// <summary>Null when a cluster answers, else why not.</summary>
    public static string? Why => Problem.Value;

    public const string HowToRun =
        "start a single-node cluster as root with `. .ci/slurm-up.sh` (installs slurm-wlm and munge if missing), run " +
        "`dotnet test NativeCert.sln -c Release --filter FullyQualifiedName~Slurm`, then `.ci/slurm-down.sh`";

    /// <summary>Under CI (CI=true) a missing cluster fails the Slurm tests instead of skipping them.</summary>
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    private static string? Check()
    {
        if (SlurmClient.FindOnPath("sbatch") is null) return "sbatch is not on PATH";
        var start = new ProcessStartInfo("scontrol") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("ping");
        try
        {
            using var p = Process.Start(start)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            if (!p.WaitForExit(TimeSpan.FromSeconds(20))) { p.Kill(); return "scontrol ping did not answer"; }
            return p.ExitCode == 0 && output.Contains("is UP") ? null : $"scontrol ping: {output.Trim().ReplaceLineEndings(" ")}";
        }
        catch (System.ComponentModel.Win32Exception e) { return $"scontrol: {e.Message}"; }
    }

    /// <summary>Fails the calling test when no cluster answers (only reached under CI, where tests must not skip).</summary>
    public static void Require()
    {
        if (Why is { } why) Assert.Fail($"no Slurm cluster ({why}); under CI the Slurm tests must run: {HowToRun}");
    }
}

/// <summary>A test that needs a Slurm cluster: skipped with the way to run it when there is none, except under CI.</summary>
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (SlurmAvailability.Why is { } why && !SlurmAvailability.InCi) Skip = $"no Slurm cluster here ({why}); to run: {SlurmAvailability.HowToRun}";
    }
}

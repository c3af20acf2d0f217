using BenchmarkDotNet.Running;

namespace NativeCert.Benchmarks;

public static class Program
{
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*'`
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- profile` (quick per-phase Stopwatch timings)
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "profile") { PhaseProfile.Run(); return; }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}

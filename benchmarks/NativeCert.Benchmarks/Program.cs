using BenchmarkDotNet.Running;

namespace NativeCert.Benchmarks;

public static class Program
{
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*'`
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- profile` (quick per-phase Stopwatch timings)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- gpu --backend cuda --json` (see Gpu/GpuThroughput.cs)
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "profile") { PhaseProfile.Run(); return 0; }
        if (args.Length > 0 && args[0] == "gpu") return Gpu.GpuThroughput.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}

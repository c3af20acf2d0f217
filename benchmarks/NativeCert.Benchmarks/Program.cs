using BenchmarkDotNet.Running;

namespace NativeCert.Benchmarks;

public static class Program
{
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*'`
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}

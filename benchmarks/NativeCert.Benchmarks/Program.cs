using BenchmarkDotNet.Running;

namespace NativeCert.Benchmarks;

public static class Program
{
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*'`
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*PhaseBenchmarks*'` (one case per training phase)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab kchunk` (paired A/B of a GEMM knob, see PairedAb.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab gemm [avx512|avx2] [rounds]` (the MLP and conv GEMM shapes, before vs now, GFLOP/s and % of peak, see GemmKernelAb.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab gemm rowsdw [avx512|avx2] [rounds]` (the MLP's weight gradient over a row table against a contiguous copy, see GemmKernelAb.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab conv [avx512|avx2] [prefix]` (LeNet's conv kernels, GFLOP/s and % of peak, see ConvAb.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- exp-check [stride]` (the softmax's exp against MathF.Exp and across levels, every float, see ExpCheck.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- hashes` (vote/parameter hashes of small ensembles, see ContractHashes.cs)
    // `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- gpu --backend cuda --json` (see Gpu/GpuThroughput.cs)
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "hashes") { ContractHashes.Run(); return 0; }
        if (args.Length > 0 && args[0] == "exp-check") return ExpCheck.Run(args[1..]);
        if (args.Length > 1 && args[0] == "ab" && args[1] == "conv") { ConvAb.Run(args[2..]); return 0; }
        if (args.Length > 1 && args[0] == "ab" && args[1] == "assist") { AssistAb.Run(args[2..]); return 0; }
        if (args.Length > 1 && args[0] == "ab" && args[1] == "gemm") { GemmKernelAb.Run(args[2..]); return 0; }
        if (args.Length > 0 && args[0] == "ab") { GemmAb.Run(args[1..]); return 0; }
        if (args.Length > 0 && args[0] == "gpu") return Gpu.GpuThroughput.Run(args[1..]);
        if (args.Length == 2 && args[0] == "export-mnist") { ExportMnist(args[1]); return 0; }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }

    /// <summary>
    /// Writes the default MNIST split (8,000/2,000) as raw little-endian arrays for the PyTorch peer:
    /// train_x.f32 (n, 784), train_y.i32 (n), test_x.f32, test_y.i32.
    /// </summary>
    private static void ExportMnist(string directory)
    {
        Directory.CreateDirectory(directory);
        var split = NativeCert.Data.DatasetCatalog.Load(NativeCert.Data.DatasetCatalog.DefaultSpec);
        foreach (var (name, data) in new[] { ("train", split.Train), ("test", split.Test) })
        {
            File.WriteAllBytes(Path.Combine(directory, name + "_x.f32"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Features.AsSpan()).ToArray());
            File.WriteAllBytes(Path.Combine(directory, name + "_y.i32"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Labels.AsSpan()).ToArray());
        }
        Console.WriteLine($"wrote {split.Describe()} to {directory}");
    }
}

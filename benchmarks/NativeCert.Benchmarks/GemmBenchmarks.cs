using BenchmarkDotNet.Attributes;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Benchmarks;

/// <summary>
/// The first layer of MLP 784-128-10 at batch 128, where ~99% of the flops are: forward (B,IN)·(IN,OUT) with fused
/// bias+ReLU, and dW = Xᵀ·dY. Each SIMD level against the scalar reference (double accumulation).
/// 1 call = 2·128·784·128 = 25.7 MFLOP.
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*Gemm*'`
/// </summary>
[ShortRunJob]
public class GemmBenchmarks
{
    private const int B = 128, IN = 784, OUT = 128;
    private float[] _x = [], _w = [], _bias = [], _y = [], _dy = [], _dw = [], _db = [];

    [Params(IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar)]
    public IsaLevel Isa { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = rng.NextSingle() - 0.5f; return a; }
        (_x, _w, _bias, _dy) = (R(B * IN), R(IN * OUT), R(OUT), R(B * OUT));
        (_y, _dw, _db) = (new float[B * OUT], new float[IN * OUT], new float[OUT]);
    }

    [Benchmark]
    public void Forward() => CpuKernels.MatmulForward(_y, _x, _w, _bias, B, IN, OUT, relu: true, Isa);

    [Benchmark]
    public void WeightGradient() => CpuKernels.MatmulBackward(default, _dw, _db, _dy, _x, _w, default, B, IN, OUT, Isa);
}

/// <summary>The scalar reference (double accumulation) on the same first-layer forward, for scale.</summary>
[ShortRunJob]
public class ReferenceGemmBenchmarks
{
    private const int B = 128, IN = 784, OUT = 128;
    private readonly float[] _x = new float[B * IN], _w = new float[IN * OUT], _bias = new float[OUT], _y = new float[B * OUT];

    [Benchmark]
    public void ReferenceForward() => ReferenceMlp.MatmulForward(_y, _x, _w, _bias, B, IN, OUT);
}

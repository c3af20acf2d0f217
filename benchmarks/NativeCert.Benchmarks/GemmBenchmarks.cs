using BenchmarkDotNet.Attributes;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Benchmarks;

/// <summary>The scalar reference (double accumulation) on the first-layer forward of <see cref="PhaseBenchmarks"/>, for scale.</summary>
[ShortRunJob]
public class ReferenceGemmBenchmarks
{
    private const int B = 128, IN = 784, OUT = 128;
    private readonly float[] _x = new float[B * IN], _w = new float[IN * OUT], _bias = new float[OUT], _y = new float[B * OUT];

    [Benchmark]
    public void ReferenceForward() => ReferenceMlp.MatmulForward(_y, _x, _w, _bias, B, IN, OUT);
}

/// <summary>
/// One case per GEMM shape the CPU engine runs, at each ISA level: the MLP's first layer (forward and weight
/// gradient, batch 128) and LeNet's convolutions on one image group (as <see cref="CpuConvKernels"/> cuts them:
/// conv1 forward (16, 4·576) = W(16, 25)·col, conv2 forward (32, 2·64) = W(32, 400)·col, conv2 input gradient
/// dcol = Wᵀ(400, 32)·dY, conv2 weight gradient dWᵀ(400, 32) += col·dYᵀ through <see cref="CpuGemm.GemmAccumulate"/>).
/// GFLOP/s = 2·M·N·K / time. `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*GemmShapeBenchmarks*'`
/// (on a shared machine, `-- ab gemm` gives paired thread-CPU-clock figures instead).
/// </summary>
[ShortRunJob]
public unsafe class GemmShapeBenchmarks
{
    // By name: BenchmarkDotNet's generated project cannot see the engine's internal IsaLevel.
    [Params(nameof(IsaLevel.Avx512), nameof(IsaLevel.Avx2))]
    public string Isa { get; set; } = "";

    [Params("mlp_forward", "mlp_weight_gradient", "conv1_forward", "conv2_forward", "conv2_input_gradient", "conv2_weight_gradient")]
    public string Shape { get; set; } = "";

    private IsaLevel Level => Enum.Parse<IsaLevel>(Isa);
    private float[] _a = [], _b = [], _c = [], _bias = [];
    private (int M, int N, int K, int ARow, int AK, bool Bias) _s;

    [GlobalSetup]
    public void Setup()
    {
        int n1 = Math.Max(1, (1 << 16) / (25 * 576)) * 576, n2 = Math.Max(1, (1 << 16) / (400 * 64)) * 64;
        _s = Shape switch
        {
            "mlp_forward" => (128, 128, 784, 784, 1, true),
            "mlp_weight_gradient" => (784, 128, 128, 1, 784, false),
            "conv1_forward" => (16, n1, 25, 25, 1, false),
            "conv2_forward" => (32, n2, 400, 400, 1, false),
            "conv2_input_gradient" => (400, n2, 32, 1, 400, false),
            "conv2_weight_gradient" => (400, 32, n2, n2, 1, false), // dWᵀ (CKK, CO) += col (CKK, n) · dYᵀ (n, CO)
            _ => throw new ArgumentException(Shape),
        };
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        (_a, _b, _c, _bias) = (R(_s.M * _s.K), R(_s.K * _s.N), new float[_s.M * _s.N], R(_s.N));
    }

    [Benchmark]
    public void Gemm()
    {
        var s = _s;
        fixed (float* a = _a, b = _b, c = _c, bias = _bias)
        {
            if (Shape == "conv2_weight_gradient") CpuGemm.GemmAccumulate(c, s.N, a, s.ARow, b, s.N, s.M, s.N, s.K, first: true, Level);
            else CpuGemm.Gemm(c, s.N, a, s.ARow, s.AK, b, s.N, s.Bias ? bias : null, s.Bias, s.M, s.N, s.K, Level);
        }
    }
}

using BenchmarkDotNet.Attributes;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// LeNet's image layers at batch 128, each kernel and direction on every SIMD level: conv1 (1×28×28 → 16×24×24, 5×5;
/// forward and weight gradient, the first layer needs no input gradient; 2·128·576·16·25 = 59 MFLOP each), conv2
/// (16×12×12 → 32×8×8, 5×5; forward, and backward = weight, bias and input gradient; 2·128·64·32·400 = 210 MFLOP per
/// product: backward weight and backward input are 210 MFLOP each) and 2×2 max pooling of conv1's output (forward and
/// backward), and conv1's two passes as trained (fused with pool1: the forward writing window codes, the weight gradient
/// from them). GFLOP/s = those flops / the mean; `-- ab conv` prints GFLOP/s and % of one thread's peak directly.
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*Conv*'`
/// </summary>
[ShortRunJob]
public class ConvBenchmarks
{
    private const int B = 128;
    private float[] _x1 = [], _w1 = [], _b1 = [], _y1 = [], _dy1 = [], _dw1 = [], _db1 = [];
    private float[] _x2 = [], _w2 = [], _b2 = [], _y2 = [], _dy2 = [], _dx2 = [], _dw2 = [], _db2 = [];
    private float[] _columns = [], _pooled = [], _dpool = [], _dx1 = [];
    private byte[] _codes = [];

    // By name: BenchmarkDotNet's generated project cannot see the engine's internal IsaLevel.
    [Params(nameof(IsaLevel.Avx512), nameof(IsaLevel.Avx2), nameof(IsaLevel.Scalar))]
    public string Isa { get; set; } = "";
    private IsaLevel Level => Enum.Parse<IsaLevel>(Isa);

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        (_x1, _w1, _b1, _dy1) = (R(B * 784), R(16 * 25), R(16), R(16 * B * 576));
        (_y1, _dw1, _db1, _dx1) = (new float[16 * B * 576], new float[16 * 25], new float[16], new float[16 * B * 576]);
        (_x2, _w2, _b2, _dy2) = (R(16 * B * 144), R(32 * 400), R(32), R(32 * B * 64));
        (_y2, _dx2, _dw2, _db2) = (new float[32 * B * 64], new float[16 * B * 144], new float[32 * 400], new float[32]);
        _columns = new float[Math.Max(25 * B * 576, 400 * B * 64)];
        (_pooled, _dpool) = (new float[16 * B * 144], R(16 * B * 144));
        // A ReLU output with the fused forward's window codes (conv1 as trained), for the passes through pool1.
        _codes = new byte[16 * B * 144];
        CpuConvKernels.Conv2dForwardPooled(_y1, _pooled, Fused ? _codes : default, _x1, Input1, _w1, _b1, _columns, B, 1, 28, 28, 16, 5, 0, relu: true, Level);
    }

    private static readonly ImageStrides Input1 = ImageStrides.ExampleMajor(1, 784), Input2 = ImageStrides.ChannelMajor(B, 144), Pool = ImageStrides.ChannelMajor(B, 576);

    [Benchmark]
    public void Conv1Forward() => CpuConvKernels.Conv2dForward(_y1, _x1, Input1, _w1, _b1, _columns, B, 1, 28, 28, 16, 5, 0, relu: true, Level);

    [Benchmark]
    public void Conv1BackwardWeight() => CpuConvKernels.Conv2dBackwardWeight(_dw1, _db1, _dy1, _x1, Input1, _columns, B, 1, 28, 28, 16, 5, 0, Level);

    [Benchmark]
    public void Conv2Forward() => CpuConvKernels.Conv2dForward(_y2, _x2, Input2, _w2, _b2, _columns, B, 16, 12, 12, 32, 5, 0, relu: true, Level);

    [Benchmark]
    public void Conv2BackwardWeight() => CpuConvKernels.Conv2dBackwardWeight(_dw2, _db2, _dy2, _x2, Input2, _columns, B, 16, 12, 12, 32, 5, 0, Level);

    [Benchmark]
    public void Conv2BackwardInput() => CpuConvKernels.Conv2dBackwardInput(_dx2, Input2, _dy2, _w2, _columns, B, 16, 12, 12, 32, 5, 0, Level);

    /// <summary>
    /// conv1's forward as the trainer runs it: pool1 fused, with its window codes and no conv output where a fused kernel
    /// takes the shape (AVX-512, AVX2); the conv and the pool as two passes on the scalar level.
    /// </summary>
    [Benchmark]
    public void Conv1ForwardPooled() => CpuConvKernels.Conv2dForwardPooled(Fused ? default : _y1, _pooled, Fused ? _codes : default,
        _x1, Input1, _w1, _b1, _columns, B, 1, 28, 28, 16, 5, 0, relu: true, Level);

    /// <summary>
    /// conv1's weight gradient as the trainer runs it: dY from pool1's gradient through the pool and the ReLU (from the
    /// window codes where the fused forward made them, else from the conv output), its bias sums, then the product.
    /// </summary>
    [Benchmark]
    public void Conv1BackwardWeightThroughPool() => CpuConvKernels.Conv2dBackwardWeightThroughPool(_dw1, _db1, _dpool, Fused ? default : _y1,
        Fused ? _codes : default, true, _x1, Input1, _columns, B, 1, 28, 28, 16, 5, 0, Level);

    private bool Fused => CpuConvGemm.HasPooledForward(24, 24, 5, 0, true, Level);

    [Benchmark]
    public void Pool1Forward() => CpuConvKernels.MaxPool2dForward(_pooled, _y1, Pool, B, 16, 24, 24, Level);

    [Benchmark]
    public void Pool1Backward() => CpuConvKernels.MaxPool2dBackward(_dx1, Pool, _dpool, _y1, B, 16, 24, 24, Level);
}

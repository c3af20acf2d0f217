using BenchmarkDotNet.Attributes;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Noise;

namespace NativeCert.Benchmarks;

/// <summary>
/// One case per phase of CPU training (the phases of <see cref="CpuPhaseProfile"/> and `nativecert bench
/// --profile`), default workload MLP 784-128-10, batch 128, 8,000 MNIST rows, at each ISA level. Per call: the
/// noisy copy is per model (8,000 × 784); the other cases are one batch (63 per epoch): gather, first-layer
/// forward GEMM (128×784×128 + bias + ReLU, 25.7 MFLOP), first-layer weight gradient (dW₀ = Xᵀ·dH, 25.7 MFLOP,
/// + db₀), the tail (layer 2 forward, softmax cross-entropy, layer 2 backward, ReLU backward), the SGD step over
/// all 101,770 parameters, and a vote batch (noise on 128 test rows + forward + argmax).
/// `dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- --filter '*PhaseBenchmarks*'`
/// (on a shared machine compare ratios within one run; `-- ab phases` gives thread-CPU-clock figures).
/// </summary>
[ShortRunJob]
public class PhaseBenchmarks
{
    private const int B = 128, D = 784, H = 128, C = 10;
    private Dataset _train = null!, _test = null!;
    private float[] _noisy = [], _x = [], _w1 = [], _b1 = [], _h = [], _dh = [], _dw1 = [], _db1 = [];
    private float[] _w2 = [], _b2 = [], _logits = [], _dlogits = [], _losses = [], _dw2 = [], _db2 = [], _w2t = [];
    private float[] _parameters = [], _velocity = [], _gradients = [];
    private int[] _permutation = [], _labels = [];
    private int _start;

    // By name: BenchmarkDotNet's generated project cannot see the engine's internal IsaLevel.
    [Params(nameof(IsaLevel.Avx512), nameof(IsaLevel.Avx2), nameof(IsaLevel.Scalar))]
    public string Isa { get; set; } = "";
    private IsaLevel Level => Enum.Parse<IsaLevel>(Isa);

    [GlobalSetup]
    public void Setup()
    {
        try { (_train, _test) = (DatasetCatalog.Load(DatasetCatalog.DefaultSpec).Train, DatasetCatalog.Load(DatasetCatalog.DefaultSpec).Test); }
        catch (UserInputException) { (_train, _test) = (EnsembleBenchmark.RandomData(8000, D, C), EnsembleBenchmark.RandomData(2000, D, C, 2)); }
        var rng = new Random(1);
        float[] R(int n, float scale = 1f) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = scale * (rng.NextSingle() - 0.5f); return a; }
        _noisy = new float[_train.Features.Length];
        for (int j = 0; j < _train.Count; j++)
            CpuNoise.NoisyRow(_noisy.AsSpan(j * D, D), _train.Row(j), 0.25f, 1, NoiseStream.TrainingNoise, 0, (uint)j, Level);
        _permutation = Enumerable.Range(0, _train.Count).OrderBy(_ => rng.Next()).ToArray();
        (_x, _w1, _b1, _w2, _b2) = (R(B * D), R(D * H, 0.1f), R(H, 0.1f), R(H * C, 0.3f), R(C, 0.1f));
        (_h, _dh, _dw1, _db1) = (new float[B * H], R(B * H, 0.01f), new float[D * H], new float[H]);
        (_logits, _dlogits, _losses, _dw2, _db2, _w2t) = (new float[B * C], new float[B * C], new float[B], new float[H * C], new float[C], new float[H * C]);
        _labels = Enumerable.Range(0, B).Select(i => _train.Labels[i]).ToArray();
        CpuKernels.MatmulForward(_h, _x, _w1, _b1, B, D, H, relu: true, Level);
        int p = new ParameterLayout(ModelArchitecture.Mlp(D, [H], C)).Count;
        (_parameters, _velocity, _gradients) = (R(p, 0.1f), new float[p], R(p, 0.01f));
    }

    [Benchmark(Description = "noise: one model's noisy training copy (8,000 x 784)")]
    public void Noise()
    {
        for (int j = 0; j < _train.Count; j++)
            CpuNoise.NoisyRow(_noisy.AsSpan(j * D, D), _train.Row(j), 0.25f, 1, NoiseStream.TrainingNoise, 0, (uint)j, Level);
    }

    [Benchmark(Description = "gather: 128 shuffled rows of the noisy copy")]
    public void Gather()
    {
        for (int b = 0; b < B; b++) Array.Copy(_noisy, (long)_permutation[_start + b] * D, _x, (long)b * D, D);
        _start = (_start + B) % (_train.Count - B); // walk the epoch, as the trainer does
    }

    [Benchmark(Description = "gemm_forward_first_layer: 128x784x128 + bias + ReLU")]
    public void FirstLayerForward() => CpuKernels.MatmulForward(_h, _x, _w1, _b1, B, D, H, relu: true, Level);

    [Benchmark(Description = "gemm_weight_gradient_first_layer: dW0 = X^T dH, db0")]
    public void FirstLayerWeightGradient() => CpuKernels.MatmulBackward(default, _dw1, _db1, _dh, _x, _w1, default, B, D, H, Level);

    [Benchmark(Description = "tail: layer 2 forward + softmax CE + layer 2 backward + ReLU backward")]
    public void Tail()
    {
        CpuKernels.MatmulForward(_logits, _h, _w2, _b2, B, H, C, relu: false, Level);
        CpuKernels.SoftmaxCrossEntropyBackward(_dlogits, _losses, _logits, _labels, B, C, Level);
        CpuKernels.MatmulBackward(_dh, _dw2, _db2, _dlogits, _h, _w2, _w2t, B, H, C, Level);
        CpuKernels.ReluBackward(_dh, _dh, _h, B * H, Level);
    }

    [Benchmark(Description = "optimizer: SGD momentum + weight decay, 101,770 parameters")]
    public void Optimizer() => CpuKernels.SgdMomentumUpdate(_parameters, _velocity, _gradients, 1e-6f, 0.9f, 5e-4f, Level);

    [Benchmark(Description = "vote: noise 128 test rows + forward + argmax")]
    public int Vote()
    {
        for (int b = 0; b < B; b++)
            CpuNoise.NoisyRow(_x.AsSpan(b * D, D), _test.Row(b), 0.25f, 1, NoiseStream.TestNoise, 0, (uint)b, Level);
        CpuKernels.MatmulForward(_h, _x, _w1, _b1, B, D, H, relu: true, Level);
        CpuKernels.MatmulForward(_logits, _h, _w2, _b2, B, H, C, relu: false, Level);
        int votes = 0;
        for (int b = 0; b < B; b++) votes += ReferenceMlp.Argmax(_logits.AsSpan(b * C, C));
        return votes;
    }
}

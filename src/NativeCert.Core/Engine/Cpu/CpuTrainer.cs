using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using NativeCert.Data;
using NativeCert.Engine.Reference;
using NativeCert.Noise;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Trains and votes one model at a time with the SIMD kernels, exactly per docs/engine.md. One instance per
/// thread: it owns every buffer (parameters, gradients, momentum, activations, one noisy training copy), so memory
/// is O(model + training set) per thread, never O(models × training set), and the loop allocates nothing.
/// Model m's result depends only on (config, m, data, ISA level), not on the thread or the other models.
/// </summary>
[SkipLocalsInit]
public sealed class CpuTrainer
{
    private readonly EnsembleConfig _config;
    private readonly IsaLevel _isa;
    private readonly int _maxBatch;
    private readonly int[] _labels;      // (maxB)
    private readonly float[] _losses;    // (maxB)
    private readonly float[][] _acts;    // acts[l] (maxB, width_l): input batch, post-ReLU hidden, logits
    private readonly float[][] _dacts;   // dacts[l] (maxB, width_l): gradients of the above
    private readonly float[] _weightTransposed; // (max_l out_l·in_l) scratch for dX = dY·Wᵀ
    private float[] _noisyTrain = [];    // (n, D) this model's noisy training copy, drawn once per model
    private int[] _permutation = [];     // (≥ n) the epoch's permutation of the view rows
    private int[] _viewLabels = [];      // (≥ n) label of each view row (the training labels themselves for the all-rows view)

    public ParameterLayout Layout { get; }
    /// <summary>Flat parameters W_0, b_0, W_1, b_1, … of the current model (see <see cref="ParameterLayout"/>).</summary>
    public float[] Parameters { get; }
    /// <summary>Gradients of the last batch, same layout.</summary>
    public float[] Gradients { get; }
    /// <summary>SGD momentum buffer, same layout.</summary>
    public float[] Velocity { get; }
    /// <summary>When set, each phase's time is charged to it (thread CPU clock, see <see cref="CpuPhaseProfile"/>); null costs one test per phase.</summary>
    internal CpuPhaseClock? Clock { get; set; }

    public CpuTrainer(EnsembleConfig config, IsaLevel isa = IsaLevel.Avx512)
    {
        _config = config;
        _isa = CpuIsa.Clamp(isa);
        Layout = new ParameterLayout(config.Shape);
        if (config.Training.BatchSize <= 0) throw new ArgumentException("batch size must be positive");
        _maxBatch = config.Training.BatchSize;
        Parameters = new float[Layout.Count];
        Gradients = new float[Layout.Count];
        Velocity = new float[Layout.Count];
        _labels = new int[_maxBatch];
        _losses = new float[_maxBatch];
        _acts = new float[Layout.Layers + 1][];
        _dacts = new float[Layout.Layers + 1][];
        int maxWeight = 0;
        for (int l = 0; l <= Layout.Layers; l++)
        {
            _acts[l] = new float[_maxBatch * Layout.Widths[l]];
            _dacts[l] = l == 0 ? [] : new float[_maxBatch * Layout.Widths[l]];
            if (l < Layout.Layers) maxWeight = Math.Max(maxWeight, Layout.In(l) * Layout.Out(l));
        }
        _weightTransposed = new float[maxWeight];
    }

    /// <summary>
    /// Draws model m's noisy training copy (once), He-inits, and trains all epochs; result in <see cref="Parameters"/>.
    /// <paramref name="rows"/> is model m's training view (<see cref="NativeCert.Defenses.ModelRows.Of"/>): view row j is
    /// training row rows[j], noised as row j; null trains on every row in order (the smoothing ensemble).
    /// </summary>
    public void Train(Dataset train, int model, List<float>? epochLosses = null, CancellationToken cancellation = default, int[]? rows = null)
    {
        ReferenceTrainer.CheckShape(Layout, train);
        int n = rows?.Length ?? train.Count, D = train.Dimension;
        // An empty view (a DPA partition no row hashed to) leaves the model at its initialisation: still a function of its rows.
        if (n == 0 && rows is null) throw new ArgumentException($"{train.Source}: no training rows");
        uint m = (uint)model;
        Clock?.Restart();
        if (_noisyTrain.Length < n * D) _noisyTrain = new float[n * D];
        if (_permutation.Length < n) _permutation = new int[n];
        if (rows is null) _viewLabels = train.Labels;
        else
        {
            if (_viewLabels.Length < n || ReferenceEquals(_viewLabels, train.Labels)) _viewLabels = new int[Math.Max(n, _viewLabels.Length)];
            for (int j = 0; j < n; j++) _viewLabels[j] = train.Labels[rows[j]];
        }
        for (int j = 0; j < n; j++)
            CpuNoise.NoisyRow(_noisyTrain.AsSpan(j * D, D), train.Row(rows is null ? j : rows[j]), _config.Sigma, _config.Seed, NoiseStream.TrainingNoise, m, (uint)j, _isa);
        Clock?.Lap(CpuPhase.Noise);

        CpuNoise.HeInit(Parameters, Layout, _config.Seed, m, _isa);
        Array.Clear(Velocity);
        Clock?.Lap(CpuPhase.Init);
        var opt = _config.Training;
        var permutation = _permutation.AsSpan(0, n);
        for (int epoch = 0; epoch < opt.Epochs && n > 0; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            ReferenceNoise.ShufflePermutation(permutation, _config.Seed, m, (uint)epoch);
            double lossSum = 0;
            for (int start = 0; start < n; start += _maxBatch)
            {
                int B = Math.Min(_maxBatch, n - start);
                GatherBatch(start, B, D);
                Clock?.Lap(CpuPhase.Gather);
                lossSum += Step(B, opt);
            }
            epochLosses?.Add((float)(lossSum / n));
        }
    }

    /// <summary>Copies the batch's noisy rows contiguously into acts[0] so the GEMMs stream one buffer.</summary>
    private unsafe void GatherBatch(int start, int B, int D)
    {
        var x = _acts[0];
        const int Ahead = 2; // rows are random in a buffer far larger than L2: fetch a couple of rows ahead
        fixed (float* noisy = _noisyTrain)
            for (int b = 0; b < B; b++)
            {
                if (b + Ahead < B && Sse.IsSupported)
                {
                    byte* next = (byte*)(noisy + (long)_permutation[start + b + Ahead] * D);
                    for (int offset = 0; offset < D * sizeof(float); offset += 64) Sse.Prefetch0(next + offset);
                }
                int j = _permutation[start + b];
                Array.Copy(_noisyTrain, (long)j * D, x, (long)b * D, D);
                _labels[b] = _viewLabels[j];
            }
    }

    /// <summary>One SGD step on the B rows in acts[0] / labels; returns the summed loss.</summary>
    private double Step(int B, TrainingOptions opt)
    {
        var L = Layout;
        int layers = L.Layers;
        Forward(B, Clock);
        int C = L.Widths[layers];
        CpuKernels.SoftmaxCrossEntropyBackward(_dacts[layers], _losses, _acts[layers], _labels, B, C);
        double lossSum = 0;
        for (int b = 0; b < B; b++) lossSum += _losses[b];
        for (int l = layers - 1; l >= 0; l--)
        {
            int IN = L.In(l), OUT = L.Out(l);
            Span<float> dinput = l > 0 ? _dacts[l].AsSpan(0, B * IN) : default;
            if (l == 0) Clock?.Lap(CpuPhase.Tail);
            CpuKernels.MatmulBackward(dinput, L.Weight(Gradients, l), L.Bias(Gradients, l), _dacts[l + 1], _acts[l],
                L.Weight(Parameters, l), _weightTransposed, B, IN, OUT, _isa);
            if (l > 0) CpuKernels.ReluBackward(dinput, dinput, _acts[l], B * IN, _isa);
            else Clock?.Lap(CpuPhase.FirstWeightGradientGemm);
        }
        CpuKernels.SgdMomentumUpdate(Parameters, Velocity, Gradients, opt.LearningRate, opt.Momentum, opt.WeightDecay, _isa);
        Clock?.Lap(CpuPhase.Optimizer);
        return lossSum;
    }

    /// <summary>Forward pass of the B rows in acts[0] (bias and ReLU fused into the GEMM epilogue); the first layer's time goes to <paramref name="clock"/> when given.</summary>
    private void Forward(int B, CpuPhaseClock? clock = null)
    {
        var L = Layout;
        for (int l = 0; l < L.Layers; l++)
        {
            CpuKernels.MatmulForward(_acts[l + 1], _acts[l], L.Weight(Parameters, l), L.Bias(Parameters, l),
                B, L.In(l), L.Out(l), relu: l + 1 < L.Layers, _isa);
            if (l == 0) clock?.Lap(CpuPhase.FirstForwardGemm);
        }
    }

    /// <summary>
    /// Adds model m's vote (current <see cref="Parameters"/>) on every input row, each noised once with
    /// x_t + σ·z(TestNoise, m, t, ·), into <paramref name="votes"/> <c>(T, C)</c>. Lowest class wins ties.
    /// </summary>
    public void Vote(Dataset inputs, int model, VoteCounts votes)
    {
        ReferenceTrainer.CheckShape(Layout, inputs);
        int D = inputs.Dimension, C = Layout.Widths[^1], layers = Layout.Layers;
        if (votes.Inputs != inputs.Count || votes.Classes != C)
            throw new ArgumentException("vote counts do not match the inputs and the model's classes");
        Clock?.Restart();
        for (int start = 0; start < inputs.Count; start += _maxBatch)
        {
            int B = Math.Min(_maxBatch, inputs.Count - start);
            for (int b = 0; b < B; b++)
                CpuNoise.NoisyRow(_acts[0].AsSpan(b * D, D), inputs.Row(start + b), _config.Sigma, _config.Seed,
                    NoiseStream.TestNoise, (uint)model, (uint)(start + b), _isa);
            Forward(B);
            for (int b = 0; b < B; b++)
            {
                votes[start + b, ReferenceMlp.Argmax(_acts[layers].AsSpan(b * C, C))]++;
            }
        }
        Clock?.Lap(CpuPhase.Vote);
    }
}

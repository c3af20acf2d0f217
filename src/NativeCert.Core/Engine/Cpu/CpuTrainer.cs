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
/// Forward is the model's layer list in order (<see cref="Forward"/>), backward the same list reversed (<see cref="Step"/>),
/// one kernel call per layer; a ReLU right after a dense layer is fused into its GEMM epilogue, after a convolution
/// into its bias pass, and every ReLU works in place; the backward of a ReLU followed by a max pool is folded into the
/// pool's backward.
/// </summary>
[SkipLocalsInit]
internal sealed class CpuTrainer : IAssistedWork
{
    private readonly EnsembleConfig _config;
    private readonly IsaLevel _isa;
    private readonly int _maxBatch;
    private readonly LayerStep[] _steps;
    private readonly int _firstParameterStep;
    private readonly CpuLayerPhases? _layerPhases; // per-layer profile phases of a layer-list model; null for an MLP
    private readonly int[] _labels;      // (maxB)
    private readonly float[] _losses;    // (maxB)
    private readonly float[][] _acts;    // acts[a] (maxB, size_a): a = 0 the input batch, then each layer's output (ReLU in place)
    private readonly float[][] _dacts;   // dacts[a]: gradients of the above ([] for the input)
    private readonly float[] _weightTransposed; // (max dense out·in) scratch for dX = dY·Wᵀ
    private readonly float[] _columns;   // (max conv CI·K·K · maxB·OH·OW) im2col scratch
    private float[] _noisyTrain = [];    // (n, D) this model's noisy training copy, drawn once per model
    private readonly nint[] _rowOffsets; // (maxB) where the batch's rows lie in _noisyTrain
    private readonly bool _rowsInPlace;  // the first layer is dense on the network input and its forward GEMM reads the rows in place
    private readonly bool _weightGradientRowsInPlace; // ... and so does its weight-gradient GEMM (else acts[0] gets a copy)
    private readonly bool _splitsFirstLayer; // the first layer is dense on the network input: a helper can take part of its GEMMs
    private int _partBatch;              // the step's batch rows (the noise: the view's), for those parts
    private Dataset? _partTrain;         // the noise's training set, view and model
    private int[]? _partRows;
    private uint _partModel;
    private float _partLearningRate;     // the step's η_t, for the SGD step's parts
    private int[] _permutation = [];     // (≥ n) the epoch's permutation of the view rows
    private int[] _viewLabels = [];      // (≥ n) label of each view row (the training labels themselves for the all-rows view)

    /// <summary>Whether trainers built from now on let a dense first layer read its batch in place (a benchmark knob: the same bits either way).</summary>
    internal static bool ReadsRowsInPlace = true;

    /// <summary>
    /// One layer call: reads activation <paramref name="Input"/>, writes <paramref name="Output"/> (the same buffer for a
    /// ReLU); <paramref name="ReluFused"/> when the next layer is a ReLU done by this one; <paramref name="InputChannelMajor"/>
    /// when the input image is (C, B, H, W) rather than the network input's (B, C, H, W); <paramref name="ReluBackwardFused"/>
    /// on a max pool whose input is a ReLU's output (in place): its backward applies the ReLU mask in the same pass, and
    /// on that ReLU, whose backward then has nothing left to do. <paramref name="PoolStep"/> on the first layer with
    /// parameters when it is a conv whose output (after a ReLU or not) goes into a max pool: the step of that pool, whose
    /// backward the conv's weight gradient then does (<see cref="CpuConvKernels.Conv2dBackwardWeightThroughPool"/>), and
    /// <paramref name="BackwardInConv"/> on that pool; −1 and false otherwise. <paramref name="PooledForwardStep"/> on a conv
    /// with a fused ReLU whose output goes into a max pool that a fused kernel computes from the conv's tiles at this ISA
    /// level (<see cref="CpuConvGemm.HasPooledForward"/>): the step of that pool, whose forward the conv then does
    /// (<see cref="CpuConvKernels.Conv2dForwardPooled"/>), and <paramref name="ForwardInConv"/> on that pool.
    /// <paramref name="OutputExampleMajor"/> on a max pool followed by a flatten: it writes its output as <c>(B, C·H·W)</c>,
    /// and the flatten is in place (no copy either way).
    /// </summary>
    internal readonly record struct LayerStep(ResolvedLayer Layer, int ParameterLayer, int Input, int Output, bool ReluFused,
                                             bool Skip, bool InputChannelMajor, bool ReluBackwardFused = false, int PoolStep = -1,
                                             bool BackwardInConv = false, int PooledForwardStep = -1, bool ForwardInConv = false,
                                             bool OutputExampleMajor = false);

    public ParameterLayout Layout { get; }
    /// <summary>Flat parameters of the current model (see <see cref="ParameterLayout"/>).</summary>
    public float[] Parameters { get; }
    /// <summary>Gradients of the last batch, same layout.</summary>
    public float[] Gradients { get; }
    /// <summary>SGD momentum buffer, same layout.</summary>
    public float[] Velocity { get; }
    /// <summary>
    /// The thread lending its core to this trainer's model (a worker with no model left), or null: with one attached,
    /// the noisy copy, the first layer's GEMMs (when it is dense on the network input) and the SGD step run in two
    /// parts, one on each thread, with the same bits (<see cref="CpuAssist"/>).
    /// </summary>
    internal CpuAssist? Assist { get; set; }

    /// <summary>
    /// Whether a helper can take part of this model's first layer (it is dense on the network input); otherwise only the
    /// noise and the SGD step would split, a few percent of a conv model's time, and a helper waiting out its convolutions
    /// cost LeNet's `bench` 2–3 % (`nativecert bench --model lenet --models 4 --epochs 1 --json`), so there is none.
    /// </summary>
    internal static bool SplitsFirstLayer(ModelArchitecture model) => model.Layers.Count > 0 && model.Layers[0].Spec.Kind == LayerKind.Dense;
    /// <summary>When set, each phase's time is charged to it (thread CPU clock, see <see cref="CpuPhaseProfile"/>); null costs one test per phase.</summary>
    internal CpuPhaseClock? Clock { get; set; }
    /// <summary>The per-layer phases <see cref="Clock"/> is charged with for a layer-list model; null for an MLP, whose profile keeps the <see cref="CpuPhase"/> list.</summary>
    internal CpuLayerPhases? LayerPhases => _layerPhases;

    public CpuTrainer(EnsembleConfig config, IsaLevel isa = IsaLevel.Avx512)
    {
        _config = config;
        _isa = CpuIsa.Clamp(isa);
        Layout = new ParameterLayout(config.Model);
        if (config.Training.BatchSize <= 0) throw new ArgumentException("batch size must be positive");
        _maxBatch = config.Training.BatchSize;
        Parameters = new float[Layout.Count];
        Gradients = new float[Layout.Count];
        Velocity = new float[Layout.Count];
        _labels = new int[_maxBatch];
        _losses = new float[_maxBatch];

        var plan = Plan(config.Model, Layout);
        _steps = plan.Steps;
        // conv → ReLU (fused) → pool, where this level has the kernel that pools the conv's tiles as it stores them.
        for (int s = 0; s + 2 < _steps.Length; s++)
        {
            var (conv, relu, pool) = (_steps[s], _steps[s + 1], _steps[s + 2]);
            var spec = conv.Layer.Spec;
            if (spec.Kind == LayerKind.Conv2d && conv.ReluFused && relu.Layer.Spec.Kind == LayerKind.Relu && pool.Layer.Spec.Kind == LayerKind.MaxPool2d
                && pool.Input == conv.Output && !pool.OutputExampleMajor
                && CpuConvGemm.HasPooledForward(conv.Layer.Output.Height, conv.Layer.Output.Width, spec.Kernel, spec.Padding, relu: true, _isa))
            {
                _steps[s] = conv with { PooledForwardStep = s + 2 };
                _steps[s + 2] = pool with { ForwardInConv = true };
            }
        }
        _firstParameterStep = Array.FindIndex(_steps, s => s.ParameterLayer >= 0);
        var first = _steps[_firstParameterStep];
        _splitsFirstLayer = SplitsFirstLayer(config.Model); // then step 0 is that layer, on acts[0]
        _rowsInPlace = ReadsRowsInPlace && _splitsFirstLayer && CpuKernels.HasMatmulRows(first.Layer.Output.Size, _isa);
        // Not on AVX2: there the weight gradient's k steps through a table of rows ran the MLP's training 1.04–1.05× the
        // time of a copy after the forward and the contiguous GEMM (`DOTNET_EnableAVX512=0 dotnet run -c Release
        // --project benchmarks/NativeCert.Benchmarks -- ab gemm train avx2 21 rows`, Zen 4), where AVX-512 ran
        // 0.92–0.96× with it against 0.95–0.98× without.
        _weightGradientRowsInPlace = _rowsInPlace && _isa != IsaLevel.Avx2;
        _rowOffsets = new nint[_maxBatch];
        if (ModelArchitecture.MlpHidden(config.Model.Body) is null)
            _layerPhases = new CpuLayerPhases(_steps.Select(s => s.Layer).ToArray(), _steps.Select(s => s.Skip || s.ForwardInConv).ToArray(),
                _steps.Select(s => (s.Skip && s.Layer.Spec.Kind != LayerKind.Relu) || s.BackwardInConv).ToArray(), _firstParameterStep);
        long maxColumns = plan.ColumnsPerRow * _maxBatch;
        if (maxColumns > int.MaxValue) throw new Spec.SpecException($"training.batch_size: {_maxBatch} rows of {config.Model} need more than 2³¹ im2col floats; use a smaller batch", "training.batch_size");
        var sizes = plan.BufferSizes;
        _acts = new float[sizes.Length][];
        _dacts = new float[sizes.Length][];
        for (int a = 0; a < sizes.Length; a++)
        {
            _acts[a] = new float[checked(_maxBatch * sizes[a])];
            _dacts[a] = a == 0 ? [] : new float[checked(_maxBatch * sizes[a])];
        }
        _weightTransposed = new float[plan.MaxDenseWeight];
        _columns = new float[maxColumns];
    }

    /// <summary>
    /// The layer calls of <paramref name="model"/> and what the workspace holds for them: the per-row size of each
    /// activation buffer ([0] the input, then one per layer that is not in place), the largest dense weight (the
    /// transposed-weight scratch) and the im2col floats per batch row of the largest convolution.
    /// </summary>
    internal static (LayerStep[] Steps, int[] BufferSizes, int MaxDenseWeight, long ColumnsPerRow) Plan(ModelArchitecture model, ParameterLayout layout)
    {
        var steps = new List<LayerStep>();
        var sizes = new List<int> { model.InputSize };
        var channelMajor = new List<bool> { false };
        int current = 0, maxWeight = 0;
        long columnsPerRow = 0;
        // pool(relu?(conv(x))) with the conv the first layer with parameters (no input gradient): the pool's backward
        // moves into the conv's weight gradient, a group of images at a time, and the batch's dY is never written (marked
        // below); that pool keeps the channel-major layout the folding reads.
        LayerKind KindAt(int i) => i < model.Layers.Count ? model.Layers[i].Spec.Kind : LayerKind.Flatten;
        int firstParameter = 0, firstConvPool = -1;
        while (firstParameter < model.Layers.Count && !model.Layers[firstParameter].Spec.HasParameters) firstParameter++;
        if (firstParameter < model.Layers.Count && KindAt(firstParameter) == LayerKind.Conv2d)
        {
            int p = KindAt(firstParameter + 1) == LayerKind.Relu && KindAt(firstParameter + 2) == LayerKind.MaxPool2d ? firstParameter + 2 : firstParameter + 1;
            if (p < model.Layers.Count && KindAt(p) == LayerKind.MaxPool2d) firstConvPool = p;
        }
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var kind = layer.Spec.Kind;
            // A pool followed by a flatten writes what the flatten would have copied: (B, C·H·W), flatten then in place.
            bool intoFlatten = kind == LayerKind.MaxPool2d && i + 1 < model.Layers.Count && KindAt(i + 1) == LayerKind.Flatten && i != firstConvPool;
            bool fused = i + 1 < model.Layers.Count && model.IsFusedRelu(i + 1);
            int parameterLayer = layer.Spec.HasParameters ? layout.ParameterLayer(i) : -1;
            // ReLU is in place; flattening the example-major network input is a no-op; everything else gets a buffer.
            bool inPlace = kind == LayerKind.Relu || (kind == LayerKind.Flatten && !channelMajor[current]);
            int output = current;
            if (!inPlace)
            {
                sizes.Add(layer.Output.Size);
                channelMajor.Add(kind is LayerKind.Conv2d || (kind is LayerKind.MaxPool2d && !intoFlatten));
                output = sizes.Count - 1;
            }
            steps.Add(new LayerStep(layer, parameterLayer, current, output, fused,
                                    Skip: model.IsFusedRelu(i) || (inPlace && kind == LayerKind.Flatten), channelMajor[current],
                                    OutputExampleMajor: intoFlatten));
            if (kind == LayerKind.Dense) maxWeight = Math.Max(maxWeight, layout.In(parameterLayer) * layout.Out(parameterLayer));
            if (kind == LayerKind.Conv2d) columnsPerRow = Math.Max(columnsPerRow, (long)layer.FanIn * layer.Output.Height * layer.Output.Width);
            current = output;
        }
        // pool(relu(x)) backward: the pool's pass already reads the ReLU's output, so it applies the ReLU mask too.
        for (int s = 1; s < steps.Count; s++)
            if (steps[s].Layer.Spec.Kind == LayerKind.MaxPool2d && steps[s - 1].Layer.Spec.Kind == LayerKind.Relu && steps[s - 1].Output == steps[s].Input)
            {
                steps[s] = steps[s] with { ReluBackwardFused = true };
                steps[s - 1] = steps[s - 1] with { ReluBackwardFused = true };
            }
        if (firstConvPool >= 0)
        {
            steps[firstParameter] = steps[firstParameter] with { PoolStep = firstConvPool };
            steps[firstConvPool] = steps[firstConvPool] with { BackwardInConv = true };
        }
        return (steps.ToArray(), sizes.ToArray(), maxWeight, columnsPerRow);
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
        (_partTrain, _partRows, _partModel, _partBatch) = (train, rows, m, n);
        Parts(PartNoise, CpuPhase.Noise);
        _partTrain = null;
        _partRows = null;
        Clock?.Lap(CpuPhase.Noise);

        CpuNoise.HeInit(Parameters, Layout, _config.Seed, m, _isa);
        Array.Clear(Velocity);
        Clock?.Lap(CpuPhase.Init);
        var opt = _config.Training;
        var permutation = _permutation.AsSpan(0, n);
        long step = 0, warmupSteps = opt.WarmupSteps(n); // the model's own step index and warm-up (its own row count)
        for (int epoch = 0; epoch < opt.Epochs && n > 0; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            ReferenceNoise.ShufflePermutation(permutation, _config.Seed, m, (uint)epoch);
            double lossSum = 0;
            for (int start = 0; start < n; start += _maxBatch)
            {
                int B = Math.Min(_maxBatch, n - start);
                SelectBatch(start, B, D);
                if (!_rowsInPlace) CopyBatch(B, D);
                Clock?.Lap(CpuPhase.Gather);
                lossSum += Step(B, opt, opt.LearningRateAt(step++, warmupSteps), computeLoss: epochLosses != null);
            }
            epochLosses?.Add((float)(lossSum / n));
        }
    }

    /// <summary>
    /// The batch's rows: where each lies in the noisy copy, and its label. A first layer that reads them in place
    /// (<see cref="_rowsInPlace"/>) streams them straight from the copy in its forward GEMM (the hardware prefetcher
    /// follows each row under the FMAs), and its weight gradient reads them there again (from L2 by then), or, on AVX2,
    /// from the copy <see cref="CopyBatch"/> makes into acts[0] after the forward. Otherwise they are copied into acts[0]
    /// first, which waits on the rows' misses (`dotnet run -c Release --project benchmarks/NativeCert.Benchmarks -- ab
    /// gemm train avx512 R rows`).
    /// </summary>
    private void SelectBatch(int start, int B, int D)
    {
        for (int b = 0; b < B; b++)
        {
            int j = _permutation[start + b];
            _rowOffsets[b] = (nint)j * D;
            _labels[b] = _viewLabels[j];
        }
    }

    /// <summary>The rows <see cref="SelectBatch"/> chose, copied contiguously into acts[0] for GEMMs that stream one buffer.</summary>
    private unsafe void CopyBatch(int B, int D)
    {
        var x = _acts[0];
        const int Ahead = 2; // rows are random in a buffer far larger than L2: fetch a couple of rows ahead
        fixed (float* noisy = _noisyTrain)
            for (int b = 0; b < B; b++)
            {
                if (b + Ahead < B && Sse.IsSupported)
                {
                    byte* next = (byte*)(noisy + _rowOffsets[b + Ahead]);
                    for (int offset = 0; offset < D * sizeof(float); offset += 64) Sse.Prefetch0(next + offset);
                }
                Array.Copy(_noisyTrain, (long)_rowOffsets[b], x, (long)b * D, D);
            }
    }

    /// <summary>
    /// One SGD step of size <paramref name="learningRate"/> (η_t) on the B rows in acts[0] / labels; returns the summed
    /// loss, or 0 without <paramref name="computeLoss"/> (nobody asked for it: the gradient does not need the loss).
    /// </summary>
    private double Step(int B, TrainingOptions opt, float learningRate, bool computeLoss)
    {
        var L = Layout;
        Forward(B, Clock, training: true);
        int C = _config.Model.Classes, logits = _steps[^1].Output;
        CpuKernels.SoftmaxCrossEntropyBackward(_dacts[logits], _losses, _acts[logits], _labels, B, C, _isa, computeLoss);
        double lossSum = 0;
        if (computeLoss)
            for (int b = 0; b < B; b++) lossSum += _losses[b];
        var phases = Clock != null ? _layerPhases : null;
        if (phases != null) Clock!.Lap(CpuPhase.Tail);
        // The forward list reversed, down to the first layer with parameters (the network input needs no gradient).
        for (int s = _steps.Length - 1; s >= _firstParameterStep; s--)
        {
            var step = _steps[s];
            if (s == _firstParameterStep && phases == null) Clock?.Lap(CpuPhase.Tail);
            if ((step.Skip && step.Layer.Spec.Kind != LayerKind.Relu) || step.BackwardInConv) continue;
            var (input, output) = (step.Layer.Input, step.Layer.Output);
            bool needInputGradient = s > _firstParameterStep;
            Span<float> dinput = needInputGradient ? _dacts[step.Input].AsSpan(0, B * input.Size) : default;
            var strides = Strides(step, B);
            switch (step.Layer.Spec.Kind)
            {
                case LayerKind.Dense when _splitsFirstLayer && s == _firstParameterStep:
                    _partBatch = B;
                    Parts(PartFirstWeightGradient, CpuPhase.FirstWeightGradientGemm);
                    CpuKernels.ColumnSums(L.Bias(Gradients, step.ParameterLayer), _dacts[step.Output], B, output.Size, _isa);
                    break;
                case LayerKind.Dense:
                {
                    int l = step.ParameterLayer;
                    CpuKernels.MatmulBackward(dinput, L.Weight(Gradients, l), L.Bias(Gradients, l), _dacts[step.Output], _acts[step.Input],
                        L.Weight(Parameters, l), _weightTransposed, B, input.Size, output.Size, _isa);
                    break;
                }
                case LayerKind.Conv2d:
                {
                    int l = step.ParameterLayer;
                    int CI = input.Channels, H = input.Height, W = input.Width, CO = output.Channels, K = step.Layer.Spec.Kernel, P = step.Layer.Spec.Padding;
                    if (step.PoolStep >= 0)
                    {
                        var pool = _steps[step.PoolStep];
                        CpuConvKernels.Conv2dBackwardWeightThroughPool(L.Weight(Gradients, l), L.Bias(Gradients, l), _dacts[pool.Output], _acts[step.Output],
                            PoolCodes(s, B), pool.ReluBackwardFused, _acts[step.Input], strides, _columns, B, CI, H, W, CO, K, P, _isa);
                    }
                    else
                        CpuConvKernels.Conv2dBackwardWeight(L.Weight(Gradients, l), L.Bias(Gradients, l), _dacts[step.Output], _acts[step.Input],
                            strides, _columns, B, CI, H, W, CO, K, P, _isa);
                    if (phases != null) Clock!.LapLayer(phases.Index(s, LayerPass.BackwardWeight));
                    if (needInputGradient)
                        CpuConvKernels.Conv2dBackwardInput(dinput, strides, _dacts[step.Output], L.Weight(Parameters, l), _columns, B, CI, H, W, CO, K, P, _isa);
                    break;
                }
                case LayerKind.Relu: // in place: the gradient buffer is the input's and the output's
                    if (!step.ReluBackwardFused) CpuKernels.ReluBackward(dinput, dinput, _acts[step.Output], B * input.Size, _isa);
                    break;
                case LayerKind.MaxPool2d:
                    CpuConvKernels.MaxPool2dBackward(dinput, strides, _dacts[step.Output], _acts[step.Input], B, input.Channels, input.Height, input.Width, _isa,
                        reluMask: step.ReluBackwardFused, doutputStrides: PoolOutputStrides(step, B));
                    break;
                case LayerKind.Flatten:
                    CpuConvKernels.FlattenBackward(dinput, _dacts[step.Output], B, input.Channels, input.Height * input.Width);
                    break;
            }
            if (phases != null) Clock!.LapLayer(phases.Index(s, step.Layer.Spec.Kind is LayerKind.Dense ? LayerPass.BackwardWeight : LayerPass.BackwardInput));
            else if (s == _firstParameterStep) Clock?.Lap(CpuPhase.FirstWeightGradientGemm);
        }
        _partLearningRate = learningRate;
        Parts(PartOptimizer, CpuPhase.Optimizer);
        Clock?.Lap(CpuPhase.Optimizer);
        return lossSum;
    }

    // The work a helper can take part of (CpuAssist): IAssistedWork.RunPart's first argument.
    private const int PartNoise = 0, PartFirstForward = 1, PartFirstWeightGradient = 2, PartOptimizer = 3;

    /// <summary>Runs <paramref name="work"/> whole, or in two parts with the helper when one is attached (<see cref="Assist"/>).</summary>
    private void Parts(int work, CpuPhase phase)
    {
        if (Assist is { } assist) assist.Split(this, work, phase);
        else RunPart(work, -1);
    }

    void IAssistedWork.RunPart(int work, int part) => RunPart(work, part);

    private void RunPart(int work, int part)
    {
        switch (work)
        {
            case PartNoise: NoisePart(part); break;
            case PartFirstForward: FirstForwardPart(part); break;
            case PartFirstWeightGradient: FirstWeightGradientPart(part); break;
            default: OptimizerPart(part); break;
        }
    }

    /// <summary>Part <paramref name="part"/> (<see cref="CpuAssist.Part"/>) of drawing the noisy training copy: its view rows, each noised as its own row j.</summary>
    private void NoisePart(int part)
    {
        var (train, rows) = (_partTrain!, _partRows);
        int D = train.Dimension;
        var (j0, j1) = CpuAssist.Part(_partBatch, part, 64);
        for (int j = j0; j < j1; j++)
            CpuNoise.NoisyRow(_noisyTrain.AsSpan(j * D, D), train.Row(rows is null ? j : rows[j]), _config.Sigma, _config.Seed, NoiseStream.TrainingNoise,
                _partModel, (uint)j, _isa);
    }

    /// <summary>
    /// Part <paramref name="part"/> (<see cref="CpuAssist.Part"/>) of the first layer's forward GEMM: its batch rows (6-row
    /// blocks), from the noisy copy in place or from acts[0].
    /// </summary>
    private void FirstForwardPart(int part)
    {
        var step = _steps[_firstParameterStep];
        int IN = step.Layer.Input.Size, OUT = step.Layer.Output.Size, l = step.ParameterLayer;
        var (r0, r1) = CpuAssist.Part(_partBatch, part, 6);
        var output = _acts[step.Output].AsSpan(r0 * OUT);
        if (_rowsInPlace)
            CpuKernels.MatmulForwardRows(output, _noisyTrain, _rowOffsets.AsSpan(r0, r1 - r0), Layout.Weight(Parameters, l), Layout.Bias(Parameters, l),
                r1 - r0, IN, OUT, relu: step.ReluFused, _isa);
        else
            CpuKernels.MatmulForward(output, _acts[0].AsSpan(r0 * IN), Layout.Weight(Parameters, l), Layout.Bias(Parameters, l), r1 - r0, IN, OUT,
                relu: step.ReluFused, _isa);
    }

    /// <summary>Input features [start, end) of the first layer in part <paramref name="part"/>: its rows of W, dW and the momentum (6-row GEMM blocks).</summary>
    private (int Start, int End) FirstLayerFeatures(int part) => CpuAssist.Part(_steps[_firstParameterStep].Layer.Input.Size, part, 6);

    /// <summary>Part <paramref name="part"/> of the first layer's weight gradient: its input features' rows of dW (the bias gradient is not split).</summary>
    private void FirstWeightGradientPart(int part)
    {
        var step = _steps[_firstParameterStep];
        int B = _partBatch, IN = step.Layer.Input.Size, OUT = step.Layer.Output.Size;
        var (f0, f1) = FirstLayerFeatures(part);
        var dweight = Layout.Weight(Gradients, step.ParameterLayer);
        if (_weightGradientRowsInPlace)
            CpuKernels.MatmulWeightGradientRows(dweight, _dacts[step.Output], _noisyTrain, _rowOffsets, B, IN, OUT, _isa, f0, f1);
        else
            CpuKernels.MatmulWeightGradient(dweight, _dacts[step.Output], _acts[0], B, IN, OUT, _isa, f0, f1);
    }

    /// <summary>
    /// Part <paramref name="part"/> of the SGD momentum step (elementwise): with a split first layer, part 1 is the rows of
    /// its weight whose gradient the helper computed (so they stay in its core's cache) and part 0 everything else;
    /// otherwise a cut of the flat parameters.
    /// </summary>
    private void OptimizerPart(int part)
    {
        int n = Parameters.Length;
        if (part < 0 || !_splitsFirstLayer)
        {
            var (p0, p1) = CpuAssist.Part(n, part, 16);
            Sgd(p0, p1);
            return;
        }
        int l = _steps[_firstParameterStep].ParameterLayer, OUT = Layout.Out(l), w0 = Layout.WeightOffset(l);
        int cut = w0 + FirstLayerFeatures(0).End * OUT, end = w0 + Layout.In(l) * OUT;
        if (part == 1) Sgd(cut, end);
        else
        {
            Sgd(0, cut);
            Sgd(end, n);
        }

        void Sgd(int from, int to)
        {
            var opt = _config.Training;
            CpuKernels.SgdMomentumUpdate(Parameters.AsSpan(from, to - from), Velocity.AsSpan(from, to - from), Gradients.AsSpan(from, to - from),
                _partLearningRate, opt.Momentum, opt.WeightDecay, _isa);
        }
    }

    /// <summary>
    /// The window codes of step <paramref name="s"/>'s pooled forward (<see cref="CpuConvKernels.PoolCode"/>, B rows of the
    /// pool's output size), when its pool's backward is folded into it as well; empty otherwise. They live in the conv's
    /// output-gradient buffer, which that folding leaves unused (a quarter of it: a byte per pooled float, four floats
    /// per window).
    /// </summary>
    private Span<byte> PoolCodes(int s, int B)
    {
        var step = _steps[s];
        if (step.PoolStep < 0 || step.PoolStep != step.PooledForwardStep) return default;
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(_dacts[step.Output].AsSpan()).Slice(0, B * _steps[step.PoolStep].Layer.Output.Size);
    }

    /// <summary>Where a pool step writes its output: <c>(B, C·H·W)</c> when a flatten follows it, else (C, B, H, W).</summary>
    private static ImageStrides PoolOutputStrides(LayerStep step, int B)
    {
        var output = step.Layer.Output;
        int pixels = output.Height * output.Width;
        return step.OutputExampleMajor ? ImageStrides.ExampleMajor(output.Channels, pixels) : ImageStrides.ChannelMajor(B, pixels);
    }

    private static ImageStrides Strides(LayerStep step, int B)
    {
        var input = step.Layer.Input;
        int pixels = input.Height * input.Width;
        return step.InputChannelMajor ? ImageStrides.ChannelMajor(B, pixels) : ImageStrides.ExampleMajor(input.Channels, pixels);
    }

    /// <summary>
    /// Forward pass of the B rows in acts[0]: one call per layer, in model order. With <paramref name="clock"/>, an MLP
    /// charges the layers up to and including the first one with parameters to the first-layer forward phase, a
    /// layer-list model each layer to its own forward phase. In <paramref name="training"/>, a first layer that is dense
    /// on the network input runs in parts with a helper when one is attached (<see cref="Assist"/>), and reads the
    /// batch from the noisy copy at <see cref="_rowOffsets"/> where <see cref="_rowsInPlace"/> (then, unless its weight
    /// gradient does too, copies it into acts[0], charged to the gather phase).
    /// </summary>
    private void Forward(int B, CpuPhaseClock? clock = null, bool training = false)
    {
        var L = Layout;
        var phases = clock != null ? _layerPhases : null;
        for (int s = 0; s < _steps.Length; s++)
        {
            var step = _steps[s];
            if (step.Skip || step.ForwardInConv) continue;
            var (input, output) = (step.Layer.Input, step.Layer.Output);
            if (training && _splitsFirstLayer && s == _firstParameterStep)
            {
                _partBatch = B;
                Parts(PartFirstForward, CpuPhase.FirstForwardGemm);
                if (phases != null) clock!.LapLayer(phases.Index(s, LayerPass.Forward));
                else clock?.Lap(CpuPhase.FirstForwardGemm);
                if (_rowsInPlace && !_weightGradientRowsInPlace)
                {
                    CopyBatch(B, input.Size);
                    clock?.Lap(CpuPhase.Gather);
                }
                continue;
            }
            switch (step.Layer.Spec.Kind)
            {
                case LayerKind.Conv2d when step.PooledForwardStep >= 0:
                    // With the pool's backward folded into this conv's weight gradient from the window codes, nothing
                    // reads the conv's own output: it is not written.
                    CpuConvKernels.Conv2dForwardPooled(step.PoolStep == step.PooledForwardStep ? default : _acts[step.Output],
                        _acts[_steps[step.PooledForwardStep].Output], PoolCodes(s, B), _acts[step.Input], Strides(step, B),
                        L.Weight(Parameters, step.ParameterLayer), L.Bias(Parameters, step.ParameterLayer), _columns, B, input.Channels, input.Height,
                        input.Width, output.Channels, step.Layer.Spec.Kernel, step.Layer.Spec.Padding, step.ReluFused, _isa);
                    break;
                case LayerKind.Dense:
                    CpuKernels.MatmulForward(_acts[step.Output], _acts[step.Input], L.Weight(Parameters, step.ParameterLayer),
                        L.Bias(Parameters, step.ParameterLayer), B, input.Size, output.Size, relu: step.ReluFused, _isa);
                    break;
                case LayerKind.Conv2d:
                    CpuConvKernels.Conv2dForward(_acts[step.Output], _acts[step.Input], Strides(step, B), L.Weight(Parameters, step.ParameterLayer),
                        L.Bias(Parameters, step.ParameterLayer), _columns, B, input.Channels, input.Height, input.Width, output.Channels,
                        step.Layer.Spec.Kernel, step.Layer.Spec.Padding, step.ReluFused, _isa);
                    break;
                case LayerKind.Relu:
                    CpuKernels.ReluForward(_acts[step.Output], _acts[step.Input], B * input.Size, _isa);
                    break;
                case LayerKind.MaxPool2d:
                    CpuConvKernels.MaxPool2dForward(_acts[step.Output], _acts[step.Input], Strides(step, B), B, input.Channels, input.Height, input.Width, _isa,
                        PoolOutputStrides(step, B));
                    break;
                case LayerKind.Flatten:
                    CpuConvKernels.FlattenForward(_acts[step.Output], _acts[step.Input], B, input.Channels, input.Height * input.Width);
                    break;
            }
            if (phases != null) clock!.LapLayer(phases.Index(s, LayerPass.Forward));
            else if (s == _firstParameterStep) clock?.Lap(CpuPhase.FirstForwardGemm);
        }
    }

    /// <summary>
    /// Adds model m's vote (current <see cref="Parameters"/>) on every input row, each noised once with
    /// x_t + σ·z(TestNoise, m, t, ·), into <paramref name="votes"/> <c>(T, C)</c>. Lowest class wins ties.
    /// </summary>
    public void Vote(Dataset inputs, int model, VoteCounts votes)
    {
        ReferenceTrainer.CheckShape(Layout, inputs);
        int D = inputs.Dimension, C = _config.Model.Classes, logits = _steps[^1].Output;
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
                votes[start + b, ReferenceMlp.Argmax(_acts[logits].AsSpan(b * C, C))]++;
            }
        }
        Clock?.Lap(CpuPhase.Vote);
    }
}

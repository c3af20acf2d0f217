using ILGPU;
using ILGPU.Runtime;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Kernels.Device;
using NativeCert.Noise;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// Trains a chunk of up to <see cref="Capacity"/> models in lockstep on one accelerator: every launch covers all
/// models of the chunk (the model is the outermost axis of every buffer), each model on its own permutation, noise,
/// init and weights, exactly as docs/engine.md specifies for one model. Buffers are allocated once for the capacity
/// and reused by every chunk; training data and test inputs are uploaded once. Forward is the model's layer list in order,
/// backward the same list reversed, one launch (or GEMM) per layer and direction; ReLU and flatten work in place (each
/// example is channel-major already), a ReLU right after a dense or convolution layer is fused into its epilogue.
/// </summary>
internal sealed class LockstepTrainer : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly KernelSet _k;
    private readonly EnsembleConfig _config;
    private readonly ParameterLayout _layout;
    private readonly int _n, _inputCount, _batch, _dimension, _classes;

    // Shared data.
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _features;   // (n, D)
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _labels;       // (n)
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _inputs;     // (T, D)
    private readonly MemoryBuffer1D<uint, Stride1D.Dense> _votes;       // (T, C)
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _heScale;    // (P)
    // Per-model state, (M, ·).
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _parameters; // (M, P)
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _velocity;   // (M, P)
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _gradients;  // (M, P)
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _perm;         // (M, n)
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _activations; // [0]: noisy batch (M, B, D); [a]: a layer output (M, B, size_a)
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _scratch;  // 2 × (M, B, max size): input gradients, ping-pong
    private readonly DeviceStep[] _steps;
    private readonly int _firstParameterStep;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;       // (M, B)

    /// <summary>Models the buffers hold.</summary>
    public int Capacity { get; }

    public LockstepTrainer(Accelerator accelerator, KernelSet kernels, EnsembleConfig config, Dataset train, Dataset inputs, int capacity)
    {
        _accelerator = accelerator;
        _k = kernels;
        _config = config;
        _layout = new ParameterLayout(config.Model);
        (_steps, var sizes) = Plan(config.Model);
        _firstParameterStep = Array.FindIndex(_steps, st => st.ParameterLayer >= 0);
        _n = train.Count;
        _inputCount = inputs.Count;
        _batch = Math.Max(1, Math.Min(config.Training.BatchSize, _n));
        _dimension = train.Dimension;
        _classes = config.Model.Classes;
        Capacity = capacity;
        int p = _layout.Count;

        _features = accelerator.Allocate1D(train.Features);
        _labels = accelerator.Allocate1D(train.Labels);
        _inputs = accelerator.Allocate1D(inputs.Count > 0 ? inputs.Features : new float[1]);
        _votes = accelerator.Allocate1D<uint>(Math.Max(1L, (long)_inputCount * _classes));
        _heScale = accelerator.Allocate1D(_layout.HeScale());
        _parameters = accelerator.Allocate1D<float>((long)capacity * p);
        _velocity = accelerator.Allocate1D<float>((long)capacity * p);
        _gradients = accelerator.Allocate1D<float>((long)capacity * p);
        _perm = accelerator.Allocate1D<int>((long)capacity * _n);
        _activations = new MemoryBuffer1D<float, Stride1D.Dense>[sizes.Length];
        for (int a = 0; a < _activations.Length; a++)
            _activations[a] = accelerator.Allocate1D<float>((long)capacity * _batch * sizes[a]);
        _scratch = new MemoryBuffer1D<float, Stride1D.Dense>[2];
        for (int i = 0; i < 2; i++) _scratch[i] = accelerator.Allocate1D<float>((long)capacity * _batch * MaxLayerOutput(sizes));
        _loss = accelerator.Allocate1D<float>((long)capacity * _batch);
        _votes.MemSetToZero();
    }

    /// <summary>He init and zero velocity for models [modelBase, modelBase + models).</summary>
    public void Initialize(int modelBase, int models)
    {
        CheckModels(models);
        int p = _layout.Count;
        _k.HeInit(new Index2D((p + 3) / 4, models), _parameters.View, _heScale.View, p, _config.Seed, (uint)modelBase);
        _velocity.MemSetToZero();
    }

    /// <summary>One epoch of minibatch SGD for the chunk's models (the same models as the last <see cref="Initialize"/>).</summary>
    public void TrainEpoch(int modelBase, int models, int epoch)
    {
        CheckModels(models);
        var t = _config.Training;
        ulong seed = _config.Seed;
        _k.Shuffle(new Index1D(models), _perm.View, _n, epoch, seed, (uint)modelBase);
        int blocksPerRow = (_dimension + 3) / 4;
        for (int start = 0; start < _n; start += _batch)
        {
            int rows = Math.Min(_batch, _n - start);
            _k.GatherNoisyTrainingRows(new Index1D(models * rows * blocksPerRow), _activations[0].View, _features.View, _perm.View,
                                       start, _n, _dimension, _batch, rows, _config.Sigma, seed, (uint)modelBase);
            Forward(models, rows);
            // Logits become dLogits in place.
            _k.SoftmaxCrossEntropy(new Index1D(models * rows), _activations[^1].View, _loss.View, _labels.View, _perm.View,
                                   start, _n, rows, _classes, _batch);
            Backward(models, rows);
            _k.SgdMomentum(new Index1D(models * _layout.Count), _parameters.View.SubView(0, (long)models * _layout.Count),
                           _velocity.View.SubView(0, (long)models * _layout.Count), _gradients.View.SubView(0, (long)models * _layout.Count),
                           t.LearningRate, t.Momentum, t.WeightDecay);
        }
    }

    /// <summary>Adds the chunk's votes on every input into the device vote counts (see <see cref="DownloadVotes"/>).</summary>
    public void Vote(int modelBase, int models)
    {
        CheckModels(models);
        int blocksPerRow = (_dimension + 3) / 4;
        for (int start = 0; start < _inputCount; start += _batch)
        {
            int rows = Math.Min(_batch, _inputCount - start);
            _k.NoisyTestRows(new Index1D(models * rows * blocksPerRow), _activations[0].View, _inputs.View, start, _dimension, _batch,
                             rows, _config.Sigma, _config.Seed, (uint)modelBase);
            Forward(models, rows);
            _k.ArgmaxVote(new Index1D(models * rows), _votes.View, _activations[^1].View, start, rows, _classes, _batch);
        }
    }

    /// <summary>Vote counts (T, C) accumulated since construction (or the last <see cref="TakeVotes"/>).</summary>
    public uint[] DownloadVotes()
    {
        _accelerator.Synchronize();
        var counts = _votes.GetAsArray1D();
        return _inputCount * _classes == 0 ? [] : counts;
    }

    /// <summary>The accumulated vote counts (T, C), then zero on the device: one chunk's votes per call.</summary>
    public uint[] TakeVotes()
    {
        var counts = DownloadVotes();
        _votes.MemSetToZero();
        return counts;
    }

    /// <summary>The first <paramref name="models"/> parameter rows, (models, P): for tests and checkpoints.</summary>
    public float[] DownloadParameters(int models)
    {
        _accelerator.Synchronize();
        var all = new float[(long)models * _layout.Count];
        _parameters.View.SubView(0, all.Length).CopyToCPU(all);
        return all;
    }

    /// <summary>Per-row losses (models, B) of the last training batch.</summary>
    public float[] DownloadLastLosses(int models)
    {
        _accelerator.Synchronize();
        var all = new float[(long)models * _batch];
        _loss.View.SubView(0, all.Length).CopyToCPU(all);
        return all;
    }

    public void Synchronize() => _accelerator.Synchronize();

    /// <summary>
    /// One layer launch: reads activation buffer <paramref name="Input"/>, writes <paramref name="Output"/> (the same
    /// buffer for a ReLU or flatten); <paramref name="ReluFused"/> when the next layer is a ReLU done by this one's epilogue.
    /// </summary>
    public readonly record struct DeviceStep(ResolvedLayer Layer, int ParameterLayer, int Input, int Output, bool ReluFused, bool Skip);

    /// <summary>
    /// The layer launches of <paramref name="model"/> and the per-example size of each activation buffer: [0] the input,
    /// then one buffer per dense, convolution and pooling layer (ReLU and flatten are in place).
    /// </summary>
    public static (DeviceStep[] Steps, int[] BufferSizes) Plan(ModelArchitecture model)
    {
        var layout = new ParameterLayout(model);
        var steps = new List<DeviceStep>();
        var sizes = new List<int> { model.InputSize };
        int current = 0;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            bool inPlace = layer.Spec.Kind is LayerKind.Relu or LayerKind.Flatten;
            int output = current;
            if (!inPlace)
            {
                sizes.Add(layer.Output.Size);
                output = sizes.Count - 1;
            }
            bool fused = i + 1 < model.Layers.Count && model.IsFusedRelu(i + 1);
            steps.Add(new DeviceStep(layer, layer.Spec.HasParameters ? layout.ParameterLayer(i) : -1, current, output, fused,
                                     Skip: model.IsFusedRelu(i) || layer.Spec.Kind == LayerKind.Flatten));
            current = output;
        }
        return (steps.ToArray(), sizes.ToArray());
    }

    /// <summary>Largest per-example layer output: the row width of the input-gradient scratch buffers.</summary>
    public static int MaxLayerOutput(int[] bufferSizes) => bufferSizes.Skip(1).DefaultIfEmpty(1).Max();

    private static ConvShape Shape(ResolvedLayer layer) => new(layer.Input.Channels, layer.Input.Height, layer.Input.Width,
        layer.Output.Channels, layer.Output.Height, layer.Output.Width, layer.Spec.Kind == LayerKind.Conv2d ? layer.Spec.Kernel : 2, layer.Spec.Padding);

    // The layer list in order: dense as a batched GEMM with bias (and ReLU) in its epilogue, the rest one thread per output.
    private void Forward(int models, int rows)
    {
        long p = _layout.Count;
        foreach (var step in _steps)
        {
            if (step.Skip) continue;
            var layer = step.Layer;
            var input = _activations[step.Input].View;
            var output = _activations[step.Output].View;
            int inSize = layer.Input.Size, outSize = layer.Output.Size;
            switch (layer.Spec.Kind)
            {
                case LayerKind.Dense:
                {
                    int l = step.ParameterLayer;
                    _k.BatchedGemm(models,
                        output, MatrixLayout.RowMajor(0, (long)_batch * outSize, outSize),
                        input, MatrixLayout.RowMajor(0, (long)_batch * inSize, inSize),
                        _parameters.View, MatrixLayout.RowMajor(_layout.WeightOffset(l), p, outSize),
                        new GemmSize(rows, inSize, outSize),
                        new GemmEpilogue(step.ReluFused ? GemmEpilogue.BiasRelu : GemmEpilogue.Bias, _layout.BiasOffset(l), p), _parameters.View);
                    break;
                }
                case LayerKind.Conv2d:
                {
                    int l = step.ParameterLayer;
                    _k.Conv2dForward(new Index1D(checked(models * rows * outSize)), output, input, _parameters.View, Shape(layer),
                                     _layout.WeightOffset(l), _layout.BiasOffset(l), _layout.Count, rows, _batch, step.ReluFused ? 1 : 0);
                    break;
                }
                case LayerKind.MaxPool2d:
                    _k.MaxPool2dForward(new Index1D(checked(models * rows * outSize)), output, input, Shape(layer), rows, _batch);
                    break;
                case LayerKind.Relu:
                    _k.ReluForward(new Index1D(checked(models * _batch * inSize)), input.SubView(0, (long)models * _batch * inSize));
                    break;
            }
        }
    }

    // From dZ of the logits (in place in the last activation buffer) back down the same list to the first parameter layer:
    // dense dW = Aᵀ dZ, db = Σ_rows dZ, dA = dZ Wᵀ; convolution and pooling by their backward kernels; ReLU masks dZ in place.
    private void Backward(int models, int rows)
    {
        long p = _layout.Count;
        var dZ = _activations[_steps[^1].Output];
        int written = 0;
        for (int s = _steps.Length - 1; s >= _firstParameterStep; s--)
        {
            var step = _steps[s];
            var layer = step.Layer;
            int inSize = layer.Input.Size, outSize = layer.Output.Size;
            bool needInputGradient = s > _firstParameterStep;
            var dA = _scratch[written % 2];
            switch (layer.Spec.Kind)
            {
                case LayerKind.Dense:
                {
                    int l = step.ParameterLayer;
                    var input = _activations[step.Input].View;
                    _k.BatchedGemm(models,
                        _gradients.View, MatrixLayout.RowMajor(_layout.WeightOffset(l), p, outSize),
                        input, MatrixLayout.Transposed(0, (long)_batch * inSize, inSize),
                        dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outSize, outSize),
                        new GemmSize(inSize, rows, outSize), new GemmEpilogue(GemmEpilogue.None, 0, 0), _gradients.View);
                    _k.BiasGradient(new Index1D(models * outSize), _gradients.View, _layout.BiasOffset(l), _layout.Count, dZ.View, rows, outSize, _batch);
                    if (!needInputGradient) break;
                    _k.BatchedGemm(models,
                        dA.View, MatrixLayout.RowMajor(0, (long)_batch * inSize, inSize),
                        dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outSize, outSize),
                        _parameters.View, MatrixLayout.Transposed(_layout.WeightOffset(l), p, outSize),
                        new GemmSize(rows, outSize, inSize), new GemmEpilogue(GemmEpilogue.None, 0, 0), _parameters.View);
                    dZ = dA;
                    written++;
                    break;
                }
                case LayerKind.Conv2d:
                {
                    int l = step.ParameterLayer;
                    var shape = Shape(layer);
                    var input = _activations[step.Input].View;
                    _k.Conv2dBackwardWeight(new Index1D(checked(models * _layout.In(l) * _layout.Out(l))), _gradients.View, dZ.View, input, shape,
                                            _layout.WeightOffset(l), _layout.Count, rows, _batch);
                    _k.Conv2dBackwardBias(new Index1D(models * _layout.Out(l)), _gradients.View, dZ.View, shape, _layout.BiasOffset(l), _layout.Count, rows, _batch);
                    if (!needInputGradient) break;
                    _k.Conv2dBackwardInput(new Index1D(checked(models * rows * inSize)), dA.View, dZ.View, _parameters.View, shape,
                                           _layout.WeightOffset(l), _layout.Count, rows, _batch);
                    dZ = dA;
                    written++;
                    break;
                }
                case LayerKind.MaxPool2d:
                    _k.MaxPool2dBackward(new Index1D(checked(models * rows * inSize)), dA.View, dZ.View, _activations[step.Input].View,
                                         Shape(layer), rows, _batch);
                    dZ = dA;
                    written++;
                    break;
                case LayerKind.Relu:
                {
                    long count = (long)models * _batch * inSize;
                    _k.ReluBackward(new Index1D(checked((int)count)), dZ.View.SubView(0, count), _activations[step.Output].View.SubView(0, count));
                    break;
                }
                case LayerKind.Flatten: // (C, H, W) per example is its flat features already
                    break;
            }
        }
    }

    private void CheckModels(int models)
    {
        if (models < 1 || models > Capacity) throw new ArgumentOutOfRangeException(nameof(models), $"{models} models do not fit a chunk of {Capacity}");
    }

    public void Dispose()
    {
        foreach (var b in _activations) b.Dispose();
        foreach (var b in _scratch) b.Dispose();
        _loss.Dispose(); _perm.Dispose(); _gradients.Dispose(); _velocity.Dispose(); _parameters.Dispose();
        _heScale.Dispose(); _votes.Dispose(); _inputs.Dispose(); _labels.Dispose(); _features.Dispose();
    }
}

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
/// and reused by every chunk; training data and test inputs are uploaded once.
/// </summary>
public sealed class LockstepTrainer : IDisposable
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
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _activations; // [0]: noisy batch (M, B, D); [l]: layer l output (M, B, w_l)
    private readonly MemoryBuffer1D<float, Stride1D.Dense>[] _scratch;  // 2 × (M, B, max w)
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _loss;       // (M, B)

    /// <summary>Models the buffers hold.</summary>
    public int Capacity { get; }

    public LockstepTrainer(Accelerator accelerator, KernelSet kernels, EnsembleConfig config, Dataset train, Dataset inputs, int capacity)
    {
        _accelerator = accelerator;
        _k = kernels;
        _config = config;
        _layout = new ParameterLayout(config.Shape);
        _n = train.Count;
        _inputCount = inputs.Count;
        _batch = Math.Max(1, Math.Min(config.Training.BatchSize, _n));
        _dimension = train.Dimension;
        _classes = config.Shape.Classes;
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
        _activations = new MemoryBuffer1D<float, Stride1D.Dense>[_layout.Widths.Length];
        for (int l = 0; l < _activations.Length; l++)
            _activations[l] = accelerator.Allocate1D<float>((long)capacity * _batch * _layout.Widths[l]);
        _scratch = new MemoryBuffer1D<float, Stride1D.Dense>[2];
        for (int i = 0; i < 2; i++) _scratch[i] = accelerator.Allocate1D<float>((long)capacity * _batch * _layout.MaxLayerWidth());
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

    /// <summary>Vote counts (T, C) accumulated since construction.</summary>
    public uint[] DownloadVotes()
    {
        _accelerator.Synchronize();
        var counts = _votes.GetAsArray1D();
        return _inputCount * _classes == 0 ? [] : counts;
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

    // Layer l: A_{l+1} (M, rows, w_{l+1}) = act(A_l · W_l + b_l); ReLU on hidden layers, none on the logits.
    private void Forward(int models, int rows)
    {
        var w = _layout.Widths;
        long p = _layout.Count;
        for (int l = 0; l < _layout.Layers; l++)
        {
            var size = new GemmSize(rows, w[l], w[l + 1]);
            int mode = l + 1 < _layout.Layers ? GemmEpilogue.BiasRelu : GemmEpilogue.Bias;
            _k.BatchedGemm(models,
                    _activations[l + 1].View, MatrixLayout.RowMajor(0, (long)_batch * w[l + 1], w[l + 1]),
                    _activations[l].View, MatrixLayout.RowMajor(0, (long)_batch * w[l], w[l]),
                    _parameters.View, MatrixLayout.RowMajor(_layout.WeightOffset(l), p, w[l + 1]),
                    size, new GemmEpilogue(mode, _layout.BiasOffset(l), p), _parameters.View);
        }
    }

    // From dZ of the logits (in place in the last activation buffer) down to layer 0:
    // dW_l = A_lᵀ dZ_l, db_l = Σ_rows dZ_l, dA_l = dZ_l W_lᵀ, dZ_{l-1} = dA_l ⊙ [A_l > 0].
    private void Backward(int models, int rows)
    {
        var w = _layout.Widths;
        long p = _layout.Count;
        var dZ = _activations[^1];
        for (int l = _layout.Layers - 1; l >= 0; l--)
        {
            int inW = w[l], outW = w[l + 1];
            var dwSize = new GemmSize(inW, rows, outW);
            _k.BatchedGemm(models,
                    _gradients.View, MatrixLayout.RowMajor(_layout.WeightOffset(l), p, outW),
                    _activations[l].View, MatrixLayout.Transposed(0, (long)_batch * inW, inW),
                    dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outW, outW),
                    dwSize, new GemmEpilogue(GemmEpilogue.None, 0, 0), _gradients.View);
            _k.BiasGradient(new Index1D(models * outW), _gradients.View, _layout.BiasOffset(l), _layout.Count, dZ.View, rows, outW, _batch);
            if (l == 0) break;
            var dA = _scratch[l % 2];
            var dxSize = new GemmSize(rows, outW, inW);
            _k.BatchedGemm(models,
                    dA.View, MatrixLayout.RowMajor(0, (long)_batch * inW, inW),
                    dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outW, outW),
                    _parameters.View, MatrixLayout.Transposed(_layout.WeightOffset(l), p, outW),
                    dxSize, new GemmEpilogue(GemmEpilogue.None, 0, 0), _parameters.View);
            long count = (long)models * _batch * inW;
            _k.ReluBackward(new Index1D((int)count), dA.View.SubView(0, count), _activations[l].View.SubView(0, count));
            dZ = dA;
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

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
/// <para>
/// Built with <c>viewRowsPerModel</c>, it trains per-model training views (DPA partitions, bags) in lockstep: each
/// model of the chunk has its own view table (<see cref="LoadViews"/>), row count and permutation; every launch covers
/// the most rows any model has in the batch, the rows a model does not have are zeros whose products add exact zeros
/// to every sum, its loss is scaled by its own row count, and a model whose epoch has fewer batches takes no SGD step
/// (weights and velocity untouched). So each model trains bit for bit as it would alone on its view's rows.
/// </para>
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
    // Per-model training views (null on the all-rows path): view row j of model m is training row _viewRows[m, j].
    private readonly MemoryBuffer1D<int, Stride1D.Dense>? _viewRows;    // (M, _stride)
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _rowCounts;    // (M) rows per model: n, or each model's view rows
    private readonly int _stride;                                        // row length of _perm: n, or the most view rows per model
    private int[] _loadedCounts = [];                                    // host copy of _rowCounts for the loaded views
    // Learning rate η_t of each model at each batch of the epoch, (batches per epoch, M): batch k's row is the StepMask's
    // LearningRates. Filled on the host per epoch from each model's own step index (TrainingOptions.LearningRateAt) and
    // uploaded only when it changed (after the warm-up, never).
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _learningRates;
    private readonly int _batchesPerEpoch;                               // most batches an epoch has: ⌈_stride / _batch⌉
    private float[] _rateTable = [], _uploadedRates = [];
    // Fusion plan (see Fusion): the 10-wide tail in one kernel, each dense layer's dW + db + SGD in one kernel, and the
    // parameter ranges (per model) that the separate SGD pass still covers.
    private readonly bool _fusedTail, _fusedDense;
    private readonly (int Offset, int Count)[] _unfusedParameters;

    /// <summary>Models the buffers hold.</summary>
    public int Capacity { get; }

    /// <summary>Most view rows one model may have (<see cref="LoadViews"/>); null on the all-rows path.</summary>
    public int? ViewRowsPerModel => _viewRows is null ? null : _stride;

    /// <summary>Whether the step runs the fused tail (logits … dW, db, SGD of the last layer in one launch).</summary>
    public bool UsesFusedTail => _fusedTail;

    /// <param name="viewRowsPerModel">
    /// Null: every model trains on every training row in order. Otherwise the trainer trains per-model views of at most
    /// this many rows each, loaded per chunk with <see cref="LoadViews"/>.
    /// </param>
    /// <param name="fused">
    /// True (the default): dense layers' weight gradient, bias gradient and SGD step run as one kernel, and a model ending
    /// in ReLU → dense with at most 32 outputs runs its tail as one kernel. False: one launch per
    /// operation, as before the fusions; both give the same bits on the CPU accelerator (tests compare them).
    /// </param>
    public LockstepTrainer(Accelerator accelerator, KernelSet kernels, EnsembleConfig config, Dataset train, Dataset inputs, int capacity,
                           int? viewRowsPerModel = null, bool fused = true)
    {
        _accelerator = accelerator;
        _k = kernels;
        _config = config;
        _layout = new ParameterLayout(config.Model);
        (_steps, var sizes) = Plan(config.Model);
        _firstParameterStep = Array.FindIndex(_steps, st => st.ParameterLayer >= 0);
        _n = train.Count;
        _inputCount = inputs.Count;
        _stride = viewRowsPerModel is { } v ? Math.Max(1, v) : _n;
        _batch = Math.Max(1, Math.Min(config.Training.BatchSize, _stride));
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
        _perm = accelerator.Allocate1D<int>((long)capacity * _stride);
        _rowCounts = accelerator.Allocate1D<int>(capacity);
        if (viewRowsPerModel is not null) _viewRows = accelerator.Allocate1D<int>((long)capacity * _stride);
        else _rowCounts.CopyFromCPU(Enumerable.Repeat(_n, capacity).ToArray());
        (_fusedTail, _fusedDense, _unfusedParameters) = Fusion(_steps, _layout, fused);
        _activations = new MemoryBuffer1D<float, Stride1D.Dense>[sizes.Length];
        for (int a = 0; a < _activations.Length; a++)
            _activations[a] = accelerator.Allocate1D<float>((long)capacity * _batch * sizes[a]);
        _scratch = new MemoryBuffer1D<float, Stride1D.Dense>[2];
        for (int i = 0; i < 2; i++) _scratch[i] = accelerator.Allocate1D<float>((long)capacity * _batch * MaxLayerOutput(sizes));
        _loss = accelerator.Allocate1D<float>((long)capacity * _batch);
        _batchesPerEpoch = (_stride + _batch - 1) / _batch;
        _learningRates = accelerator.Allocate1D<float>((long)_batchesPerEpoch * capacity);
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

    /// <summary>
    /// Loads the training views of the chunk's <paramref name="models"/> models: <paramref name="rows"/>[i] are the training
    /// rows of model modelBase + i in view order (<see cref="NativeCert.Defenses.ModelRows.Of"/>), at most
    /// <see cref="ViewRowsPerModel"/> of them; an empty view trains nothing and keeps the model at its initialisation.
    /// </summary>
    public void LoadViews(int models, IReadOnlyList<int[]> rows)
    {
        CheckModels(models);
        if (_viewRows is null) throw new InvalidOperationException("this trainer trains every model on every row; build it with viewRowsPerModel");
        if (rows.Count != models) throw new ArgumentException($"{rows.Count} views for {models} models", nameof(rows));
        var table = new int[(long)models * _stride];
        var counts = new int[models];
        for (int i = 0; i < models; i++)
        {
            var mine = rows[i];
            if (mine.Length > _stride) throw new ArgumentException($"view {i} has {mine.Length} rows but the trainer holds {_stride} per model", nameof(rows));
            foreach (int t in mine)
                if ((uint)t >= (uint)_n) throw new ArgumentOutOfRangeException(nameof(rows), t, $"view {i} names a row outside the {_n} training rows");
            mine.CopyTo(table, (long)i * _stride);
            counts[i] = mine.Length;
        }
        _viewRows.View.SubView(0, table.Length).CopyFromCPU(table);
        _rowCounts.View.SubView(0, models).CopyFromCPU(counts);
        _loadedCounts = counts;
    }

    /// <summary>One epoch of minibatch SGD for the chunk's models (the same models as the last <see cref="Initialize"/>).</summary>
    public void TrainEpoch(int modelBase, int models, int epoch)
    {
        CheckModels(models);
        if (_viewRows is not null)
        {
            TrainViewEpoch(modelBase, models, epoch);
            return;
        }
        ulong seed = _config.Seed;
        _k.Shuffle(new Index1D(models), _perm.View, _n, epoch, seed, (uint)modelBase);
        LoadLearningRates(models, epoch, _ => _n);
        int blocksPerRow = (_dimension + 3) / 4;
        for (int start = 0; start < _n; start += _batch)
        {
            int rows = Math.Min(_batch, _n - start);
            _k.GatherNoisyTrainingRows(new Index1D(models * rows * blocksPerRow), _activations[0].View, _features.View, _perm.View,
                                       start, _n, _dimension, _batch, rows, _config.Sigma, seed, (uint)modelBase);
            Forward(models, rows, training: true);
            var mask = MaskOf(start);
            if (_fusedTail)
                _k.FusedTail(TailKernels.Config(models), _activations[_steps[^1].Input].View, _activations[^1].View, _loss.View, _scratch[0].View,
                             _parameters.View, _velocity.View, _labels.View, _perm.View, TailShapeOf(rows, start), Sgd, mask);
            else
            {
                // Logits become dLogits in place.
                _k.SoftmaxCrossEntropy(new Index1D(models * rows), _activations[^1].View, _loss.View, _labels.View, _perm.View,
                                       start, _n, rows, _classes, _batch);
            }
            Backward(models, rows, mask);
            UnfusedSgd(models, mask);
        }
    }

    // The views' epoch: batches start at the same view position for every model and run until the largest view is done;
    // model m has clamp(count_m − start, 0, B) rows in a batch (ViewBatch), the kernels pad the rest with zeros and the
    // step mask leaves out a model with none.
    private void TrainViewEpoch(int modelBase, int models, int epoch)
    {
        if (_loadedCounts.Length != models) throw new InvalidOperationException($"views of {_loadedCounts.Length} models loaded for a chunk of {models}");
        int most = _loadedCounts.Max();
        if (most == 0) return;
        ulong seed = _config.Seed;
        _k.ShuffleView(new Index1D(models), _perm.View, _rowCounts.View, _stride, epoch, seed, (uint)modelBase);
        LoadLearningRates(models, epoch, i => _loadedCounts[i]);
        int blocksPerRow = (_dimension + 3) / 4;
        for (int start = 0; start < most; start += _batch)
        {
            int rows = Math.Min(_batch, most - start);
            var view = new ViewBatch { Perm = _perm.View, ViewRows = _viewRows!.View, Counts = _rowCounts.View, BatchStart = start, Stride = _stride, TrainCount = _n };
            _k.GatherNoisyViewRows(new Index1D(models * rows * blocksPerRow), _activations[0].View, _features.View, view, _dimension, _batch, rows,
                                   _config.Sigma, seed, (uint)modelBase);
            Forward(models, rows, training: true);
            var mask = MaskOf(start);
            if (_fusedTail)
                _k.FusedTailView(TailKernels.Config(models), _activations[_steps[^1].Input].View, _activations[^1].View, _loss.View, _scratch[0].View,
                                 _parameters.View, _velocity.View, _labels.View, view, TailShapeOf(rows, start), Sgd, mask);
            else
                _k.SoftmaxCrossEntropyView(new Index1D(models * rows), _activations[^1].View, _loss.View, _labels.View, view, rows, _classes, _batch);
            Backward(models, rows, mask);
            UnfusedSgd(models, mask);
        }
    }

    // The last layer's sizes and offsets for the fused tail; the permutation fields are the all-rows path's.
    private TailShape TailShapeOf(int rows, int start)
    {
        var last = _steps[^1];
        int l = last.ParameterLayer;
        return new TailShape
        {
            Hidden = last.Layer.Input.Size, Classes = _classes, Rows = rows, Capacity = _batch, BatchStart = start, TrainCount = _n,
            ParameterCount = _layout.Count, WeightOffset = _layout.WeightOffset(l), BiasOffset = _layout.BiasOffset(l),
        };
    }

    private SgdStep Sgd => new(_config.Training.Momentum, _config.Training.WeightDecay);

    // The batch starting at view position start: the models with rows in it step, each with its η_t of that batch.
    private StepMask MaskOf(int start) =>
        new(_rowCounts.View, start, _learningRates.View.SubView((long)(start / _batch) * Capacity, Capacity));

    /// <summary>
    /// Fills the chunk's η_t table for <paramref name="epoch"/>: model i of <paramref name="rowsOf"/>(i) rows takes
    /// S_i = ⌈rows / B⌉ steps an epoch, and its batch k is its step t = epoch·S_i + k (its own steps only: a batch it has no
    /// rows in is no step of it), so η_t is what the CPU engine uses for that model alone (docs/engine.md). Uploads it only
    /// when it differs from the table on the device.
    /// </summary>
    private void LoadLearningRates(int models, int epoch, Func<int, int> rowsOf)
    {
        var training = _config.Training;
        int length = _batchesPerEpoch * Capacity;
        if (_rateTable.Length != length) _rateTable = new float[length];
        for (int i = 0; i < models; i++)
        {
            long steps = training.StepsPerEpoch(rowsOf(i)), warmup = training.WarmupSteps(rowsOf(i));
            for (int k = 0; k < _batchesPerEpoch; k++)
                _rateTable[k * Capacity + i] = k < steps ? training.LearningRateAt(epoch * steps + k, warmup) : 0f;
        }
        if (_uploadedRates.AsSpan().SequenceEqual(_rateTable)) return;
        _learningRates.CopyFromCPU(_rateTable);
        _uploadedRates = (float[])_rateTable.Clone();
    }

    // The SGD step of every parameter no fused kernel updated, for the models the mask lets step.
    private void UnfusedSgd(int models, StepMask mask)
    {
        foreach (var (offset, count) in _unfusedParameters)
            _k.SgdMomentumRange(new Index1D(checked(models * count)), _parameters.View, _velocity.View, _gradients.View, offset, count, _layout.Count, Sgd, mask);
    }

    /// <summary>
    /// Which fused kernels a model's training step can use: the tail (logits, softmax-CE, dW, db and SGD of the last layer,
    /// dH through the ReLU mask) when the model ends in ReLU → dense with at most 32 outputs (on views through their
    /// tables, <see cref="TailKernels.FusedTailViewKernel"/>); each dense layer's dW + db + SGD otherwise; and the per-model
    /// parameter ranges left to the separate SGD pass (convolution layers; everything when <paramref name="fused"/> is false),
    /// adjacent ranges merged.
    /// </summary>
    public static (bool Tail, bool Dense, (int Offset, int Count)[] Unfused) Fusion(DeviceStep[] steps, ParameterLayout layout, bool fused)
    {
        var last = steps[^1];
        bool tail = fused && steps.Length >= 2 && last.Layer.Spec.Kind == LayerKind.Dense && last.Layer.Output.Size <= 32
                    && steps[^2].Layer.Spec.Kind == LayerKind.Relu && steps[^2].Output == last.Input;
        var unfused = new List<(int Offset, int Count)>();
        foreach (var step in steps)
        {
            if (step.ParameterLayer < 0) continue;
            if (fused && step.Layer.Spec.Kind == LayerKind.Dense) continue; // the tail or the fused dW + SGD updates it
            int l = step.ParameterLayer, start = layout.WeightOffset(l), end = layout.BiasOffset(l) + layout.Out(l);
            if (unfused.Count > 0 && unfused[^1].Offset + unfused[^1].Count == start) unfused[^1] = (unfused[^1].Offset, end - unfused[^1].Offset);
            else unfused.Add((start, end - start));
        }
        return (tail, fused, unfused.ToArray());
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
    // A training step with the fused tail stops before the last layer (the tail computes the logits).
    private void Forward(int models, int rows, bool training = false)
    {
        long p = _layout.Count;
        int end = training && _fusedTail ? _steps.Length - 1 : _steps.Length;
        for (int s = 0; s < end; s++)
        {
            var step = _steps[s];
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
    // With the fused tail, the last dense layer and its input ReLU are done (dH is in scratch 0). A fused dense layer
    // computes dA first (from W before its update), then dW + db + SGD in one kernel for the models the mask lets step.
    private void Backward(int models, int rows, StepMask mask)
    {
        long p = _layout.Count;
        var dZ = _activations[_steps[^1].Output];
        int written = 0, top = _steps.Length - 1;
        if (_fusedTail)
        {
            dZ = _scratch[0];
            written = 1;
            top = _steps.Length - 3;
        }
        for (int s = top; s >= _firstParameterStep; s--)
        {
            var step = _steps[s];
            var layer = step.Layer;
            int inSize = layer.Input.Size, outSize = layer.Output.Size;
            bool needInputGradient = s > _firstParameterStep;
            var dA = _scratch[written % 2];
            switch (layer.Spec.Kind)
            {
                case LayerKind.Dense when _fusedDense:
                {
                    int l = step.ParameterLayer;
                    var input = _activations[step.Input].View;
                    if (needInputGradient)
                        _k.BatchedGemm(models,
                            dA.View, MatrixLayout.RowMajor(0, (long)_batch * inSize, inSize),
                            dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outSize, outSize),
                            _parameters.View, MatrixLayout.Transposed(_layout.WeightOffset(l), p, outSize),
                            new GemmSize(rows, outSize, inSize), new GemmEpilogue(GemmEpilogue.None, 0, 0), _parameters.View);
                    var size = new GemmSize(inSize, rows, outSize);
                    _k.WeightGradientSgd(Gemm128Kernels.Config(size, models), _parameters.View, _velocity.View,
                                         MatrixLayout.RowMajor(_layout.WeightOffset(l), p, outSize), _layout.BiasOffset(l),
                                         input, MatrixLayout.Transposed(0, (long)_batch * inSize, inSize),
                                         dZ.View, MatrixLayout.RowMajor(0, (long)_batch * outSize, outSize), size, Sgd, mask);
                    if (!needInputGradient) break;
                    dZ = dA;
                    written++;
                    break;
                }
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
        _viewRows?.Dispose(); _rowCounts.Dispose(); _learningRates.Dispose();
        _loss.Dispose(); _perm.Dispose(); _gradients.Dispose(); _velocity.Dispose(); _parameters.Dispose();
        _heScale.Dispose(); _votes.Dispose(); _inputs.Dispose(); _labels.Dispose(); _features.Dispose();
    }
}

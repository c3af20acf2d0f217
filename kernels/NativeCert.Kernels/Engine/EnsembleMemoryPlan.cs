using NativeCert.Engine;
using NativeCert.Spec;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// Device memory of lockstep training, in bytes (all buffers float32 or int32, 4 bytes per element):
/// <code>
/// per model  = 4·( 3P                      parameters, velocity, gradients  (M, P)
///                + n                       this epoch's permutation          (M, n)
///                + B·(D + Σ_a s_a)         noisy batch and every layer output (M, B, s_a)
///                + 2·B·max_a s_a           backward scratch, ping-pong        (M, B, s)
///                + B                       per-row loss                       (M, B)
///                + ⌈n / B⌉ )               each batch's learning rate η_t     (⌈n / B⌉, M)
/// shared     = 4·( n·D + n + T·D + T·C + P )   training set, labels, test inputs, votes, He scales
/// M          = min(models, ⌊(0.9·free − shared) / per model⌋, ⌊(2³¹ − 2¹⁶) / max(P, B·max(D, s), n)⌋, 65535)
/// </code>
/// With per-model training views (DPA partitions, bags) n in the per-model terms is v, the most view rows any model
/// of the run has (the permutation runs over a model's view rows), B is min(batch, v), and each model adds its view
/// table and row count: 4·(v + 1) bytes more. The shared training set stays the whole n rows.
/// s_a is the per-example size of each layer output buffer: one per dense, convolution and pooling layer (ReLU and
/// flatten work in place; <see cref="LockstepTrainer.Plan"/>). For an MLP, s_a are the widths w_l of its layers after
/// the input.
/// The third bound keeps every per-chunk buffer, and every launch's thread count (at most M·P, M·B·s or M·n, rounded
/// up to whole groups of ≤ 1024), indexable by ILGPU's signed 32-bit thread index with 2¹⁶ to spare; the last is
/// CUDA's grid z limit (the model is the grid's z axis).
/// </summary>
internal readonly record struct EnsembleMemoryPlan(long BytesPerModel, long SharedBytes, long UsableBytes, int ModelsPerChunk)
{
    /// <summary>CUDA's largest grid z extent; kernels put the model on z.</summary>
    public const int MaxGridZ = 65535;

    /// <summary>
    /// The largest element count of a per-chunk buffer and of a launch: 2³¹ − 2¹⁶, so that a thread index rounded up
    /// to whole groups (or offset by a row) cannot wrap ILGPU's signed 32-bit index.
    /// </summary>
    public const int MaxIndex = int.MaxValue - 65535;

    /// <param name="trainCount">Rows each model's permutation runs over: the training set's, or the most view rows of any model.</param>
    /// <param name="viewTables">True for per-model training views: each model also holds its view table and row count.</param>
    public static long PerModelBytes(ParameterLayout layout, int trainCount, int batchSize, bool viewTables = false)
    {
        var sizes = LockstepTrainer.Plan(layout.Model).BufferSizes;
        long outputs = sizes.Skip(1).Sum(w => (long)w);
        long floats = 3L * layout.Count + trainCount
                      + (long)batchSize * (layout.Model.InputSize + outputs)
                      + 2L * batchSize * LockstepTrainer.MaxLayerOutput(sizes)
                      + batchSize
                      + (trainCount + batchSize - 1L) / batchSize
                      + (viewTables ? trainCount + 1L : 0);
        return 4 * floats;
    }

    public static long SharedDataBytes(ParameterLayout layout, int trainCount, int inputCount) =>
        4 * ((long)trainCount * layout.Model.InputSize + trainCount + (long)inputCount * layout.Model.InputSize
             + (long)inputCount * layout.Model.Classes + layout.Count);

    /// <summary>
    /// Plans how many of <paramref name="models"/> train at once in <paramref name="usableBytes"/>. Throws a
    /// <see cref="UserInputException"/> naming the sizes when not even one model fits.
    /// </summary>
    /// <param name="viewRowsPerModel">For per-model training views: the most view rows any model has (null: every model trains on every row).</param>
    public static EnsembleMemoryPlan Create(ModelArchitecture model, int trainCount, int inputCount, int batchSize, int models,
                                            long usableBytes, int? maxModelsPerChunk = null, int? viewRowsPerModel = null)
    {
        var layout = new ParameterLayout(model);
        int rowsPerModel = viewRowsPerModel is { } v ? Math.Max(1, v) : trainCount;
        long perModel = PerModelBytes(layout, rowsPerModel, batchSize, viewTables: viewRowsPerModel is not null);
        long shared = SharedDataBytes(layout, trainCount, inputCount);
        long fit = (usableBytes - shared) / perModel;
        if (fit < 1)
            throw new SpecException(
                $"{IlgpuEnsembleBackend.BackendField}: the GPU has {usableBytes / 1048576} MiB usable but one model of {model} with batch {batchSize} " +
                $"needs {perModel / 1048576.0:F1} MiB plus {shared / 1048576.0:F1} MiB for {trainCount} training rows and " +
                $"{inputCount} inputs; use fewer inputs or training rows, or the cpu backend", IlgpuEnsembleBackend.BackendField);
        long widest = Math.Max(Math.Max(layout.Count, rowsPerModel),
                               (long)batchSize * Math.Max(model.InputSize, LockstepTrainer.MaxLayerOutput(LockstepTrainer.Plan(model).BufferSizes)));
        long indexable = MaxIndex / widest;
        long chunk = Math.Min(Math.Min(Math.Min(fit, indexable), MaxGridZ), Math.Max(1, models));
        if (maxModelsPerChunk is { } cap) chunk = Math.Min(chunk, Math.Max(1, cap));
        return new EnsembleMemoryPlan(perModel, shared, usableBytes, (int)Math.Max(1, chunk));
    }
}

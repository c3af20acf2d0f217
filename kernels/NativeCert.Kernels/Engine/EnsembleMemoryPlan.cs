using NativeCert.Engine;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// Device memory of lockstep training, in bytes (all buffers float32 or int32, 4 bytes per element):
/// <code>
/// per model  = 4·( 3P                      parameters, velocity, gradients  (M, P)
///                + n                       this epoch's permutation          (M, n)
///                + B·(D + Σ_{l≥1} w_l)     noisy batch and every layer output (M, B, w_l)
///                + 2·B·max_{l≥1} w_l       backward scratch, ping-pong        (M, B, w)
///                + B )                     per-row loss                       (M, B)
/// shared     = 4·( n·D + n + T·D + T·C + P )   training set, labels, test inputs, votes, He scales
/// M          = min(models, ⌊(0.9·free − shared) / per model⌋, ⌊(2³¹ − 2¹⁶) / max(P, B·max(D, w), n)⌋, 65535)
/// </code>
/// The third bound keeps every per-chunk buffer, and every launch's thread count (at most M·P, M·B·w or M·n, rounded
/// up to whole groups of ≤ 1024), indexable by ILGPU's signed 32-bit thread index with 2¹⁶ to spare; the last is
/// CUDA's grid z limit (the model is the grid's z axis).
/// </summary>
public readonly record struct EnsembleMemoryPlan(long BytesPerModel, long SharedBytes, long UsableBytes, int ModelsPerChunk)
{
    /// <summary>CUDA's largest grid z extent; kernels put the model on z.</summary>
    public const int MaxGridZ = 65535;

    /// <summary>
    /// The largest element count of a per-chunk buffer and of a launch: 2³¹ − 2¹⁶, so that a thread index rounded up
    /// to whole groups (or offset by a row) cannot wrap ILGPU's signed 32-bit index.
    /// </summary>
    public const int MaxIndex = int.MaxValue - 65535;

    public static long PerModelBytes(ParameterLayout layout, int trainCount, int batchSize)
    {
        long hiddenAndOut = layout.Widths.Skip(1).Sum(w => (long)w);
        long floats = 3L * layout.Count + trainCount
                      + (long)batchSize * (layout.Widths[0] + hiddenAndOut)
                      + 2L * batchSize * layout.MaxLayerWidth()
                      + batchSize;
        return 4 * floats;
    }

    public static long SharedDataBytes(ParameterLayout layout, int trainCount, int inputCount) =>
        4 * ((long)trainCount * layout.Widths[0] + trainCount + (long)inputCount * layout.Widths[0]
             + (long)inputCount * layout.Widths[^1] + layout.Count);

    /// <summary>
    /// Plans how many of <paramref name="models"/> train at once in <paramref name="usableBytes"/>. Throws a
    /// <see cref="UserInputException"/> naming the sizes when not even one model fits.
    /// </summary>
    public static EnsembleMemoryPlan Create(MlpShape shape, int trainCount, int inputCount, int batchSize, int models,
                                            long usableBytes, int? maxModelsPerChunk = null)
    {
        var layout = new ParameterLayout(shape);
        long perModel = PerModelBytes(layout, trainCount, batchSize);
        long shared = SharedDataBytes(layout, trainCount, inputCount);
        long fit = (usableBytes - shared) / perModel;
        if (fit < 1)
            throw new UserInputException(
                $"--backend: the GPU has {usableBytes / 1048576} MiB usable but one model of {shape} with batch {batchSize} " +
                $"needs {perModel / 1048576.0:F1} MiB plus {shared / 1048576.0:F1} MiB for {trainCount} training rows and " +
                $"{inputCount} inputs; use fewer inputs or training rows, or the cpu backend");
        long widest = Math.Max(Math.Max(layout.Count, trainCount),
                               (long)batchSize * Math.Max(layout.Widths[0], layout.MaxLayerWidth()));
        long indexable = MaxIndex / widest;
        long chunk = Math.Min(Math.Min(Math.Min(fit, indexable), MaxGridZ), Math.Max(1, models));
        if (maxModelsPerChunk is { } cap) chunk = Math.Min(chunk, Math.Max(1, cap));
        return new EnsembleMemoryPlan(perModel, shared, usableBytes, (int)Math.Max(1, chunk));
    }
}

using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>
/// One minibatch of lockstep training on per-model training views (DPA partitions, bags; docs/engine.md "Training
/// view"): model m trains on its own <c>Counts[m]</c> view rows, view row j being training row <c>ViewRows[m, j]</c>,
/// visited in the order <c>Perm[m, ·]</c> of this epoch. Every model's batch starts at view position
/// <see cref="BatchStart"/>, so model m has rows_m = clamp(Counts[m] − BatchStart, 0, batch) rows in it: its last batch
/// may be short, and a model whose epoch has fewer batches has none (and takes no step).
/// </summary>
internal struct ViewBatch
{
    /// <summary>This epoch's permutation of each model's view rows, <c>(M, Stride)</c>.</summary>
    public ArrayView<int> Perm;
    /// <summary>Training row of each model's view row, <c>(M, Stride)</c>.</summary>
    public ArrayView<int> ViewRows;
    /// <summary>View rows per model, <c>(M)</c>, each ≤ <see cref="Stride"/>.</summary>
    public ArrayView<int> Counts;
    /// <summary>First view position of the batch (the same for every model).</summary>
    public int BatchStart;
    /// <summary>Row length of <see cref="Perm"/> and <see cref="ViewRows"/>: at least every model's count.</summary>
    public int Stride;
    /// <summary>Rows of the training set (the bound of every <see cref="ViewRows"/> entry).</summary>
    public int TrainCount;

    /// <summary>Rows model m has in this batch, before the cap at the batch size (≤ 0: none).</summary>
    public readonly int RowsLeft(int m) => Counts[m] - BatchStart;

    /// <summary>
    /// The training row of model m's batch row r (r &lt; its rows in the batch) and its view row j, or −1 where a corrupt
    /// table would index out of bounds.
    /// </summary>
    public readonly int TrainingRow(int m, int r, out int j)
    {
        j = Perm[m * (long)Stride + BatchStart + r];
        if ((uint)j >= (uint)Stride) return -1;
        int t = ViewRows[m * (long)Stride + j];
        return (uint)t < (uint)TrainCount ? t : -1;
    }
}

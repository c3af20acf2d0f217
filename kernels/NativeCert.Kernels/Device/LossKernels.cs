using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>Softmax cross-entropy over batched logits <c>(M, batchCapacity, C)</c>.</summary>
internal static class LossKernels
{
    /// <summary>
    /// Mean softmax cross-entropy of the batch and its gradient, in place: for row r of model m with label
    /// y = labels[perm[m, batchStart + r]], logits z become dz = (softmax(z) − onehot(y)) / rows, and
    /// loss[m, r] = log Σ exp(z) − z_y (the per-row loss; the batch loss is its mean). One thread per (model, row),
    /// e = m·rows + r.
    /// </summary>
    public static void SoftmaxCrossEntropyKernel(Index1D e, ArrayView<float> logits, ArrayView<float> loss,
        ArrayView<int> labels, ArrayView<int> perm, int batchStart, int n, int rows, int classes, int batchCapacity)
    {
        int r = e % rows, m = e / rows;
        int j = perm[m * (long)n + batchStart + r];
        if ((uint)j >= (uint)n) return;
        int y = labels[j];
        Row(logits, loss, (m * (long)batchCapacity + r) * classes, m * (long)batchCapacity + r, y, rows, classes);
    }

    /// <summary>
    /// <see cref="SoftmaxCrossEntropyKernel"/> over per-model training views (<see cref="ViewBatch"/>): model m's label of
    /// view row j is labels[viewRows[m, j]], and its gradient is scaled by 1/rows_m, its own rows in the batch, as the CPU
    /// engine scales a batch of rows_m rows. Rows at or past rows_m get dz = 0 and loss 0, so they add exact zeros to
    /// every gradient. One thread per (model, row), e = m·rows + r, <paramref name="rows"/> the most rows any model has.
    /// </summary>
    internal static void SoftmaxCrossEntropyViewKernel(Index1D e, ArrayView<float> logits, ArrayView<float> loss, ArrayView<int> labels,
        ViewBatch view, int rows, int classes, int batchCapacity)
    {
        int r = e % rows, m = e / rows;
        long o = (m * (long)batchCapacity + r) * classes, lossIndex = m * (long)batchCapacity + r;
        int modelRows = view.RowsLeft(m);
        if (r >= modelRows)
        {
            for (int c = 0; c < classes; c++) logits[o + c] = 0f;
            loss[lossIndex] = 0f;
            return;
        }
        int t = view.TrainingRow(m, r, out _);
        if (t < 0) return;
        Row(logits, loss, o, lossIndex, labels[t], modelRows < rows ? modelRows : rows, classes);
    }

    /// <summary>One row of <see cref="SoftmaxCrossEntropyKernel"/>: logits at <paramref name="o"/> become dz, the loss goes to loss[lossIndex].</summary>
    public static void Row(ArrayView<float> logits, ArrayView<float> loss, long o, long lossIndex, int y, int rows, int classes)
    {
        float max = logits[o];
        for (int c = 1; c < classes; c++) max = MathF.Max(max, logits[o + c]);
        float sum = 0f;
        for (int c = 0; c < classes; c++) sum += MathF.Exp(logits[o + c] - max);
        loss[lossIndex] = MathF.Log(sum) - (logits[o + y] - max);
        float invRows = 1f / rows;
        for (int c = 0; c < classes; c++)
        {
            float p = MathF.Exp(logits[o + c] - max) / sum;
            logits[o + c] = (p - (c == y ? 1f : 0f)) * invRows;
        }
    }
}

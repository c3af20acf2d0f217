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

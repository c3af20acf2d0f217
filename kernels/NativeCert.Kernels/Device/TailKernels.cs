using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>Sizes and offsets of the narrow last layer (H → C) for <see cref="TailKernels.FusedTailKernel"/>.</summary>
internal struct TailShape
{
    /// <summary>Hidden width H, classes C, rows in this batch, batch capacity (row stride of the buffers).</summary>
    public int Hidden, Classes, Rows, Capacity;
    /// <summary>First batch row's position in the permutation, training rows n, parameters per model P.</summary>
    public int BatchStart, TrainCount, ParameterCount;
    /// <summary>Offsets of W1 (H, C) and b1 (C) within a model's parameters.</summary>
    public int WeightOffset, BiasOffset;
}

/// <summary>
/// The 10-wide tail of a training step in one launch per chunk: one group per model runs logits = Y·W1 + b1, the
/// softmax cross-entropy gradient (in place, with the per-row loss), dH = dL·W1ᵀ masked by ReLU (Y &gt; 0), and dW1 =
/// Yᵀ·dL, db1 = Σ dL with their SGD step, which the unfused path does in seven launches (thin GEMM, softmax, thin
/// dW GEMM, bias gradient, dX GEMM, ReLU backward, and W1's share of the SGD pass) with dL, dW1 and db1 round trips
/// through memory. Each value is summed in the unfused kernels' order (k ascending from 0, the bias added last), so
/// results are equal to them. The trainer uses it when the model ends in ReLU → dense with at most 32 outputs
/// (<see cref="Engine.LockstepTrainer"/>), on views through <see cref="FusedTailViewKernel"/>; a model the mask leaves
/// out does nothing.
/// Launch: grid (models, 1, 1), group (<see cref="GroupSize"/>, 1, 1).
/// </summary>
internal static class TailKernels
{
    public const int GroupSize = 128;

    public static KernelConfig Config(int models) => new(new Index3D(models, 1, 1), new Index3D(GroupSize, 1, 1));

    /// <param name="hidden">Y (M, capacity, H): the last hidden layer's ReLU output.</param>
    /// <param name="logits">(M, capacity, C): written with the logits, then turned into dL in place.</param>
    /// <param name="dHidden">(M, capacity, H): dL·W1ᵀ where Y &gt; 0, else 0.</param>
    public static void FusedTailKernel(ArrayView<float> hidden, ArrayView<float> logits, ArrayView<float> loss, ArrayView<float> dHidden,
                                       ArrayView<float> parameters, ArrayView<float> velocity, ArrayView<int> labels, ArrayView<int> perm,
                                       TailShape s, SgdStep step, StepMask mask) =>
        Tail(hidden, logits, loss, dHidden, parameters, velocity, new PermutedLabels { Labels = labels, Perm = perm, Shape = s }, s, step, mask);

    /// <summary>
    /// <see cref="FusedTailKernel"/> for per-model training views (<see cref="ViewBatch"/>): model m's batch has its own
    /// rows_m rows (labels through its view table, gradient scaled by 1/rows_m); rows past rows_m get dL = 0 and loss 0,
    /// so they add exact zeros to dW1, db1 and nothing to dH.
    /// </summary>
    internal static void FusedTailViewKernel(ArrayView<float> hidden, ArrayView<float> logits, ArrayView<float> loss, ArrayView<float> dHidden,
                                             ArrayView<float> parameters, ArrayView<float> velocity, ArrayView<int> labels, ViewBatch view,
                                             TailShape s, SgdStep step, StepMask mask) =>
        Tail(hidden, logits, loss, dHidden, parameters, velocity, new ViewLabels { Labels = labels, View = view }, s, step, mask);

    private static void Tail<TLabels>(ArrayView<float> hidden, ArrayView<float> logits, ArrayView<float> loss, ArrayView<float> dHidden,
                                      ArrayView<float> parameters, ArrayView<float> velocity, TLabels labels,
                                      TailShape s, SgdStep step, StepMask mask) where TLabels : struct, ITailLabels
    {
        int m = Grid.IdxX, t = Group.IdxX;
        if (!mask.Takes(m)) return;
        long pBase = m * (long)s.ParameterCount, rowBase = m * (long)s.Capacity;
        long w1 = pBase + s.WeightOffset, b1 = pBase + s.BiasOffset;

        // Logits and the softmax gradient, one row per thread; rows past the model's own are padding (dL = 0).
        int modelRows = labels.RowsOf(m, s.Rows);
        for (int r = t; r < s.Rows; r += GroupSize)
        {
            long y = (rowBase + r) * s.Hidden, o = (rowBase + r) * s.Classes;
            if (r >= modelRows)
            {
                for (int c = 0; c < s.Classes; c++) logits[o + c] = 0f;
                loss[rowBase + r] = 0f;
                continue;
            }
            for (int c = 0; c < s.Classes; c++)
            {
                float sum = 0f;
                for (int h = 0; h < s.Hidden; h++) sum += hidden[y + h] * parameters[w1 + h * (long)s.Classes + c];
                logits[o + c] = ActivationKernels.BiasActivation(sum, parameters[b1 + c], relu: false);
            }
            int label = labels.Label(m, r);
            if (label >= 0) LossKernels.Row(logits, loss, o, rowBase + r, label, modelRows, s.Classes);
        }
        Group.Barrier();

        // dH = dL·W1ᵀ through the ReLU mask, with W1 before its update.
        for (int e = t; e < s.Rows * s.Hidden; e += GroupSize)
        {
            int r = e / s.Hidden, h = e % s.Hidden;
            long o = (rowBase + r) * s.Classes;
            float sum = 0f;
            for (int c = 0; c < s.Classes; c++) sum += logits[o + c] * parameters[w1 + h * (long)s.Classes + c];
            long at = (rowBase + r) * s.Hidden + h;
            dHidden[at] = hidden[at] > 0f ? sum : 0f;
        }
        Group.Barrier();

        // dW1 = Yᵀ·dL and db1 = Σ dL, straight into the SGD step.
        float learningRate = mask.LearningRate(m);
        for (int e = t; e < s.Hidden * s.Classes + s.Classes; e += GroupSize)
        {
            float gradient = 0f;
            long at;
            if (e < s.Hidden * s.Classes)
            {
                int h = e / s.Classes, c = e % s.Classes;
                for (int r = 0; r < s.Rows; r++) gradient += hidden[(rowBase + r) * s.Hidden + h] * logits[(rowBase + r) * s.Classes + c];
                at = w1 + e;
            }
            else
            {
                int c = e - s.Hidden * s.Classes;
                for (int r = 0; r < s.Rows; r++) gradient += logits[(rowBase + r) * s.Classes + c];
                at = b1 + c;
            }
            float w = parameters[at];
            float g = gradient + step.WeightDecay * w;
            float v = step.Momentum * velocity[at] + g;
            velocity[at] = v;
            parameters[at] = w - learningRate * v;
        }
    }
}

/// <summary>Where the fused tail finds a model's rows in the batch and their labels.</summary>
internal interface ITailLabels
{
    /// <summary>Model m's rows in a batch of at most <paramref name="rows"/>.</summary>
    int RowsOf(int m, int rows);

    /// <summary>Label of model m's batch row r, or −1 where a corrupt table would index out of bounds.</summary>
    int Label(int m, int r);
}

/// <summary>All rows: labels[perm[m, batchStart + r]], every model with the batch's rows.</summary>
internal struct PermutedLabels : ITailLabels
{
    public ArrayView<int> Labels, Perm;
    public TailShape Shape;

    public readonly int RowsOf(int m, int rows) => rows;

    public readonly int Label(int m, int r)
    {
        int j = Perm[m * (long)Shape.TrainCount + Shape.BatchStart + r];
        return (uint)j < (uint)Shape.TrainCount ? Labels[j] : -1;
    }
}

/// <summary>Per-model training views: model m's own rows in the batch, labels through its view table.</summary>
internal struct ViewLabels : ITailLabels
{
    public ArrayView<int> Labels;
    public ViewBatch View;

    public readonly int RowsOf(int m, int rows)
    {
        int left = View.RowsLeft(m);
        return left < rows ? left : rows;
    }

    public readonly int Label(int m, int r)
    {
        int t = View.TrainingRow(m, r, out _);
        return t < 0 ? -1 : Labels[t];
    }
}

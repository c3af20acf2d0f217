using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>Bias, ReLU and their backward passes over batched activations <c>(M, batchCapacity, width)</c>.</summary>
internal static class ActivationKernels
{
    /// <summary>Forward epilogue of a hidden or output layer: z + bias, then ReLU when <paramref name="relu"/>.</summary>
    public static float BiasActivation(float z, float bias, bool relu)
    {
        float v = z + bias;
        return relu && !(v > 0f) ? 0f : v;
    }

    /// <summary>
    /// Backward through ReLU, in place: dA[e] ← dA[e] if the layer's output A[e] &gt; 0, else 0.
    /// A ReLU output is positive exactly where its input was, so the stored output is the mask.
    /// </summary>
    public static void ReluBackwardKernel(Index1D e, ArrayView<float> dActivation, ArrayView<float> activation)
    {
        if (!(activation[e] > 0f)) dActivation[e] = 0f;
    }

    /// <summary>
    /// Bias gradient: db[m, j] = Σ_{r &lt; rows} dZ[m, r, j], written into the flat gradients <c>(M, P)</c> at
    /// <paramref name="gradOffset"/>. One thread per (model, column), e = m·width + j; dZ is <c>(M, batchCapacity, width)</c>.
    /// </summary>
    public static void BiasGradientKernel(Index1D e, ArrayView<float> gradients, long gradOffset, int parameterCount,
                                          ArrayView<float> dZ, int rows, int width, int batchCapacity)
    {
        int j = e % width, m = e / width;
        long o = (m * (long)batchCapacity) * width + j;
        float s = 0f;
        for (int r = 0; r < rows; r++) s += dZ[o + (long)r * width];
        gradients[m * (long)parameterCount + gradOffset + j] = s;
    }
}

using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>The optimizer step over the flat parameter buffer <c>(M, P)</c>.</summary>
internal static class OptimizerKernels
{
    /// <summary>
    /// SGD with momentum and weight decay, PyTorch semantics, one element per thread:
    /// g ← ∇ + λw; v ← μv + g; w ← w − ηv. Velocity starts at 0, so the first step uses v = g as PyTorch does.
    /// </summary>
    public static void SgdMomentumKernel(Index1D e, ArrayView<float> parameters, ArrayView<float> velocity,
                                         ArrayView<float> gradients, float learningRate, float momentum, float weightDecay)
    {
        float w = parameters[e];
        float g = gradients[e] + weightDecay * w;
        float v = momentum * velocity[e] + g;
        velocity[e] = v;
        parameters[e] = w - learningRate * v;
    }
}

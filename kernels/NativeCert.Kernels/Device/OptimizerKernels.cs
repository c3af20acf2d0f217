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

    /// <summary>
    /// The SGD step of one parameter range of every model the mask lets step: element i of range [offset, offset + count)
    /// of model m, e = m·count + i, at m·P + offset + i; the arithmetic of <see cref="SgdMomentumKernel"/>. The trainer
    /// runs it over the layers no fused kernel updated (convolutions; every layer when fusion is off), so a
    /// model whose epoch has fewer batches (a short training view) keeps its weights and velocity on the steps it does not take.
    /// </summary>
    public static void SgdMomentumRangeKernel(Index1D e, ArrayView<float> parameters, ArrayView<float> velocity, ArrayView<float> gradients,
                                              int offset, int count, int parameterCount, SgdStep step, StepMask mask)
    {
        int m = e / count;
        if (!mask.Takes(m)) return;
        long at = m * (long)parameterCount + offset + e % count;
        float w = parameters[at];
        float g = gradients[at] + step.WeightDecay * w;
        float v = step.Momentum * velocity[at] + g;
        velocity[at] = v;
        parameters[at] = w - mask.LearningRate(m) * v;
    }
}

using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>Inference votes: argmax of each model's logits, accumulated into <c>(T, C)</c> counts.</summary>
internal static class VoteKernels
{
    /// <summary>
    /// Model m votes argmax_c logits[m, t, c] (lowest index on ties) for input inputStart + t:
    /// votes[inputStart + t, c] += 1, atomically since every model writes the same rows. One thread per
    /// (model, input row), e = m·rows + t.
    /// </summary>
    public static void ArgmaxVoteKernel(Index1D e, ArrayView<uint> votes, ArrayView<float> logits,
                                        int inputStart, int rows, int classes, int batchCapacity)
    {
        int t = e % rows, m = e / rows;
        long o = (m * (long)batchCapacity + t) * classes;
        int best = 0;
        float bestValue = logits[o];
        for (int c = 1; c < classes; c++)
        {
            float v = logits[o + c];
            if (v > bestValue) { bestValue = v; best = c; }
        }
        long slot = (inputStart + (long)t) * classes + best;
        if (slot < votes.Length) Atomic.Add(ref votes[slot], 1u);
    }
}

using NativeCert.Data;
using NativeCert.Noise;

namespace NativeCert.Engine.Reference;

/// <summary>
/// Scalar reference of every random draw in docs/engine.md, one element at a time through
/// <see cref="BoxMuller.Gaussian"/> and <see cref="NoiseKey.Block"/>: the oracle the vectorized noise is
/// tested against.
/// </summary>
internal static class ReferenceNoise
{
    /// <summary>z[i] = standard normal number i of row <paramref name="row"/> of a stream.</summary>
    public static void Gaussians(Span<float> z, ulong seed, NoiseStream stream, uint model, uint row)
    {
        for (int i = 0; i < z.Length; i++) z[i] = BoxMuller.Gaussian(seed, stream, model, row, (uint)i);
    }

    /// <summary>noisy[f] = x[f] + σ·z(stream, model, row, f), in float32; σ in input units.</summary>
    public static void NoisyRow(Span<float> noisy, ReadOnlySpan<float> x, float sigma, ulong seed, NoiseStream stream, uint model, uint row)
    {
        for (int f = 0; f < x.Length; f++)
            noisy[f] = x[f] + sigma * BoxMuller.Gaussian(seed, stream, model, row, (uint)f);
    }

    /// <summary>Model m's noisy copy of the whole training set <c>(n, D)</c>: drawn once, used in every epoch.</summary>
    public static float[] NoisyTrainingCopy(Dataset train, float sigma, ulong seed, uint model)
    {
        var noisy = new float[train.Features.Length];
        for (int j = 0; j < train.Count; j++)
            NoisyRow(noisy.AsSpan(j * train.Dimension, train.Dimension), train.Row(j), sigma, seed, NoiseStream.TrainingNoise, model, (uint)j);
        return noisy;
    }

    /// <summary>
    /// He-normal init: W_l[k, o] = z(WeightInit, m, 0, p)·√(2 / in_l) with p the flat parameter index; biases 0.
    /// </summary>
    public static void HeInit(Span<float> parameters, ParameterLayout layout, ulong seed, uint model)
    {
        parameters.Clear();
        for (int l = 0; l < layout.Layers; l++)
        {
            float scale = MathF.Sqrt(2f / layout.In(l));
            int start = layout.WeightOffset(l), end = start + layout.In(l) * layout.Out(l);
            for (int p = start; p < end; p++)
                parameters[p] = BoxMuller.Gaussian(seed, NoiseStream.WeightInit, model, 0, (uint)p) * scale;
        }
    }

    /// <summary>
    /// Epoch e's permutation π_e of the n training rows: Fisher–Yates from the identity, for i = n−1 … 1,
    /// j = (x·(i+1)) &gt;&gt; 32 with x = lane i%4 of Philox(i/4, e, m, Shuffle); swap π[i], π[j].
    /// </summary>
    public static void ShufflePermutation(Span<int> permutation, ulong seed, uint model, uint epoch)
    {
        for (int i = 0; i < permutation.Length; i++) permutation[i] = i;
        for (int i = permutation.Length - 1; i >= 1; i--)
        {
            var (x0, x1, x2, x3) = NoiseKey.Block(seed, NoiseStream.Shuffle, model, epoch, (uint)(i >> 2));
            uint x = (i & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 };
            int j = (int)(((ulong)x * (ulong)(i + 1)) >> 32);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
    }
}

using NativeCert.Noise;

namespace NativeCert.Defenses;

/// <summary>
/// Bag m of the bagging defense: k indices drawn independently and exactly uniformly from [0, n) with the
/// <see cref="NoiseStream.Bagging"/> stream. Draw number i uses lane i % 4 of Philox(i/4, 0, m, Bagging); an index is
/// ⌊x·n / 2³²⌋ with Lemire's rejection of the 2³² mod n lowest products, so every index has probability exactly 1/n
/// (the bagging certificate assumes uniform draws).
/// </summary>
internal static class BagSampler
{
    /// <summary>Fills <paramref name="indices"/> with bag <paramref name="model"/>'s draws from [0, <paramref name="n"/>).</summary>
    public static void Draw(Span<int> indices, int n, ulong seed, uint model)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        uint bound = (uint)n;
        uint threshold = (uint)(-bound) % bound; // 2³² mod n: products whose low word is below it are rejected
        uint draw = 0;
        for (int j = 0; j < indices.Length; j++)
        {
            while (true)
            {
                uint x = Word(seed, model, draw++);
                ulong product = (ulong)x * bound;
                if ((uint)product >= threshold)
                {
                    indices[j] = (int)(product >> 32);
                    break;
                }
            }
        }
    }

    private static uint Word(ulong seed, uint model, uint draw)
    {
        var (x0, x1, x2, x3) = NoiseKey.Block(seed, NoiseStream.Bagging, model, 0, draw >> 2);
        return (draw & 3) switch { 0 => x0, 1 => x1, 2 => x2, _ => x3 };
    }
}

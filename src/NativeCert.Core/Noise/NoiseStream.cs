using System.Runtime.CompilerServices;

namespace NativeCert.Noise;

/// <summary>
/// The independent random streams of a run. Each is a Philox counter word, so two streams never share
/// a counter and therefore never share a random number.
/// </summary>
internal enum NoiseStream : uint
{
    /// <summary>Gaussian noise on training features: counter (feature/4, example, model, 0).</summary>
    TrainingNoise = 0,
    /// <summary>Gaussian noise on test inputs, one draw per (model, input): counter (feature/4, input, model, 1).</summary>
    TestNoise = 1,
    /// <summary>He-normal weight init: counter (parameter/4, 0, model, 2).</summary>
    WeightInit = 2,
    /// <summary>Per-epoch Fisher–Yates shuffle: counter (position/4, epoch, model, 3).</summary>
    Shuffle = 3,
    /// <summary>Bagging defense: the rows of model m's bag, counter (draw/4, 0, model, 4) (see NativeCert.Defenses.BagSampler).</summary>
    Bagging = 4,
}

/// <summary>
/// The noise contract shared by every backend (docs/engine.md): key = (seed low word, seed high word);
/// counter = (index/4, row, model, stream); lane = index % 4. Gaussians come from Box–Muller on pairs of
/// lanes, (0,1) and (2,3).
/// </summary>
internal static class NoiseKey
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint K0, uint K1) FromSeed(ulong seed) => ((uint)seed, (uint)(seed >> 32));

    /// <summary>The four raw 32-bit words of block <paramref name="block"/> (= index/4) of a stream row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Block(ulong seed, NoiseStream stream, uint model, uint row, uint block)
    {
        var (k0, k1) = FromSeed(seed);
        return Philox4x32.Generate(block, row, model, (uint)stream, k0, k1);
    }
}

/// <summary>
/// Box–Muller, exactly as every backend computes it, in float32:
/// u1 = ((float)x0 + 1)·2⁻³² ∈ (0, 1] (the uint → float conversion rounds to nearest even, then the +1 rounds
/// once more; both are exact for x0 &lt; 2²⁴, the tail region), u2 = (x1 &gt;&gt; 8)·2⁻²⁴ ∈ [0, 1),
/// r = √(−2 ln u1), z0 = r cos(2π u2), z1 = r sin(2π u2).
/// The only departure from an exact Gaussian beyond float rounding is the tail cut at |z| ≤ √(64 ln 2) ≈ 6.66
/// (probability 2⁻³² ≈ 2.3e-10 per pair), documented in docs/engine.md. x0 = 2³²−1 rounds to u1 = 1, r = 0.
/// </summary>
internal static class BoxMuller
{
    public const float TwoPi = 6.2831853071795864769f;
    /// <summary>2⁻²⁴, the step of u2.</summary>
    public const float Inv24 = 1.0f / 16777216.0f;
    /// <summary>2⁻³², the step of u1.</summary>
    public const float Inv32 = 1.0f / 4294967296.0f;

    /// <summary>u1 ∈ (0, 1] from the first word of a lane pair: ((float)x0 + 1)·2⁻³², rounded to nearest at the conversion and the add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Uniform1(uint x0) => ((float)x0 + 1.0f) * Inv32;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Z0, float Z1) Transform(uint x0, uint x1)
    {
        float u1 = Uniform1(x0);
        float u2 = (x1 >> 8) * Inv24;
        float r = MathF.Sqrt(-2.0f * MathF.Log(u1));
        float theta = TwoPi * u2;
        return (r * MathF.Cos(theta), r * MathF.Sin(theta));
    }

    /// <summary>Scalar reference: standard normal number <paramref name="index"/> of a stream row.</summary>
    public static float Gaussian(ulong seed, NoiseStream stream, uint model, uint row, uint index)
    {
        var (x0, x1, x2, x3) = NoiseKey.Block(seed, stream, model, row, index >> 2);
        var (a, b) = (index & 2) == 0 ? Transform(x0, x1) : Transform(x2, x3);
        return (index & 1) == 0 ? a : b;
    }
}

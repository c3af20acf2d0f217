using System.Runtime.CompilerServices;

namespace NativeCert.Noise;

/// <summary>
/// a·b + c rounded once. The one body of the noise transform (<see cref="PolynomialBoxMuller"/>) is generic over
/// this so that every engine compiles the same code with its own FMA: <see cref="DotNetFma"/> on the CPU (and on
/// ILGPU's CPU accelerator, which runs kernels as .NET code), inline PTX <c>fma.rn.f32</c> in the CUDA kernels
/// (ILGPU 1.5.3 lowers <see cref="MathF.FusedMultiplyAdd"/> to an unresolved external call). Implementations are
/// structs, so <c>default(TFma).Fma</c> is a direct, inlined call in both the JIT and ILGPU.
/// </summary>
internal interface IFusedMultiplyAdd
{
    float Fma(float a, float b, float c);
}

/// <summary>.NET's <see cref="MathF.FusedMultiplyAdd"/> (vfmadd on x86): the CPU engine's FMA.</summary>
internal readonly struct DotNetFma : IFusedMultiplyAdd
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);
}

/// <summary>The four 32-bit words of one Philox4x32-10 block (a struct, not a tuple, so that ILGPU compiles it).</summary>
internal struct PhiloxBlock
{
    public uint X0, X1, X2, X3;
}

/// <summary>
/// Box–Muller of one lane pair as every engine computes it (docs/engine.md), written once: the CPU engine's scalar
/// branch runs it with <see cref="DotNetFma"/>, the ILGPU noise kernels compile this same IL for the CPU accelerator
/// and for CUDA, so their bit-identity holds by construction; the AVX-512 and AVX2 branches of
/// <c>CpuNoise</c> are lane-parallel transcriptions of it, tested bit-identical. ln, sin and cos are Cephes
/// polynomials built only from correctly rounded operations (+, ×, FMA, √, int↔float):
/// u1 = ((float)x0 + 1)·2⁻³² with the conversion rounded to nearest (<see cref="BoxMuller.Uniform1"/>); the angle
/// is reduced exactly in integers, k = x1 &gt;&gt; 8, q = round(k/2²²), θ = q·π/2 + 2π(k − q·2²²)/2²⁴. Within float
/// rounding (a few 1e-7) of the MathF reference <see cref="BoxMuller.Transform"/>.
/// No multiply here feeds an add (only FMAs, whose rounding is explicit), so a compiler that contracts a·b + c
/// (ptxas does by default) cannot change the result.
/// </summary>
internal static class PolynomialBoxMuller
{
    private const float Sqrth = 0.707106781186547524f;
    /// <summary>2π·2⁻²⁴, exact: the angle of one step of k.</summary>
    public const float AngleScale = BoxMuller.TwoPi * (1.0f / 16777216.0f);

    /// <summary>(z0, z1) = r·(cos θ, sin θ) of the word pair (xa, xb).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transform<TFma>(uint xa, uint xb, out float z0, out float z1) where TFma : struct, IFusedMultiplyAdd
    {
        // ((float)xa + 1)·2⁻³²: C#'s (float)uint is conv.r.un + conv.r4; ILGPU lowers it to cvt.rn.f64.u32 (exact)
        // + cvt.rn.f32.f64, one rounding to nearest, as the CPU cast.
        float u1 = ((float)xa + 1f) * BoxMuller.Inv32;
        float radius = MathF.Sqrt(-2f * Log<TFma>(u1));
        int k = (int)(xb >> 8);
        int q = (k + (1 << 21)) >> 22;
        float x = (k - (q << 22)) * AngleScale;
        float z = x * x;
        float sinx = default(TFma).Fma(default(TFma).Fma(default(TFma).Fma(-1.9515295891E-4f, z, 8.3321608736E-3f), z, -1.6666654611E-1f) * z, x, x);
        float cosx = default(TFma).Fma(default(TFma).Fma(default(TFma).Fma(2.443315711809948E-5f, z, -1.388731625493765E-3f), z, 4.166664568298827E-2f) * z, z, default(TFma).Fma(-0.5f, z, 1f));
        bool swap = (q & 1) != 0;
        float c = swap ? sinx : cosx, s = swap ? cosx : sinx;
        if (((q + 1) & 2) != 0) c = -c;
        if ((q & 2) != 0) s = -s;
        z0 = radius * c;
        z1 = radius * s;
    }

    /// <summary>ln u for u ∈ [2⁻³², 1] (any normal float), Cephes logf.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log<TFma>(float u) where TFma : struct, IFusedMultiplyAdd
    {
        int bits = BitConverter.SingleToInt32Bits(u);
        int e = (bits >> 23) - 126;
        float m = BitConverter.Int32BitsToSingle((bits & 0x007FFFFF) | 0x3F000000); // [0.5, 1)
        bool small = m < Sqrth;
        if (small) e -= 1;
        float x = small ? (m + m) - 1f : m - 1f;
        float z = x * x;
        float p = 7.0376836292E-2f;
        p = default(TFma).Fma(p, x, -1.1514610310E-1f);
        p = default(TFma).Fma(p, x, 1.1676998740E-1f);
        p = default(TFma).Fma(p, x, -1.2420140846E-1f);
        p = default(TFma).Fma(p, x, 1.4249322787E-1f);
        p = default(TFma).Fma(p, x, -1.6668057665E-1f);
        p = default(TFma).Fma(p, x, 2.0000714765E-1f);
        p = default(TFma).Fma(p, x, -2.4999993993E-1f);
        p = default(TFma).Fma(p, x, 3.3333331174E-1f);
        float y = p * x * z;
        float fe = e;
        y = default(TFma).Fma(fe, -2.12194440e-4f, y);
        y = default(TFma).Fma(-0.5f, z, y);
        float r = x + y;
        return default(TFma).Fma(fe, 0.693359375f, r);
    }
}

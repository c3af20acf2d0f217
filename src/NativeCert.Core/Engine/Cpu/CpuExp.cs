using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// e^x in float, our own, for the softmax of training: the algorithm of glibc's <c>expf</c> (2.27 and later, from
/// ARM's optimized-routines): z = x·32/ln 2 in double, rounded to an integer k by adding and subtracting 1.5·2⁵²,
/// r = z − k, e^x = 2^(k/32)·(1 + C₂r + C₁r² + C₀r³) with 2^(k/32) from a 32-entry table and the exponent bits of
/// k, then one rounding to float. Every multiply–add is one FMA, as glibc's x86-64 FMA build contracts them
/// (kd = fma(c, x, shift), r = fma(c, x, −kd), the polynomial by three FMAs), so on glibc x86-64 with FMA this is
/// bit-identical to <see cref="MathF.Exp"/> for every one of the 2³² floats (checked exhaustively; `CpuExpTests`
/// checks a sample and pinned values). Owning it keeps training off the platform's libm: the same bits on every OS
/// and CPU, and vector forms (eight lanes in 512-bit doubles, four in 256-bit) that the softmax runs. Only correctly
/// rounded operations (+, ×, FMA, conversions, integer ops), in the same order on every level.
/// </summary>
internal static unsafe class CpuExp
{
    /// <summary>tab[i] = bits(2^(i/32)) − i·2⁴⁷ (the exponent of 2^(k/32) is added from k's own bits).</summary>
    private static readonly ulong[] Table =
    [
        0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b, 0x3fef54873168b9aa,
        0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
        0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74,
        0x3feea11473eb0187, 0x3feea589994cce13, 0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
        0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
        0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
    ];

    // 32/ln 2, 1.5·2⁵², and the cubic's coefficients scaled by 32⁻³, 32⁻², 32⁻¹ (as bit patterns: C# has no hex floats).
    private static readonly double InvLn2N = BitConverter.UInt64BitsToDouble(0x40471547652b82fe);
    private static readonly double Shift = BitConverter.UInt64BitsToDouble(0x4338000000000000);
    private static readonly double C0 = BitConverter.UInt64BitsToDouble(0x3ebc6af84b912394);
    private static readonly double C1 = BitConverter.UInt64BitsToDouble(0x3f2ebfce50fac4f3);
    private static readonly double C2 = BitConverter.UInt64BitsToDouble(0x3f962e42ff0c52d6);

    /// <summary>Above this e^x overflows (+∞); below the other bound it is under half the least subnormal (+0).</summary>
    private static readonly float Overflow = BitConverter.UInt32BitsToSingle(0x42b17217), Underflow = BitConverter.UInt32BitsToSingle(0xc2cff1b4);

    /// <summary>e^x (the scalar body every vector lane transcribes).</summary>
    public static float Exp(float x)
    {
        if (float.IsNaN(x)) return x + x;
        if (x > Overflow) return float.PositiveInfinity;
        if (x < Underflow) return 0f;
        double xd = x, kd = Math.FusedMultiplyAdd(InvLn2N, xd, Shift);
        ulong ki = BitConverter.DoubleToUInt64Bits(kd);
        kd -= Shift;
        double r = Math.FusedMultiplyAdd(InvLn2N, xd, -kd);
        double s = BitConverter.UInt64BitsToDouble(Table[(int)(ki % 32)] + (ki << 47));
        double y = Math.FusedMultiplyAdd(Math.FusedMultiplyAdd(C0, r, C1), r * r, Math.FusedMultiplyAdd(C2, r, 1.0));
        return (float)(y * s);
    }

    /// <summary>values[i] = e^values[i] for all i, bit-identical to <see cref="Exp"/> on every level.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ExpInPlace(Span<float> values, IsaLevel isa)
    {
        int n = values.Length, i = 0;
        fixed (float* v = values)
        fixed (ulong* table = Table)
        {
            if (isa >= IsaLevel.Avx512 && Avx512F.IsSupported)
            {
                Vector512<ulong> t0 = Vector512.Load(table), t1 = Vector512.Load(table + 8), t2 = Vector512.Load(table + 16), t3 = Vector512.Load(table + 24);
                for (; i + 8 <= n; i += 8) Exp8(Vector256.Load(v + i), t0, t1, t2, t3).Store(v + i);
            }
            else if (isa >= IsaLevel.Avx2 && Avx2.IsSupported && Fma.IsSupported)
                for (; i + 4 <= n; i += 4) Exp4(Vector128.Load(v + i), table).Store(v + i);
            for (; i < n; i++) v[i] = Exp(v[i]);
        }
    }

    /// <summary>Eight lanes of <see cref="Exp"/> in 512-bit doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Exp8(Vector256<float> x, Vector512<ulong> t0, Vector512<ulong> t1, Vector512<ulong> t2, Vector512<ulong> t3)
    {
        var xd = Avx512F.ConvertToVector512Double(x);
        var c = Vector512.Create(InvLn2N);
        var shift = Vector512.Create(Shift);
        var kd = Avx512F.FusedMultiplyAdd(c, xd, shift);
        var ki = kd.AsUInt64();
        kd -= shift;
        var r = Avx512F.FusedMultiplyAdd(c, xd, -kd);
        // The table in four registers: entries 0–15 and 16–31 by two two-source permutes (they read index bits 0–3),
        // then bit 4 picks one of the two.
        var lo = Avx512F.PermuteVar8x64x2(t0, ki, t1);
        var hi = Avx512F.PermuteVar8x64x2(t2, ki, t3);
        var t = Vector512.ConditionalSelect(Vector512.Equals(ki & Vector512.Create(16ul), Vector512<ulong>.Zero), lo, hi);
        var s = (t + (ki << 47)).AsDouble();
        var y = Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Vector512.Create(C0), r, Vector512.Create(C1)), r * r,
            Avx512F.FusedMultiplyAdd(Vector512.Create(C2), r, Vector512<double>.One));
        var e = Avx512F.ConvertToVector256Single(y * s);
        return Special(x, e);
    }

    /// <summary>Four lanes of <see cref="Exp"/> in 256-bit doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Exp4(Vector128<float> x, ulong* table)
    {
        var xd = Avx.ConvertToVector256Double(x);
        var c = Vector256.Create(InvLn2N);
        var shift = Vector256.Create(Shift);
        var kd = Fma.MultiplyAdd(c, xd, shift);
        var ki = kd.AsUInt64();
        kd -= shift;
        var r = Fma.MultiplyAdd(c, xd, -kd);
        var t = Avx2.GatherVector256((long*)table, (ki & Vector256.Create(31ul)).AsInt64(), 8).AsUInt64();
        var s = (t + (ki << 47)).AsDouble();
        var y = Fma.MultiplyAdd(Fma.MultiplyAdd(Vector256.Create(C0), r, Vector256.Create(C1)), r * r,
            Fma.MultiplyAdd(Vector256.Create(C2), r, Vector256<double>.One));
        var e = Avx.ConvertToVector128Single(y * s);
        var nan = Vector128.IsNaN(x);
        e = Vector128.ConditionalSelect(Vector128.GreaterThan(x, Vector128.Create(Overflow)), Vector128.Create(float.PositiveInfinity), e);
        e = Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128.Create(Underflow)), Vector128<float>.Zero, e);
        return Vector128.ConditionalSelect(nan, x + x, e);
    }

    /// <summary>The scalar body's three early returns, lane by lane (the lanes' main-path values there are discarded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Special(Vector256<float> x, Vector256<float> e)
    {
        e = Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(Overflow)), Vector256.Create(float.PositiveInfinity), e);
        e = Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256.Create(Underflow)), Vector256<float>.Zero, e);
        return Vector256.ConditionalSelect(Vector256.IsNaN(x), x + x, e);
    }
}

using System.Runtime.CompilerServices;

namespace NativeCert.Noise;

/// <summary>
/// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11): a counter-based generator. Output depends only on
/// (key, counter), so any element of any noise stream can be computed independently, in any order, on any
/// thread or device. Checked against the Random123 known-answer vectors in the tests.
/// </summary>
internal static class Philox4x32
{
    public const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57;
    public const uint W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>
    /// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1). The one body of the generator: the CPU
    /// engine's scalar paths and the ILGPU kernels compile this same method (its AVX branches are lane-parallel
    /// transcriptions, tested bit-exact).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PhiloxBlock Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += W0; k1 += W1;
        }
        PhiloxBlock block;
        block.X0 = c0; block.X1 = c1; block.X2 = c2; block.X3 = c3;
        return block;
    }

    /// <summary><see cref="Block"/> as a tuple.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint X0, uint X1, uint X2, uint X3) Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        var b = Block(c0, c1, c2, c3, k0, k1);
        return (b.X0, b.X1, b.X2, b.X3);
    }
}

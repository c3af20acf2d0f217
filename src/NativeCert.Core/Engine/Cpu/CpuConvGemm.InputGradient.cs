using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>The AVX-512 fused input gradient (see CpuConvGemm.cs).</summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// dinput = col2im(Wᵀ · dY) for B images of 8×8 outputs, K = 5, no padding (H = W = 12): for each image, column
    /// rows (ci, ky, kx) ascending, five (one (ci, ky)) at a time, each row's 64 column gradients (FMA chains over co
    /// from 0) are added into the image's input gradient, summed in a packed block (channels of 144 floats, cleared per
    /// image) and copied out. <paramref name="doutput"/> is <c>(CO, N)</c> with the batch's images at column b·64,
    /// <paramref name="weight"/> is <c>(CO, CI·25)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient8x8(float* dinput, ImageStrides s, float* doutput, int N, float* weight, int B, int CI, int CO)
    {
        int CKK = CI * 25;
        // The weights packed per (ci, ky) as (CO, 5), so a tile reads them through one advancing pointer.
        float* wPacked = AlignedScratch(ref t_weightDx, CKK * CO);
        for (int r = 0; r < CI * 5; r++)
            for (int co = 0; co < CO; co++)
                for (int kx = 0; kx < 5; kx++) wPacked[((nint)r * CO + co) * 5 + kx] = weight[(nint)co * CKK + r * 5 + kx];
        // The image's dY (CO rows of 64) and its dX are packed contiguously: in place their planes are N and B·144
        // floats apart (multiples of 4 KiB for LeNet's batch), so they would all fall in the same few L1 sets.
        float* dy = AlignedScratch(ref t_dyImage, CO * 64);
        float* block = AlignedScratch(ref t_dxBlock, CI * 144);
        int lines = CO * 4, tiles = CI * 5, perTile = (lines + tiles - 1) / tiles;
        for (int b = 0; b < B; b++)
        {
            CopyRows(dy, 64, doutput + (nint)b * 64, N, CO, 64);
            new Span<float>(block, CI * 144).Clear();
            int line = 0;
            for (int ci = 0; ci < CI; ci++)
                for (int ky = 0; ky < 5; ky++)
                {
                    // The next image's dY is CO runs of 4 lines, planes a multiple of 4 KiB apart (no hardware
                    // prefetcher follows that many): fetch a share of them under each tile.
                    if (b + 1 < B)
                        for (int l = 0; l < perTile && line < lines; l++, line++)
                            Sse.Prefetch0(doutput + (nint)(line >> 2) * N + (nint)(b + 1) * 64 + (line & 3) * 16);
                    InputGradientRows5(block + ci * 144 + ky * 12, wPacked + (nint)(ci * 5 + ky) * CO * 5, dy, CO, s_col2imIndex, s_col2imMask);
                }
            CopyRows(dinput + (nint)b * s.Example, s.Channel, block, 144, CI, 144);
        }
    }

    [ThreadStatic] private static float[]? t_weightDx;

    /// <summary>
    /// Lane tables of <see cref="InputGradientRows5"/>: for the three kinds of 16-float piece of an 8-row, 12-wide dX block
    /// (m = 0, 1, 2; pieces 3, 4, 5 repeat them two rows down) and kx = 0 … 4, which accumulator lane lands in each dX lane
    /// (16 + lane: the second source), and (mask) which dX lanes kx reaches at all.
    /// </summary>
    private static readonly int* s_col2imIndex = Col2ImTables(out s_col2imMask);

    private static readonly float* s_col2imMask;

    private static int* Col2ImTables(out float* mask)
    {
        var index = (int*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(15 * 16 * sizeof(int), 64);
        mask = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(5 * 16 * sizeof(float), 64);
        for (int m = 0; m < 3; m++)
        {
            int jA = m == 2 ? 1 : 0; // the accumulator (2 output rows) holding the piece's first row
            for (int kx = 0; kx < 5; kx++)
                for (int lane = 0; lane < 16; lane++)
                {
                    int f = 16 * m + lane, oy = f / 12, ox = f % 12 - kx;
                    bool reached = ox >= 0 && ox < 8;
                    // Unreached lanes read the zero vector (pieces 0 and 2) or are masked (piece 1, whose two sources are both rows).
                    index[(m * 5 + kx) * 16 + lane] = reached ? (oy / 2 == jA ? 0 : 16) + (oy % 2) * 8 + ox : 16;
                    if (m == 1) mask[kx * 16 + lane] = reached ? BitConverter.Int32BitsToSingle(-1) : 0f;
                }
        }
        return index;
    }

    /// <summary>
    /// The 5 column rows (ci, ky, kx = 0 … 4) of one image's Wᵀ·dY (64 columns each, FMA chains over co from 0), added
    /// into the 8 input-gradient rows they reach, <paramref name="dx"/> = dX(ci, ky, 0): these rows are 96 contiguous
    /// floats (W = 12), so the adds are six whole vectors, each receiving its kx = 0 … 4 terms in order (a lane a kx
    /// does not reach adds +0, which leaves dX's bits as they are: dX starts at +0 and never holds −0). The same sums
    /// in the same order as the general path's col2im, with no store-to-load overlap between neighbouring rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientRows5(float* dx, float* w, float* dy, int CO, int* index, float* mask)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z, s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z, s40 = z, s41 = z, s42 = z, s43 = z;
        // w is this (ci, ky)'s packed weights, (CO, 5): one advancing pointer.
        for (float* end = w + CO * 5; w < end; w += 5, dy += 64)
        {
            Vector512<float> d0 = Vector512.Load(dy), d1 = Vector512.Load(dy + 16), d2 = Vector512.Load(dy + 32), d3 = Vector512.Load(dy + 48);
            var x0 = Vector512.Create(w[0]);
            s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
            var x1 = Vector512.Create(w[1]);
            s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
            var x2 = Vector512.Create(w[2]);
            s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
            var x3 = Vector512.Create(w[3]);
            s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
            var x4 = Vector512.Create(w[4]);
            s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
        }
        Vector512<float> Piece(Vector512<float> a, int m, int kx, Vector512<float> b) =>
            Avx512F.PermuteVar16x32x2(a, Vector512.Load(index + (m * 5 + kx) * 16), b);
        (Vector512.Load(dx + 0) + Piece(s00, 0, 0, z) + Piece(s10, 0, 1, z) + Piece(s20, 0, 2, z) + Piece(s30, 0, 3, z) + Piece(s40, 0, 4, z)).Store(dx + 0);
        (Vector512.Load(dx + 16) + (Piece(s00, 1, 0, s01) & Vector512.Load(mask + 0)) + (Piece(s10, 1, 1, s11) & Vector512.Load(mask + 16)) + (Piece(s20, 1, 2, s21) & Vector512.Load(mask + 32)) + (Piece(s30, 1, 3, s31) & Vector512.Load(mask + 48)) + (Piece(s40, 1, 4, s41) & Vector512.Load(mask + 64))).Store(dx + 16);
        (Vector512.Load(dx + 32) + Piece(s01, 2, 0, z) + Piece(s11, 2, 1, z) + Piece(s21, 2, 2, z) + Piece(s31, 2, 3, z) + Piece(s41, 2, 4, z)).Store(dx + 32);
        (Vector512.Load(dx + 48) + Piece(s02, 0, 0, z) + Piece(s12, 0, 1, z) + Piece(s22, 0, 2, z) + Piece(s32, 0, 3, z) + Piece(s42, 0, 4, z)).Store(dx + 48);
        (Vector512.Load(dx + 64) + (Piece(s02, 1, 0, s03) & Vector512.Load(mask + 0)) + (Piece(s12, 1, 1, s13) & Vector512.Load(mask + 16)) + (Piece(s22, 1, 2, s23) & Vector512.Load(mask + 32)) + (Piece(s32, 1, 3, s33) & Vector512.Load(mask + 48)) + (Piece(s42, 1, 4, s43) & Vector512.Load(mask + 64))).Store(dx + 64);
        (Vector512.Load(dx + 80) + Piece(s03, 2, 0, z) + Piece(s13, 2, 1, z) + Piece(s23, 2, 2, z) + Piece(s33, 2, 3, z) + Piece(s43, 2, 4, z)).Store(dx + 80);
    }
}

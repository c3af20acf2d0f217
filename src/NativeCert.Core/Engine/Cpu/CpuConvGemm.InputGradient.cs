using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>The AVX-512 fused input gradient (see CpuConvGemm.cs).</summary>
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// dinput = col2im(Wᵀ · dY) for B images of 8×8 outputs, no padding: dinput is cleared, then for each image, column
    /// rows (ci, ky, kx) ascending, 4 at a time, each row's 64 column gradients (FMA chains over co from 0) are added into
    /// the image's input gradient. <paramref name="doutput"/> is <c>(CO, N)</c> with the batch's images at column
    /// b·64, <paramref name="weight"/> is <c>(CO, CI·K·K)</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void InputGradient8x8(float* dinput, ImageStrides s, float* doutput, int N, float* weight, int B, int CI, int H, int W, int CO, int K)
    {
        int CKK = CI * K * K;
        if (K != 5)
            for (int ci = 0; ci < CI; ci++)
                for (int b = 0; b < B; b++)
                    new Span<float>(dinput + (nint)ci * s.Channel + (nint)b * s.Example, H * W).Clear();
        // For K = 5 each image's dX is summed in a packed block (channels of 144 floats, cleared per image) and then
        // copied out whole: in place its channel planes are B·144 floats apart (a multiple of 4 KiB for LeNet), so the
        // 16 planes' rows fight over the same L1 sets on every read-modify-write.
        float* dxPacked = K == 5 ? AlignedScratch(ref t_dxPacked, CI * 144) : null;
        int* offsets = stackalloc int[CKK];
        ColumnOffsets(offsets, s, CI, W, K);
        // The image's dY (CO rows of 64) is packed contiguously first: in place its rows are N floats apart, a large
        // power of two for LeNet's batch, so they would all fall in the same few L1 sets and every tile would miss.
        float[] packed = t_packed is { } p && p.Length >= CO * 64 ? p : (t_packed = new float[CO * 64]);
        // For K = 5 the weights are packed per (ci, ky) as (CO, 5), so a tile reads them through one advancing pointer.
        float* wPacked = K == 5 ? AlignedScratch(ref t_weightDx, CKK * CO) : null;
        if (K == 5)
            for (int r = 0; r < CI * 5; r++)
                for (int co = 0; co < CO; co++)
                    for (int kx = 0; kx < 5; kx++) wPacked[((nint)r * CO + co) * 5 + kx] = weight[(nint)co * CKK + r * 5 + kx];
        fixed (float* dyPacked = packed)
            for (int b = 0; b < B; b++)
            {
                for (int co = 0; co < CO; co++)
                {
                    float* src = doutput + (nint)co * N + (nint)b * 64, dst = dyPacked + co * 64;
                    Vector512.Load(src).Store(dst); Vector512.Load(src + 16).Store(dst + 16);
                    Vector512.Load(src + 32).Store(dst + 32); Vector512.Load(src + 48).Store(dst + 48);
                }
                if (K == 5)
                {
                    new Span<float>(dxPacked, CI * 144).Clear();
                    int lines = CO * 4, tiles = CI * 5, perTile = (lines + tiles - 1) / tiles, line = 0;
                    for (int ci = 0; ci < CI; ci++)
                        for (int ky = 0; ky < 5; ky++)
                        {
                            // The next image's dY is CO runs of 4 lines, planes a multiple of 4 KiB apart (no hardware
                            // prefetcher follows that many): fetch a share of them under each tile.
                            if (b + 1 < B)
                                for (int l = 0; l < perTile && line < lines; l++, line++)
                                    Sse.Prefetch0(doutput + (nint)(line >> 2) * N + (nint)(b + 1) * 64 + (line & 3) * 16);
                            InputGradientRows5(dxPacked + ci * 144 + ky * 12, wPacked + (nint)(ci * 5 + ky) * CO * 5, dyPacked, CO, s_col2imIndex, s_col2imMask);
                        }
                    for (int ci = 0; ci < CI; ci++) Copy(dinput + (nint)b * s.Example + (nint)ci * s.Channel, dxPacked + ci * 144, 144);
                }
                else
                    for (int r = 0; r < CKK; r += 4)
                        InputGradientTile(dinput + (nint)b * s.Example, offsets + r, Math.Min(4, CKK - r), weight + r, CKK, dyPacked, 64, CO, W);
            }
    }

    [ThreadStatic] private static float[]? t_packed;
    [ThreadStatic] private static float[]? t_weightDx;
    [ThreadStatic] private static float[]? t_dxPacked;

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
    /// in the same order as <see cref="InputGradientTile"/>, with no store-to-load overlap between neighbouring rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientRows5(float* dx, float* w, float* dy, int CO, int* index, float* mask)
    {
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z, s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z, s40 = z, s41 = z, s42 = z, s43 = z;
        // w is this (ci, ky)'s packed weights, (CO, 5): co steps of 4 unrolled, then the rest.
        int co = 0;
        for (; co + 4 <= CO; co += 4, dy += 4 * 64, w += 4 * 5)
        {
            {
                float* g = dy + 0, wk = w + 0;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 64, wk = w + 5;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 128, wk = w + 10;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
            {
                float* g = dy + 192, wk = w + 15;
                Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
                var x0 = Vector512.Create(wk[0]);
                s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
                var x1 = Vector512.Create(wk[1]);
                s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
                var x2 = Vector512.Create(wk[2]);
                s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
                var x3 = Vector512.Create(wk[3]);
                s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
                var x4 = Vector512.Create(wk[4]);
                s40 = Vector512.FusedMultiplyAdd(x4, d0, s40); s41 = Vector512.FusedMultiplyAdd(x4, d1, s41); s42 = Vector512.FusedMultiplyAdd(x4, d2, s42); s43 = Vector512.FusedMultiplyAdd(x4, d3, s43);
            }
        }
        for (; co < CO; co++, dy += 64, w += 5)
        {
            float* g = dy, wk = w;
            Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
            var x0 = Vector512.Create(wk[0]);
            s00 = Vector512.FusedMultiplyAdd(x0, d0, s00); s01 = Vector512.FusedMultiplyAdd(x0, d1, s01); s02 = Vector512.FusedMultiplyAdd(x0, d2, s02); s03 = Vector512.FusedMultiplyAdd(x0, d3, s03);
            var x1 = Vector512.Create(wk[1]);
            s10 = Vector512.FusedMultiplyAdd(x1, d0, s10); s11 = Vector512.FusedMultiplyAdd(x1, d1, s11); s12 = Vector512.FusedMultiplyAdd(x1, d2, s12); s13 = Vector512.FusedMultiplyAdd(x1, d3, s13);
            var x2 = Vector512.Create(wk[2]);
            s20 = Vector512.FusedMultiplyAdd(x2, d0, s20); s21 = Vector512.FusedMultiplyAdd(x2, d1, s21); s22 = Vector512.FusedMultiplyAdd(x2, d2, s22); s23 = Vector512.FusedMultiplyAdd(x2, d3, s23);
            var x3 = Vector512.Create(wk[3]);
            s30 = Vector512.FusedMultiplyAdd(x3, d0, s30); s31 = Vector512.FusedMultiplyAdd(x3, d1, s31); s32 = Vector512.FusedMultiplyAdd(x3, d2, s32); s33 = Vector512.FusedMultiplyAdd(x3, d3, s33);
            var x4 = Vector512.Create(wk[4]);
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

    /// <summary>
    /// Up to 4 column rows × one image's 64 columns of Wᵀ·dY, added into dX row by row; rows past <paramref name="rows"/>
    /// alias the last row and are not added.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientTile(float* dx, int* offsets, int rows, float* w, int CKK, float* dy, int N, int CO, int W)
    {
        int last = rows - 1;
        float* w0 = w, w1 = w + Math.Min(1, last), w2 = w + Math.Min(2, last), w3 = w + Math.Min(3, last);
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z,
            s20 = z, s21 = z, s22 = z, s23 = z, s30 = z, s31 = z, s32 = z, s33 = z;
        for (int co = 0; co < CO; co++)
        {
            float* g = dy + (nint)co * N;
            nint wk = (nint)co * CKK;
            Vector512<float> d0 = Vector512.Load(g), d1 = Vector512.Load(g + 16), d2 = Vector512.Load(g + 32), d3 = Vector512.Load(g + 48);
            var x = Vector512.Create(w0[wk]);
            s00 = Vector512.FusedMultiplyAdd(x, d0, s00); s01 = Vector512.FusedMultiplyAdd(x, d1, s01);
            s02 = Vector512.FusedMultiplyAdd(x, d2, s02); s03 = Vector512.FusedMultiplyAdd(x, d3, s03);
            x = Vector512.Create(w1[wk]);
            s10 = Vector512.FusedMultiplyAdd(x, d0, s10); s11 = Vector512.FusedMultiplyAdd(x, d1, s11);
            s12 = Vector512.FusedMultiplyAdd(x, d2, s12); s13 = Vector512.FusedMultiplyAdd(x, d3, s13);
            x = Vector512.Create(w2[wk]);
            s20 = Vector512.FusedMultiplyAdd(x, d0, s20); s21 = Vector512.FusedMultiplyAdd(x, d1, s21);
            s22 = Vector512.FusedMultiplyAdd(x, d2, s22); s23 = Vector512.FusedMultiplyAdd(x, d3, s23);
            x = Vector512.Create(w3[wk]);
            s30 = Vector512.FusedMultiplyAdd(x, d0, s30); s31 = Vector512.FusedMultiplyAdd(x, d1, s31);
            s32 = Vector512.FusedMultiplyAdd(x, d2, s32); s33 = Vector512.FusedMultiplyAdd(x, d3, s33);
        }
        // Row by row, in (ci, ky, kx) order: vector j holds output rows 2j and 2j + 1 (8 columns each).
        AddRow(dx + offsets[0], W, s00, s01, s02, s03);
        if (rows > 1) AddRow(dx + offsets[1], W, s10, s11, s12, s13);
        if (rows > 2) AddRow(dx + offsets[2], W, s20, s21, s22, s23);
        if (rows > 3) AddRow(dx + offsets[3], W, s30, s31, s32, s33);
    }

    /// <summary>dX rows 0 … 7 at <paramref name="d"/> (row stride <paramref name="W"/>) += the 8 × 8 column gradients in v0 … v3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow(float* d, int W, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        nint w = W;
        (Vector256.Load(d) + v0.GetLower()).Store(d);
        (Vector256.Load(d + w) + v0.GetUpper()).Store(d + w);
        (Vector256.Load(d + 2 * w) + v1.GetLower()).Store(d + 2 * w);
        (Vector256.Load(d + 3 * w) + v1.GetUpper()).Store(d + 3 * w);
        (Vector256.Load(d + 4 * w) + v2.GetLower()).Store(d + 4 * w);
        (Vector256.Load(d + 5 * w) + v2.GetUpper()).Store(d + 5 * w);
        (Vector256.Load(d + 6 * w) + v3.GetLower()).Store(d + 6 * w);
        (Vector256.Load(d + 7 * w) + v3.GetUpper()).Store(d + 7 * w);
    }
}

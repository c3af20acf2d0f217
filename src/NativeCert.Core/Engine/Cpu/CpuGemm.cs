using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// One register-blocked SGEMM that serves every matmul of the MLP:
/// C(M,N) = A(M,K)·Bm(K,N) (+ bias(N)) (then ReLU), where A's element (i,k) is at a[i·aRow + k·aK] (so A can be
/// X or Xᵀ without a copy), Bm and C are row-major with leading dimensions ldb and ldc.
/// Micro-kernels sized to each level's register file: AVX-512 6 rows × 4 ZMM (24 accumulators + 4 Bm + 1
/// broadcast of AVX-512's 32 registers; 24 FMAs per 10 loads), AVX2 6 rows × 2 YMM (12 + 2 + 1 = 15 of AVX2's 16;
/// the 4 × 4 shape spilled accumulators to the stack on a VEX-only CPU). Both read A through one pointer stepped
/// along K plus per-row offsets kept in registers, so a k step costs one pointer add whatever A's layout (one
/// pointer per row cost an add per row, and the loop then issued close to the core's 4–6 µops per cycle: on a
/// shared Xeon the 4-row AVX-512 and 6-pointer AVX2 kernels lost 5–15% to it). Both cut K into chunks of 256 (see
/// <see cref="KChunk512"/> and <see cref="KChunk256"/>); the column tail uses masked loads/stores, the row tail aliases
/// the last row.
/// Every element is one FMA chain in k order from the bias (chunks store and reload exact floats), in every branch,
/// so results are bit-identical across ISA levels, chunk sizes and threads.
/// </summary>
[SkipLocalsInit]
internal static unsafe class CpuGemm
{
    public static void Gemm(float* c, int ldc, float* a, int aRow, int aK, float* bm, int ldb, float* bias, bool relu,
        int M, int N, int K, IsaLevel isa)
    {
        if (M <= 0 || N <= 0) return;
        switch (CpuIsa.Clamp(isa))
        {
            case IsaLevel.Avx512: Gemm512(c, ldc, a, aRow, aK, bm, ldb, bias, relu, M, N, K); break;
            case IsaLevel.Avx2: Gemm256(c, ldc, a, aRow, aK, bm, ldb, bias, relu, M, N, K); break;
            default: GemmScalar(c, ldc, a, aRow, aK, null, null, bm, ldb, bias, relu, M, N, K); break;
        }
    }

    /// <summary>
    /// <see cref="Gemm"/> with A's rows anywhere: row i of A is at <c>a + rowOffsets[i]</c> (floats), unit stride along K.
    /// The MLP's first layer reads its batch this way straight from the model's noisy training copy, so the rows
    /// stream in under the FMAs (the hardware prefetcher follows each row) instead of being gathered first by a copy
    /// that waits on every row's misses. The same FMA chains as <see cref="Gemm"/> over the gathered rows, bit for
    /// bit. Only where <see cref="HasRowsPath"/>: the full column panels (the column-tail kernels step rows by a stride).
    /// </summary>
    public static void GemmRows(float* c, int ldc, float* a, nint* rowOffsets, float* bm, int ldb, float* bias, bool relu, int M, int N, int K, IsaLevel isa) =>
        Tabled(c, ldc, a, 0, 1, rowOffsets, null, bm, ldb, bias, relu, M, N, K, isa);

    /// <summary>
    /// C(M,N) = Aᵀ-side product Σ_k a[kOffsets[k] + i] · Bm(k, j): <see cref="Gemm"/> with A's element (i, k) in row k of
    /// a row set anywhere (<paramref name="kOffsets"/>, floats), unit stride along i; no bias, no ReLU. The MLP's first
    /// layer's weight gradient Xᵀ·dY over the batch's rows where they lie in the noisy copy, so they are not copied
    /// into a batch buffer at all. The same FMA chains as <see cref="Gemm"/> with aRow = 1 over the gathered rows.
    /// Only where <see cref="HasRowsPath"/>.
    /// </summary>
    public static void GemmTransposedRows(float* c, int ldc, float* a, nint* kOffsets, float* bm, int ldb, int M, int N, int K, IsaLevel isa) =>
        Tabled(c, ldc, a, 1, 0, null, kOffsets, bm, ldb, null, false, M, N, K, isa);

    /// <summary>The full panels of a GEMM whose A rows (<paramref name="rowOffsets"/>) or k steps (<paramref name="kOffsets"/>) come from a table.</summary>
    private static void Tabled(float* c, int ldc, float* a, int aRow, int aK, nint* rowOffsets, nint* kOffsets, float* bm, int ldb, float* bias, bool relu,
        int M, int N, int K, IsaLevel isa)
    {
        if (!HasRowsPath(N, isa)) throw new ArgumentException($"no row-offset GEMM for {N} columns at {CpuIsa.Name(CpuIsa.Clamp(isa))}", nameof(N));
        if (M <= 0) return;
        bool kTable = kOffsets != null;
        switch (CpuIsa.Clamp(isa))
        {
            case IsaLevel.Avx512:
                // A k table comes with unit rows (aRow = 1, GemmTransposedRows): full blocks read them at constant displacements.
                Panels(kTable ? &Kernel512_6x4<Yes, Yes> : &Kernel512_6x4<No, No>, kTable ? &Kernel512_6x4<Yes, No> : &Kernel512_6x4<No, No>,
                    64, KChunk512, c, ldc, a, aRow, aK, rowOffsets, kOffsets, bm, ldb, bias, relu, M, N, K);
                break;
            case IsaLevel.Avx2:
                Panels(kTable ? &Kernel256_6x2<Yes> : &Kernel256_6x2<No>, null,
                    16, KChunk256, c, ldc, a, aRow, aK, rowOffsets, kOffsets, bm, ldb, bias, relu, M, N, K);
                break;
            default: GemmScalar(c, ldc, a, aRow, aK, rowOffsets, kOffsets, bm, ldb, bias, relu, M, N, K); break;
        }
    }

    /// <summary>Whether <see cref="GemmRows"/> takes <paramref name="N"/> columns at <paramref name="isa"/>: whole 64-column (AVX-512) or 16-column (AVX2) panels; any N on the scalar level.</summary>
    public static bool HasRowsPath(int N, IsaLevel isa) => N > 0 && CpuIsa.Clamp(isa) switch
    {
        IsaLevel.Avx512 => N % 64 == 0,
        IsaLevel.Avx2 => N % 16 == 0,
        _ => true,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GemmScalar(float* c, int ldc, float* a, int aRow, int aK, nint* rowOffsets, nint* kOffsets, float* bm, int ldb, float* bias, bool relu,
        int M, int N, int K)
    {
        // Row-broadcast order (i, k, j) so Bm is read along rows; each element is still one FMA chain in k order.
        for (int i = 0; i < M; i++)
        {
            float* ci = c + (nint)i * ldc;
            float* ai = a + (rowOffsets != null ? rowOffsets[i] : (nint)i * aRow);
            for (int j = 0; j < N; j++) ci[j] = bias != null ? bias[j] : 0f;
            for (int k = 0; k < K; k++)
            {
                float x = kOffsets != null ? ai[kOffsets[k]] : ai[(nint)k * aK];
                float* bk = bm + (nint)k * ldb;
                for (int j = 0; j < N; j++) ci[j] = MathF.FusedMultiplyAdd(x, bk[j], ci[j]);
            }
            if (relu)
                for (int j = 0; j < N; j++) ci[j] = ci[j] > 0f ? ci[j] : 0f;
        }
    }

    /// <summary>
    /// The convolution weight-gradient product, in chunks of its reduction: C(M,N) = A(M,K)·Bm(K,N) when
    /// <paramref name="first"/>, else C += A·Bm continuing each element's FMA chain from the float already in C. Calling
    /// it on consecutive K ranges (first only on the first) gives exactly the FMA chain of one <see cref="Gemm"/> over
    /// the whole K, so a convolution can build its transposed columns a few images at a time in cache. A is
    /// row-major with row stride <paramref name="lda"/> (unit stride along K); shaped for dW's small M (output
    /// channels) and N (CI·K·K): 8 rows × 2 vectors per block, masked column tail, rows past M alias the last row.
    /// </summary>
    public static void GemmAccumulate(float* c, int ldc, float* a, int lda, float* bm, int ldb, int M, int N, int K, bool first, IsaLevel isa)
    {
        if (M <= 0 || N <= 0) return;
        switch (CpuIsa.Clamp(isa))
        {
            case IsaLevel.Avx512:
                for (int j = 0; j < N; j += 32)
                {
                    Vector512<float> m0 = Mask512(N - j), m1 = N - j > 16 ? Mask512(N - j - 16) : Vector512<float>.Zero;
                    for (int i = 0; i < M; i += 8)
                        if (N - j > 16) Kernel512_8x2Acc(c + (nint)i * ldc + j, ldc, a + (nint)i * lda, lda, bm + j, ldb, K, first, Math.Min(8, M - i), m0, m1);
                        else Kernel512_8x1Acc(c + (nint)i * ldc + j, ldc, a + (nint)i * lda, lda, bm + j, ldb, K, first, Math.Min(8, M - i), m0);
                }
                break;
            case IsaLevel.Avx2:
                for (int j = 0; j < N; j += 16)
                {
                    Vector256<float> m0 = Mask256(N - j), m1 = N - j > 8 ? Mask256(N - j - 8) : Vector256<float>.Zero;
                    for (int i = 0; i < M; i += 6)
                        Kernel256_6x2Acc(c + (nint)i * ldc + j, ldc, a + (nint)i * lda, lda, bm + j, ldb, K, first, Math.Min(6, M - i), m0, m1);
                }
                break;
            default:
                for (int i = 0; i < M; i++)
                {
                    float* ci = c + (nint)i * ldc;
                    float* ai = a + (nint)i * lda;
                    if (first)
                        for (int j = 0; j < N; j++) ci[j] = 0f;
                    for (int k = 0; k < K; k++)
                    {
                        float x = ai[k];
                        float* bk = bm + (nint)k * ldb;
                        for (int j = 0; j < N; j++) ci[j] = MathF.FusedMultiplyAdd(x, bk[j], ci[j]);
                    }
                }
                break;
        }
    }

    /// <summary>8 rows × 2 masked vectors of C += A·Bm over K (16 accumulators, 16 FMAs per 2 + 8 loads); rows past <paramref name="rows"/> alias the last row and are not stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_8x2Acc(float* c, int ldc, float* a, int lda, float* b, int ldb, int K, bool first, int rows, Vector512<float> m0, Vector512<float> m1)
    {
        nint last = rows - 1, ld = ldc, la = lda;
        float* c0 = c, c1 = c + Math.Min(1, last) * ld, c2 = c + Math.Min(2, last) * ld, c3 = c + Math.Min(3, last) * ld,
            c4 = c + Math.Min(4, last) * ld, c5 = c + Math.Min(5, last) * ld, c6 = c + Math.Min(6, last) * ld, c7 = c + Math.Min(7, last) * ld;
        float* a0 = a, a1 = a + Math.Min(1, last) * la, a2 = a + Math.Min(2, last) * la, a3 = a + Math.Min(3, last) * la,
            a4 = a + Math.Min(4, last) * la, a5 = a + Math.Min(5, last) * la, a6 = a + Math.Min(6, last) * la, a7 = a + Math.Min(7, last) * la;
        var z = Vector512<float>.Zero;
        Vector512<float> s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z,
            s40 = z, s41 = z, s50 = z, s51 = z, s60 = z, s61 = z, s70 = z, s71 = z;
        if (!first)
        {
            s00 = Avx512F.MaskLoad(c0, m0, z); s01 = Avx512F.MaskLoad(c0 + 16, m1, z);
            s10 = Avx512F.MaskLoad(c1, m0, z); s11 = Avx512F.MaskLoad(c1 + 16, m1, z);
            s20 = Avx512F.MaskLoad(c2, m0, z); s21 = Avx512F.MaskLoad(c2 + 16, m1, z);
            s30 = Avx512F.MaskLoad(c3, m0, z); s31 = Avx512F.MaskLoad(c3 + 16, m1, z);
            s40 = Avx512F.MaskLoad(c4, m0, z); s41 = Avx512F.MaskLoad(c4 + 16, m1, z);
            s50 = Avx512F.MaskLoad(c5, m0, z); s51 = Avx512F.MaskLoad(c5 + 16, m1, z);
            s60 = Avx512F.MaskLoad(c6, m0, z); s61 = Avx512F.MaskLoad(c6 + 16, m1, z);
            s70 = Avx512F.MaskLoad(c7, m0, z); s71 = Avx512F.MaskLoad(c7 + 16, m1, z);
        }
        for (int k = 0; k < K; k++)
        {
            var b0 = Avx512F.MaskLoad(b, m0, z);
            var b1 = Avx512F.MaskLoad(b + 16, m1, z);
            var x = Vector512.Create(a0[k]); s00 = Vector512.FusedMultiplyAdd(x, b0, s00); s01 = Vector512.FusedMultiplyAdd(x, b1, s01);
            x = Vector512.Create(a1[k]); s10 = Vector512.FusedMultiplyAdd(x, b0, s10); s11 = Vector512.FusedMultiplyAdd(x, b1, s11);
            x = Vector512.Create(a2[k]); s20 = Vector512.FusedMultiplyAdd(x, b0, s20); s21 = Vector512.FusedMultiplyAdd(x, b1, s21);
            x = Vector512.Create(a3[k]); s30 = Vector512.FusedMultiplyAdd(x, b0, s30); s31 = Vector512.FusedMultiplyAdd(x, b1, s31);
            x = Vector512.Create(a4[k]); s40 = Vector512.FusedMultiplyAdd(x, b0, s40); s41 = Vector512.FusedMultiplyAdd(x, b1, s41);
            x = Vector512.Create(a5[k]); s50 = Vector512.FusedMultiplyAdd(x, b0, s50); s51 = Vector512.FusedMultiplyAdd(x, b1, s51);
            x = Vector512.Create(a6[k]); s60 = Vector512.FusedMultiplyAdd(x, b0, s60); s61 = Vector512.FusedMultiplyAdd(x, b1, s61);
            x = Vector512.Create(a7[k]); s70 = Vector512.FusedMultiplyAdd(x, b0, s70); s71 = Vector512.FusedMultiplyAdd(x, b1, s71);
            b += ldb;
        }
        // Highest row first: an aliased row stores the same values as the real last row, and the real row is written last.
        if (rows > 7) { Avx512F.MaskStore(c7, m0, s70); Avx512F.MaskStore(c7 + 16, m1, s71); }
        if (rows > 6) { Avx512F.MaskStore(c6, m0, s60); Avx512F.MaskStore(c6 + 16, m1, s61); }
        if (rows > 5) { Avx512F.MaskStore(c5, m0, s50); Avx512F.MaskStore(c5 + 16, m1, s51); }
        if (rows > 4) { Avx512F.MaskStore(c4, m0, s40); Avx512F.MaskStore(c4 + 16, m1, s41); }
        if (rows > 3) { Avx512F.MaskStore(c3, m0, s30); Avx512F.MaskStore(c3 + 16, m1, s31); }
        if (rows > 2) { Avx512F.MaskStore(c2, m0, s20); Avx512F.MaskStore(c2 + 16, m1, s21); }
        if (rows > 1) { Avx512F.MaskStore(c1, m0, s10); Avx512F.MaskStore(c1 + 16, m1, s11); }
        Avx512F.MaskStore(c0, m0, s00); Avx512F.MaskStore(c0 + 16, m1, s01);
    }

    /// <summary>8 rows × 1 masked vector of C += A·Bm over K (8 chains: enough to cover the FMA latency on 2 ports); rows past <paramref name="rows"/> alias the last row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_8x1Acc(float* c, int ldc, float* a, int lda, float* b, int ldb, int K, bool first, int rows, Vector512<float> m0)
    {
        nint last = rows - 1, ld = ldc, la = lda;
        float* c0 = c, c1 = c + Math.Min(1, last) * ld, c2 = c + Math.Min(2, last) * ld, c3 = c + Math.Min(3, last) * ld,
            c4 = c + Math.Min(4, last) * ld, c5 = c + Math.Min(5, last) * ld, c6 = c + Math.Min(6, last) * ld, c7 = c + Math.Min(7, last) * ld;
        float* a0 = a, a1 = a + Math.Min(1, last) * la, a2 = a + Math.Min(2, last) * la, a3 = a + Math.Min(3, last) * la,
            a4 = a + Math.Min(4, last) * la, a5 = a + Math.Min(5, last) * la, a6 = a + Math.Min(6, last) * la, a7 = a + Math.Min(7, last) * la;
        var z = Vector512<float>.Zero;
        Vector512<float> s0 = z, s1 = z, s2 = z, s3 = z, s4 = z, s5 = z, s6 = z, s7 = z;
        if (!first)
        {
            s0 = Avx512F.MaskLoad(c0, m0, z); s1 = Avx512F.MaskLoad(c1, m0, z); s2 = Avx512F.MaskLoad(c2, m0, z); s3 = Avx512F.MaskLoad(c3, m0, z);
            s4 = Avx512F.MaskLoad(c4, m0, z); s5 = Avx512F.MaskLoad(c5, m0, z); s6 = Avx512F.MaskLoad(c6, m0, z); s7 = Avx512F.MaskLoad(c7, m0, z);
        }
        for (int k = 0; k < K; k++)
        {
            var b0 = Avx512F.MaskLoad(b, m0, z);
            s0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[k]), b0, s0);
            s1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[k]), b0, s1);
            s2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[k]), b0, s2);
            s3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[k]), b0, s3);
            s4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[k]), b0, s4);
            s5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[k]), b0, s5);
            s6 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[k]), b0, s6);
            s7 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[k]), b0, s7);
            b += ldb;
        }
        if (rows > 7) Avx512F.MaskStore(c7, m0, s7);
        if (rows > 6) Avx512F.MaskStore(c6, m0, s6);
        if (rows > 5) Avx512F.MaskStore(c5, m0, s5);
        if (rows > 4) Avx512F.MaskStore(c4, m0, s4);
        if (rows > 3) Avx512F.MaskStore(c3, m0, s3);
        if (rows > 2) Avx512F.MaskStore(c2, m0, s2);
        if (rows > 1) Avx512F.MaskStore(c1, m0, s1);
        Avx512F.MaskStore(c0, m0, s0);
    }

    /// <summary>6 rows × 2 masked YMM of C += A·Bm over K (12 accumulators + 2 Bm + 1 broadcast = 15 of AVX2's 16 registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_6x2Acc(float* c, int ldc, float* a, int lda, float* b, int ldb, int K, bool first, int rows, Vector256<float> m0, Vector256<float> m1)
    {
        nint last = rows - 1, ld = ldc, la = lda;
        float* c0 = c, c1 = c + Math.Min(1, last) * ld, c2 = c + Math.Min(2, last) * ld, c3 = c + Math.Min(3, last) * ld,
            c4 = c + Math.Min(4, last) * ld, c5 = c + Math.Min(5, last) * ld;
        float* a0 = a, a1 = a + Math.Min(1, last) * la, a2 = a + Math.Min(2, last) * la, a3 = a + Math.Min(3, last) * la,
            a4 = a + Math.Min(4, last) * la, a5 = a + Math.Min(5, last) * la;
        var z = Vector256<float>.Zero;
        Vector256<float> s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z, s40 = z, s41 = z, s50 = z, s51 = z;
        if (!first)
        {
            s00 = Avx.MaskLoad(c0, m0); s01 = Avx.MaskLoad(c0 + 8, m1);
            s10 = Avx.MaskLoad(c1, m0); s11 = Avx.MaskLoad(c1 + 8, m1);
            s20 = Avx.MaskLoad(c2, m0); s21 = Avx.MaskLoad(c2 + 8, m1);
            s30 = Avx.MaskLoad(c3, m0); s31 = Avx.MaskLoad(c3 + 8, m1);
            s40 = Avx.MaskLoad(c4, m0); s41 = Avx.MaskLoad(c4 + 8, m1);
            s50 = Avx.MaskLoad(c5, m0); s51 = Avx.MaskLoad(c5 + 8, m1);
        }
        for (int k = 0; k < K; k++)
        {
            var b0 = Avx.MaskLoad(b, m0);
            var b1 = Avx.MaskLoad(b + 8, m1);
            var x = Vector256.Create(a0[k]); s00 = Vector256.FusedMultiplyAdd(x, b0, s00); s01 = Vector256.FusedMultiplyAdd(x, b1, s01);
            x = Vector256.Create(a1[k]); s10 = Vector256.FusedMultiplyAdd(x, b0, s10); s11 = Vector256.FusedMultiplyAdd(x, b1, s11);
            x = Vector256.Create(a2[k]); s20 = Vector256.FusedMultiplyAdd(x, b0, s20); s21 = Vector256.FusedMultiplyAdd(x, b1, s21);
            x = Vector256.Create(a3[k]); s30 = Vector256.FusedMultiplyAdd(x, b0, s30); s31 = Vector256.FusedMultiplyAdd(x, b1, s31);
            x = Vector256.Create(a4[k]); s40 = Vector256.FusedMultiplyAdd(x, b0, s40); s41 = Vector256.FusedMultiplyAdd(x, b1, s41);
            x = Vector256.Create(a5[k]); s50 = Vector256.FusedMultiplyAdd(x, b0, s50); s51 = Vector256.FusedMultiplyAdd(x, b1, s51);
            b += ldb;
        }
        if (rows > 5) { Avx.MaskStore(c5, m0, s50); Avx.MaskStore(c5 + 8, m1, s51); }
        if (rows > 4) { Avx.MaskStore(c4, m0, s40); Avx.MaskStore(c4 + 8, m1, s41); }
        if (rows > 3) { Avx.MaskStore(c3, m0, s30); Avx.MaskStore(c3 + 8, m1, s31); }
        if (rows > 2) { Avx.MaskStore(c2, m0, s20); Avx.MaskStore(c2 + 8, m1, s21); }
        if (rows > 1) { Avx.MaskStore(c1, m0, s10); Avx.MaskStore(c1 + 8, m1, s11); }
        Avx.MaskStore(c0, m0, s00); Avx.MaskStore(c0 + 8, m1, s01);
    }

    /// <summary>
    /// The full column panels of C (N / <paramref name="panelWidth"/> of them) for both vector widths, through a 6-row
    /// <paramref name="kernel"/>: column panels outer, then K chunks, 6-row blocks inner (the last block of M % 6 rows,
    /// through <paramref name="partialKernel"/> where one is given, recomputes its last row in the missing slots and
    /// stores only its own rows). A chunk keeps the (kc, panel) piece of Bm in L1 while A's rows stream past it; the
    /// accumulators are stored and reloaded as floats between chunks, the bias starts the first chunk and ReLU ends the
    /// last, so each element is still one FMA chain in k order from the bias. K = 0 still runs one chunk, which writes
    /// the bias (or 0).
    /// </summary>
    private static void Panels(delegate*<float*, int, float*, int, int, nint*, nint*, float*, int, float*, bool, int, bool, int, void> kernel,
        delegate*<float*, int, float*, int, int, nint*, nint*, float*, int, float*, bool, int, bool, int, void> partialKernel, int panelWidth,
        int kChunk, float* c, int ldc, float* a, int aRow, int aK, nint* rowOffsets, nint* kOffsets, float* bm, int ldb, float* bias, bool relu, int M, int N, int K)
    {
        if (partialKernel == null) partialKernel = kernel;
        int kStep = kChunk > 0 ? kChunk : Math.Max(K, 1);
        bool pack = PacksPanels(ldb, M, panelWidth);
        if (pack) kStep = Math.Min(kStep, PackedRows);
        float* packed = stackalloc float[pack ? kStep * panelWidth : 0];
        for (int j = 0; j + panelWidth <= N; j += panelWidth)
        {
            int k0 = 0;
            do
            {
                int kc = Math.Min(kStep, K - k0);
                bool first = k0 == 0, last = k0 + kc >= K;
                float* panel = bm + (nint)k0 * ldb + j;
                int panelLd = ldb;
                if (pack)
                {
                    for (int k = 0; k < kc; k++)
                        for (int x = 0; x < panelWidth; x += 8)
                            Vector256.Load(panel + (nint)k * ldb + x).Store(packed + k * panelWidth + x);
                    panel = packed; panelLd = panelWidth;
                }
                for (int i = 0; i < M; i += 6)
                    (i + 6 <= M ? kernel : partialKernel)(c + (nint)i * ldc + j, ldc, a + (rowOffsets != null ? rowOffsets[i] : (nint)i * aRow) + (kOffsets != null ? 0 : (nint)k0 * aK), aRow, aK,
                        rowOffsets != null ? rowOffsets + i : null, kOffsets != null ? kOffsets + k0 : null, panel, panelLd,
                        first && bias != null ? bias + j : null, relu && last, kc, !first, Math.Min(6, M - i));
                k0 += kc;
            } while (k0 < K);
        }
    }

    /// <summary>
    /// Where rows 1–5 of a 6-row block lie from row 0 (rows past <paramref name="last"/> alias it): r·aRow, or from the
    /// block's own entries of <paramref name="rowOffsets"/> (<see cref="GemmRows"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (nint, nint, nint, nint, nint) RowOffsets(int aRow, nint* rowOffsets, nint last)
    {
        if (rowOffsets == null)
        {
            nint row = aRow;
            return (Math.Min(1, last) * row, Math.Min(2, last) * row, Math.Min(3, last) * row, Math.Min(4, last) * row, Math.Min(5, last) * row);
        }
        nint o0 = rowOffsets[0];
        return (rowOffsets[Math.Min(1, last)] - o0, rowOffsets[Math.Min(2, last)] - o0, rowOffsets[Math.Min(3, last)] - o0,
            rowOffsets[Math.Min(4, last)] - o0, rowOffsets[Math.Min(5, last)] - o0);
    }

    // ---------------------------------------------------------------- AVX-512 (16 floats per vector)

    /// <summary>
    /// K chunk of the AVX-512 path for long reductions (0 = never split); a tuning knob, results do not depend on it.
    /// 256: on a Zen 4 the MLP's training loop ran 0.92–0.94× the time of chunks of 64 (`ab gemm train avx512 21 256`,
    /// paired, with the first layer's rows gathered or read in place alike; LeNet 0.99×), where the Xeon had measured
    /// 64 and 256 alike (1.00×) and unchunked 1.05× (wave 4, a loaded host).
    /// </summary>
    internal static int KChunk512 = 256;

    /// <summary>Most K rows of a packed Bm panel (the stack buffer holds this many rows of one panel).</summary>
    private const int PackedRows = 256;

    /// <summary>
    /// Whether Bm's column panel is first copied into a contiguous stack buffer, once per K chunk for all row blocks:
    /// when its rows lie a multiple of 2 KB apart (a convolution's image group is a column slice of the whole batch,
    /// rows 32 KB apart) every row of the panel maps to the same few L1 sets, so the panel cannot stay in L1 and
    /// each row block would fetch it again from L2. The AVX2 path (16-column panels, one line a row) also packs rows
    /// 512 B apart (the MLP's W and dY, ldb 128) when at least 64 rows of A reuse the copy: there a panel's rows share
    /// 8 sets, which an 8-way 32 KB L1 (Zen 3) fills with the panel alone; packing measured 0.97× the time of the
    /// MLP forward and 0.90× of its dW on Zen 3 (`ab gemm avx2`, paired), and 1.00–1.19× on LeNet's conv shapes (M
    /// of 16 and 32, too few row blocks to pay for the copy), hence the M bound. Copying changes no arithmetic.
    /// </summary>
    private static bool PacksPanels(int ldb, int M, int panelWidth) =>
        (ldb & 511) == 0 ? M > 6 : panelWidth == 16 && (ldb & 127) == 0 && M >= 64;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm512(float* c, int ldc, float* a, int aRow, int aK, float* bm, int ldb, float* bias, bool relu, int M, int N, int K)
    {
        const int W = 16;
        int fullBlocks = N / (4 * W);
        Panels(&Kernel512_6x4<No, No>, null, 4 * W, KChunk512, c, ldc, a, aRow, aK, null, null, bm, ldb, bias, relu, M, N, K);
        // Column tail (the 10-class output layer is all tail): 16 rows at a time keeps 16 FMA chains in flight (8
        // only just cover the FMA latency × ports: 16 took 0.87–0.91× the time of the 10-class layer's forward and dW,
        // `ab tail`, paired; 4 chains left half the FMA throughput to latency), then 8, 4 and single rows.
        int rows16 = M & ~15, rows8 = M & ~7, rows4 = M & ~3;
        for (int j = fullBlocks * 4 * W; j < N; j += W)
        {
            var mask = Mask512(N - j);
            for (int i = 0; i < rows16; i += 16)
                Kernel512_Nx1<Count16>(c + (nint)i * ldc + j, ldc, a + (nint)i * aRow, aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
            for (int i = rows16; i < rows8; i += 8)
                Kernel512_Nx1<Count8>(c + (nint)i * ldc + j, ldc, a + (nint)i * aRow, aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
            for (int i = rows8; i < rows4; i += 4)
                Kernel512_4x1(c + (nint)i * ldc + j, ldc, a + (nint)i * aRow, aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
            for (int i = rows4; i < M; i++)
                Kernel512_1x1(c + (nint)i * ldc + j, a + (nint)i * aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
        }
    }

    private static Vector512<float> Mask512(int remaining)
    {
        if (remaining >= 16) return Vector512<float>.AllBitsSet;
        var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return Vector512.LessThan(lanes, Vector512.Create(remaining)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Epilogue512(Vector512<float> v, bool relu) => relu ? Vector512.Max(v, Vector512<float>.Zero) : v;

    /// <summary>
    /// 6 rows × 64 columns of C over K: 24 accumulators + 4 Bm vectors + 1 broadcast = 29 of AVX-512's 32 registers,
    /// 24 FMAs per 4 loads + 6 broadcasts. Rows past <paramref name="rows"/> (1..6) alias the last real row and are
    /// not stored. <paramref name="accumulate"/>: continue from C (a later K chunk) instead of starting from the bias (or 0).
    /// <typeparamref name="TUnitRows"/>: a full block (6 rows) with A's rows one float apart (aRow = 1), read at
    /// constant displacements.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_6x4<TKRows, TUnitRows>(float* c, int ldc, float* a, int aRow, int aK, nint* rowOffsets, nint* kOffsets, float* b, int ldb, float* bias, bool relu,
        int K, bool accumulate, int rows)
        where TKRows : struct, IFlag
        where TUnitRows : struct, IFlag
    {
        nint last = rows - 1, ld = ldc;
        // Row r of the block is read at a[offset r]: one pointer steps along K, the offsets stay in registers, or, for
        // unit rows, in the instructions (five registers fewer: the row table's loop then spills nothing).
        nint o1, o2, o3, o4, o5;
        if (TUnitRows.On) (o1, o2, o3, o4, o5) = (1, 2, 3, 4, 5);
        else (o1, o2, o3, o4, o5) = RowOffsets(aRow, rowOffsets, last);
        Vector512<float> c00, c01, c02, c03;
        Vector512<float> c10, c11, c12, c13;
        Vector512<float> c20, c21, c22, c23;
        Vector512<float> c30, c31, c32, c33;
        Vector512<float> c40, c41, c42, c43;
        Vector512<float> c50, c51, c52, c53;
        if (accumulate)
        {
            { float* p = c; c00 = Vector512.Load(p); c01 = Vector512.Load(p + 16); c02 = Vector512.Load(p + 32); c03 = Vector512.Load(p + 48); }
            { float* p = c + Math.Min(1, last) * ld; c10 = Vector512.Load(p); c11 = Vector512.Load(p + 16); c12 = Vector512.Load(p + 32); c13 = Vector512.Load(p + 48); }
            { float* p = c + Math.Min(2, last) * ld; c20 = Vector512.Load(p); c21 = Vector512.Load(p + 16); c22 = Vector512.Load(p + 32); c23 = Vector512.Load(p + 48); }
            { float* p = c + Math.Min(3, last) * ld; c30 = Vector512.Load(p); c31 = Vector512.Load(p + 16); c32 = Vector512.Load(p + 32); c33 = Vector512.Load(p + 48); }
            { float* p = c + Math.Min(4, last) * ld; c40 = Vector512.Load(p); c41 = Vector512.Load(p + 16); c42 = Vector512.Load(p + 32); c43 = Vector512.Load(p + 48); }
            { float* p = c + Math.Min(5, last) * ld; c50 = Vector512.Load(p); c51 = Vector512.Load(p + 16); c52 = Vector512.Load(p + 32); c53 = Vector512.Load(p + 48); }
        }
        else if (bias != null)
        {
            c00 = c10 = c20 = c30 = c40 = c50 = Vector512.Load(bias);
            c01 = c11 = c21 = c31 = c41 = c51 = Vector512.Load(bias + 16);
            c02 = c12 = c22 = c32 = c42 = c52 = Vector512.Load(bias + 32);
            c03 = c13 = c23 = c33 = c43 = c53 = Vector512.Load(bias + 48);
        }
        else
        {
            c00 = c01 = c02 = c03 = Vector512<float>.Zero;
            c10 = c11 = c12 = c13 = Vector512<float>.Zero;
            c20 = c21 = c22 = c23 = Vector512<float>.Zero;
            c30 = c31 = c32 = c33 = Vector512<float>.Zero;
            c40 = c41 = c42 = c43 = Vector512<float>.Zero;
            c50 = c51 = c52 = c53 = Vector512<float>.Zero;
        }
        nint step = aK;
        // The loop steps two pointers and compares one (Bm's: ldb ≥ N > 0): a counter and an int ldb's sign extension
        // per k cost scalar µops on the FMA ports (0.93–0.99× the time on AVX-512, 0.92–1.02× on AVX2, `ab gemm`).
        nint ldbn = ldb;
        // TKRows: k steps through rows anywhere (GemmTransposedRows): A's row k starts at ai + kOffsets[k]. Each row is
        // looked up two steps before its broadcasts need it, so their addresses never wait on the table's load; the
        // last two steps look up the table's first entries again (in bounds, unused) instead of reading past it. With
        // unit rows (no offset registers, no spills) the MLP's weight gradient over 128 rows of the noisy copy took
        // 0.95–0.96× the time of a lookup in the step itself, and 1 model × 1 epoch of training 0.983–0.994× (Zen 5,
        // `ab gemm rowsdw` and `ab gemm train` paired against the old kernel as a scratch toggle). The same rows in
        // the same k order.
        float* ai = a, a1 = a;
        nint* kNext = kOffsets;
        float* end = b + K * ldbn, stop = end;
        if (TKRows.On && K > 0)
        {
            a = ai + kOffsets[0];
            a1 = ai + kOffsets[Math.Min(1, K - 1)];
            if (K > 2) { kNext = kOffsets + 2; stop = b + (K - 2) * ldbn; }
        }
        while (true)
        {
            for (; b != stop; b += ldbn)
            {
                var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
                var x = Vector512.Create(*a); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01); c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
                x = Vector512.Create(a[o1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11); c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
                x = Vector512.Create(a[o2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21); c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
                x = Vector512.Create(a[o3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31); c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
                x = Vector512.Create(a[o4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41); c42 = Vector512.FusedMultiplyAdd(x, b2, c42); c43 = Vector512.FusedMultiplyAdd(x, b3, c43);
                x = Vector512.Create(a[o5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51); c52 = Vector512.FusedMultiplyAdd(x, b2, c52); c53 = Vector512.FusedMultiplyAdd(x, b3, c53);
                if (TKRows.On) { a = a1; a1 = ai + *kNext++; }
                else a += step;
            }
            if (b == end) break;
            kNext = kOffsets; stop = end;
        }
        { float* p = c; Epilogue512(c00, relu).Store(p); Epilogue512(c01, relu).Store(p + 16); Epilogue512(c02, relu).Store(p + 32); Epilogue512(c03, relu).Store(p + 48); }
        if (rows > 1) { float* p = c + 1 * ld; Epilogue512(c10, relu).Store(p); Epilogue512(c11, relu).Store(p + 16); Epilogue512(c12, relu).Store(p + 32); Epilogue512(c13, relu).Store(p + 48); }
        if (rows > 2) { float* p = c + 2 * ld; Epilogue512(c20, relu).Store(p); Epilogue512(c21, relu).Store(p + 16); Epilogue512(c22, relu).Store(p + 32); Epilogue512(c23, relu).Store(p + 48); }
        if (rows > 3) { float* p = c + 3 * ld; Epilogue512(c30, relu).Store(p); Epilogue512(c31, relu).Store(p + 16); Epilogue512(c32, relu).Store(p + 32); Epilogue512(c33, relu).Store(p + 48); }
        if (rows > 4) { float* p = c + 4 * ld; Epilogue512(c40, relu).Store(p); Epilogue512(c41, relu).Store(p + 16); Epilogue512(c42, relu).Store(p + 32); Epilogue512(c43, relu).Store(p + 48); }
        if (rows > 5) { float* p = c + 5 * ld; Epilogue512(c50, relu).Store(p); Epilogue512(c51, relu).Store(p + 16); Epilogue512(c52, relu).Store(p + 32); Epilogue512(c53, relu).Store(p + 48); }
    }

    /// <summary>
    /// <typeparamref name="TRows"/> (8 or 16) rows × 1 masked vector of C over K: the column tail, one FMA chain a row.
    /// 16 rows keep 16 chains in flight (8 only just cover the FMA latency × ports); the 8-row instance takes the rows a
    /// multiple of 16 leaves, with the second half compiled out.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_Nx1<TRows>(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, Vector512<float> mask)
        where TRows : struct, ICount
    {
        bool wide = TRows.Value == 16;
        var init = bias != null ? Avx512F.MaskLoad(bias, mask, Vector512<float>.Zero) : Vector512<float>.Zero;
        Vector512<float> c0 = init, c1 = init, c2 = init, c3 = init, c4 = init, c5 = init, c6 = init, c7 = init,
            c8 = init, c9 = init, c10 = init, c11 = init, c12 = init, c13 = init, c14 = init, c15 = init;
        nint row = aRow, row3 = 3 * (nint)aRow, step = aK, ldbn = ldb;
        float* a0 = a, a4 = a + 4 * row, a8 = wide ? a + 8 * row : a, a12 = wide ? a + 12 * row : a;
        for (float* end = b + K * ldbn; b != end; a0 += step, a4 += step, a8 += step, a12 += step, b += ldbn)
        {
            var b0 = Avx512F.MaskLoad(b, mask, Vector512<float>.Zero);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[row]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[2 * row]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[row3]), b0, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[0]), b0, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[row]), b0, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[2 * row]), b0, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[row3]), b0, c7);
            if (wide)
            {
                c8 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[0]), b0, c8);
                c9 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[row]), b0, c9);
                c10 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[2 * row]), b0, c10);
                c11 = Vector512.FusedMultiplyAdd(Vector512.Create(a8[row3]), b0, c11);
                c12 = Vector512.FusedMultiplyAdd(Vector512.Create(a12[0]), b0, c12);
                c13 = Vector512.FusedMultiplyAdd(Vector512.Create(a12[row]), b0, c13);
                c14 = Vector512.FusedMultiplyAdd(Vector512.Create(a12[2 * row]), b0, c14);
                c15 = Vector512.FusedMultiplyAdd(Vector512.Create(a12[row3]), b0, c15);
            }
        }
        nint ld = ldc;
        Avx512F.MaskStore(c, mask, Epilogue512(c0, relu));
        Avx512F.MaskStore(c + ld, mask, Epilogue512(c1, relu));
        Avx512F.MaskStore(c + 2 * ld, mask, Epilogue512(c2, relu));
        Avx512F.MaskStore(c + 3 * ld, mask, Epilogue512(c3, relu));
        Avx512F.MaskStore(c + 4 * ld, mask, Epilogue512(c4, relu));
        Avx512F.MaskStore(c + 5 * ld, mask, Epilogue512(c5, relu));
        Avx512F.MaskStore(c + 6 * ld, mask, Epilogue512(c6, relu));
        Avx512F.MaskStore(c + 7 * ld, mask, Epilogue512(c7, relu));
        if (!wide) return;
        Avx512F.MaskStore(c + 8 * ld, mask, Epilogue512(c8, relu));
        Avx512F.MaskStore(c + 9 * ld, mask, Epilogue512(c9, relu));
        Avx512F.MaskStore(c + 10 * ld, mask, Epilogue512(c10, relu));
        Avx512F.MaskStore(c + 11 * ld, mask, Epilogue512(c11, relu));
        Avx512F.MaskStore(c + 12 * ld, mask, Epilogue512(c12, relu));
        Avx512F.MaskStore(c + 13 * ld, mask, Epilogue512(c13, relu));
        Avx512F.MaskStore(c + 14 * ld, mask, Epilogue512(c14, relu));
        Avx512F.MaskStore(c + 15 * ld, mask, Epilogue512(c15, relu));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_4x1(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, Vector512<float> mask)
    {
        var init = bias != null ? Avx512F.MaskLoad(bias, mask, Vector512<float>.Zero) : Vector512<float>.Zero;
        Vector512<float> c0 = init, c1 = init, c2 = init, c3 = init;
        float* a0 = a, a1 = a + aRow, a2 = a + 2 * (nint)aRow, a3 = a + 3 * (nint)aRow;
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            var b0 = Avx512F.MaskLoad(b, mask, Vector512<float>.Zero);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(*a0), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(*a1), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(*a2), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(*a3), b0, c3);
            a0 += step; a1 += step; a2 += step; a3 += step;
            b += ldb;
        }
        Avx512F.MaskStore(c, mask, Epilogue512(c0, relu));
        Avx512F.MaskStore(c + ldc, mask, Epilogue512(c1, relu));
        Avx512F.MaskStore(c + 2 * (nint)ldc, mask, Epilogue512(c2, relu));
        Avx512F.MaskStore(c + 3 * (nint)ldc, mask, Epilogue512(c3, relu));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_1x1(float* c, float* a, int aK, float* b, int ldb, float* bias, bool relu, int K, Vector512<float> mask)
    {
        var c0 = bias != null ? Avx512F.MaskLoad(bias, mask, Vector512<float>.Zero) : Vector512<float>.Zero;
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(*a), Avx512F.MaskLoad(b, mask, Vector512<float>.Zero), c0);
            a += step;
            b += ldb;
        }
        Avx512F.MaskStore(c, mask, Epilogue512(c0, relu));
    }

    // ---------------------------------------------------------------- AVX2 (8 floats per vector)

    /// <summary>
    /// K chunk of the AVX2 path (0 = never split); a tuning knob, results do not depend on it. 256, as AVX-512's
    /// (which was 64 then): on Zen 3 a chunk of 64 spent ~16 % of the 6 × 2 kernel's samples outside its loop (the
    /// accumulators' reload and store, the row offsets), and the training loop ran 0.92× the time with 256, 0.96× with
    /// 128 or unchunked (`ab gemm train avx2 11 256`, paired).
    /// </summary>
    internal static int KChunk256 = 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Gemm256(float* c, int ldc, float* a, int aRow, int aK, float* bm, int ldb, float* bias, bool relu, int M, int N, int K)
    {
        const int W = 8;
        int panels = N / (2 * W);
        Panels(&Kernel256_6x2<No>, null, 2 * W, KChunk256, c, ldc, a, aRow, aK, null, null, bm, ldb, bias, relu, M, N, K);
        int rows4 = M & ~3, j0 = panels * 2 * W;
        if (N - j0 > W)
        {
            // 9–15 columns left (the 10-class layer: all of it): both vectors at once, 5 rows a block, where the 4-row
            // one-vector kernel below ran 4 FMA chains (half the throughput, to latency) behind 6 pointer adds per k
            // (`ab tail`, DOTNET_EnableAVX512=0, paired: 0.54–0.56× the time of the 10-class layer's forward and dW).
            var m1 = Mask256(N - j0 - W);
            for (int i = 0; i < M; i += 5)
                Kernel256_5x2Tail(c + (nint)i * ldc + j0, ldc, a + (nint)i * aRow, aRow, aK, bm + j0, ldb, bias == null ? null : bias + j0, relu, K, Math.Min(5, M - i), m1);
            return;
        }
        for (int j = j0; j < N; j += W)
        {
            var mask = Mask256(N - j);
            for (int i = 0; i < rows4; i += 4)
                Kernel256_4x1(c + (nint)i * ldc + j, ldc, a + (nint)i * aRow, aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
            for (int i = rows4; i < M; i++)
                Kernel256_1x1(c + (nint)i * ldc + j, a + (nint)i * aRow, aK, bm + j, ldb, bias == null ? null : bias + j, relu, K, mask);
        }
    }

    private static Vector256<float> Mask256(int remaining)
    {
        if (remaining >= 8) return Vector256<float>.AllBitsSet;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        return Vector256.LessThan(lanes, Vector256.Create(remaining)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Epilogue256(Vector256<float> v, bool relu) => relu ? Vector256.Max(v, Vector256<float>.Zero) : v;

    /// <summary>
    /// 6 rows × 16 columns of C over K (12 accumulators + 2 Bm vectors + 1 broadcast = 15 YMM registers). Rows past
    /// <paramref name="rows"/> (1..6) alias the last real row and are not stored. <paramref name="accumulate"/>:
    /// continue from C (a later K chunk) instead of starting from the bias (or 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_6x2<TKRows>(float* c, int ldc, float* a, int aRow, int aK, nint* rowOffsets, nint* kOffsets, float* b, int ldb, float* bias, bool relu,
        int K, bool accumulate, int rows)
        where TKRows : struct, IFlag
    {
        nint last = rows - 1, ld = ldc;
        // Row r of the block is read at a[offset r]: one pointer steps along K, the offsets stay in registers.
        var (o1, o2, o3, o4, o5) = RowOffsets(aRow, rowOffsets, last);
        Vector256<float> c00, c01;
        Vector256<float> c10, c11;
        Vector256<float> c20, c21;
        Vector256<float> c30, c31;
        Vector256<float> c40, c41;
        Vector256<float> c50, c51;
        if (accumulate)
        {
            { float* p = c; c00 = Vector256.Load(p); c01 = Vector256.Load(p + 8); }
            { float* p = c + Math.Min(1, last) * ld; c10 = Vector256.Load(p); c11 = Vector256.Load(p + 8); }
            { float* p = c + Math.Min(2, last) * ld; c20 = Vector256.Load(p); c21 = Vector256.Load(p + 8); }
            { float* p = c + Math.Min(3, last) * ld; c30 = Vector256.Load(p); c31 = Vector256.Load(p + 8); }
            { float* p = c + Math.Min(4, last) * ld; c40 = Vector256.Load(p); c41 = Vector256.Load(p + 8); }
            { float* p = c + Math.Min(5, last) * ld; c50 = Vector256.Load(p); c51 = Vector256.Load(p + 8); }
        }
        else if (bias != null)
        {
            c00 = c10 = c20 = c30 = c40 = c50 = Vector256.Load(bias);
            c01 = c11 = c21 = c31 = c41 = c51 = Vector256.Load(bias + 8);
        }
        else
        {
            c00 = c01 = Vector256<float>.Zero;
            c10 = c11 = Vector256<float>.Zero;
            c20 = c21 = Vector256<float>.Zero;
            c30 = c31 = Vector256<float>.Zero;
            c40 = c41 = Vector256<float>.Zero;
            c50 = c51 = Vector256<float>.Zero;
        }
        nint step = aK;
        // The loop steps two pointers and compares one (Bm's: ldb ≥ N > 0): a counter and an int ldb's sign extension
        // per k cost scalar µops on the FMA ports (0.93–0.99× the time on AVX-512, 0.92–1.02× on AVX2, `ab gemm`).
        nint ldbn = ldb;
        // Two k steps a pass (the odd one after): on Zen 3 a pass of one k step ran at 79 % of the peak in L1 and one of
        // two at 87 % (the loop's own µops and taken branch per 12 FMAs). Same FMA chains, in the same k order.
        Vector256<float> b0, b1, x;
        // The steps in bytes, added to byte pointers: `float* += n` had the JIT scale n by 4 (an lea) at every step.
        nint aBytes = step * sizeof(float), bBytes = ldbn * sizeof(float);
        // TKRows: k steps through rows anywhere (GemmTransposedRows): A's row k starts at ai + kOffsets[k].
        float* ai = a;
        for (float* end = b + (K & ~1) * ldbn; b != end; a = TKRows.On ? a : (float*)((byte*)a + aBytes), b = (float*)((byte*)b + bBytes))
        {
            if (TKRows.On) a = ai + kOffsets[0];
            b0 = Vector256.Load(b); b1 = Vector256.Load(b + 8);
            x = Vector256.Create(*a); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[o5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a = TKRows.On ? ai + kOffsets[1] : (float*)((byte*)a + aBytes); b = (float*)((byte*)b + bBytes);
            if (TKRows.On) kOffsets += 2;
            b0 = Vector256.Load(b); b1 = Vector256.Load(b + 8);
            x = Vector256.Create(*a); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[o5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        if ((K & 1) != 0)
        {
            if (TKRows.On) a = ai + kOffsets[0];
            b0 = Vector256.Load(b); b1 = Vector256.Load(b + 8);
            x = Vector256.Create(*a); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[o5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        { float* p = c; Epilogue256(c00, relu).Store(p); Epilogue256(c01, relu).Store(p + 8); }
        if (rows > 1) { float* p = c + 1 * ld; Epilogue256(c10, relu).Store(p); Epilogue256(c11, relu).Store(p + 8); }
        if (rows > 2) { float* p = c + 2 * ld; Epilogue256(c20, relu).Store(p); Epilogue256(c21, relu).Store(p + 8); }
        if (rows > 3) { float* p = c + 3 * ld; Epilogue256(c30, relu).Store(p); Epilogue256(c31, relu).Store(p + 8); }
        if (rows > 4) { float* p = c + 4 * ld; Epilogue256(c40, relu).Store(p); Epilogue256(c41, relu).Store(p + 8); }
        if (rows > 5) { float* p = c + 5 * ld; Epilogue256(c50, relu).Store(p); Epilogue256(c51, relu).Store(p + 8); }
    }

    /// <summary>
    /// 5 rows × the last 9–15 columns of C over K: a full vector and a masked one (<paramref name="m1"/>), 10
    /// accumulators + 2 Bm vectors + 1 broadcast + the mask = 14 of AVX2's 16 registers, one pointer along K and the row
    /// offsets in registers. Rows past <paramref name="rows"/> (1..5) alias the last real row and are not stored. Each
    /// element is one FMA chain in k order from the bias, as every kernel here.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_5x2Tail(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, int rows, Vector256<float> m1)
    {
        nint last = rows - 1, row = aRow, ld = ldc;
        nint o1 = Math.Min(1, last) * row, o2 = Math.Min(2, last) * row, o3 = Math.Min(3, last) * row, o4 = Math.Min(4, last) * row;
        Vector256<float> i0 = bias != null ? Vector256.Load(bias) : Vector256<float>.Zero, i1 = bias != null ? Avx.MaskLoad(bias + 8, m1) : Vector256<float>.Zero;
        Vector256<float> c00 = i0, c01 = i1, c10 = i0, c11 = i1, c20 = i0, c21 = i1, c30 = i0, c31 = i1, c40 = i0, c41 = i1;
        nint step = aK, ldbn = ldb;
        for (float* end = b + K * ldbn; b != end; a += step, b += ldbn)
        {
            var b0 = Vector256.Load(b); var b1 = Avx.MaskLoad(b + 8, m1);
            var x = Vector256.Create(*a); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[o1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[o2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[o3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[o4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
        }
        { float* p = c; Epilogue256(c00, relu).Store(p); Avx.MaskStore(p + 8, m1, Epilogue256(c01, relu)); }
        if (rows > 1) { float* p = c + 1 * ld; Epilogue256(c10, relu).Store(p); Avx.MaskStore(p + 8, m1, Epilogue256(c11, relu)); }
        if (rows > 2) { float* p = c + 2 * ld; Epilogue256(c20, relu).Store(p); Avx.MaskStore(p + 8, m1, Epilogue256(c21, relu)); }
        if (rows > 3) { float* p = c + 3 * ld; Epilogue256(c30, relu).Store(p); Avx.MaskStore(p + 8, m1, Epilogue256(c31, relu)); }
        if (rows > 4) { float* p = c + 4 * ld; Epilogue256(c40, relu).Store(p); Avx.MaskStore(p + 8, m1, Epilogue256(c41, relu)); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_4x1(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, Vector256<float> mask)
    {
        var init = bias != null ? Avx.MaskLoad(bias, mask) : Vector256<float>.Zero;
        Vector256<float> c0 = init, c1 = init, c2 = init, c3 = init;
        float* a0 = a, a1 = a + aRow, a2 = a + 2 * (nint)aRow, a3 = a + 3 * (nint)aRow;
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            var b0 = Avx.MaskLoad(b, mask);
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(*a0), b0, c0);
            c1 = Vector256.FusedMultiplyAdd(Vector256.Create(*a1), b0, c1);
            c2 = Vector256.FusedMultiplyAdd(Vector256.Create(*a2), b0, c2);
            c3 = Vector256.FusedMultiplyAdd(Vector256.Create(*a3), b0, c3);
            a0 += step; a1 += step; a2 += step; a3 += step;
            b += ldb;
        }
        Avx.MaskStore(c, mask, Epilogue256(c0, relu));
        Avx.MaskStore(c + ldc, mask, Epilogue256(c1, relu));
        Avx.MaskStore(c + 2 * (nint)ldc, mask, Epilogue256(c2, relu));
        Avx.MaskStore(c + 3 * (nint)ldc, mask, Epilogue256(c3, relu));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_1x1(float* c, float* a, int aK, float* b, int ldb, float* bias, bool relu, int K, Vector256<float> mask)
    {
        var c0 = bias != null ? Avx.MaskLoad(bias, mask) : Vector256<float>.Zero;
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            c0 = Vector256.FusedMultiplyAdd(Vector256.Create(*a), Avx.MaskLoad(b, mask), c0);
            a += step;
            b += ldb;
        }
        Avx.MaskStore(c, mask, Epilogue256(c0, relu));
    }
}

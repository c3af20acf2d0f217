using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>
/// Where a batch of matrices lives in a flat buffer: element (m, i, j) of model m is at
/// <c>Offset + m·ModelStride + i·RowStride + j·ColStride</c>. A transpose is the same buffer with the strides
/// swapped, so one GEMM kernel serves X·W, Xᵀ·dY and dY·Wᵀ.
/// </summary>
internal struct MatrixLayout
{
    public long Offset;
    public long ModelStride;
    public int RowStride;
    public int ColStride;

    public MatrixLayout(long offset, long modelStride, int rowStride, int colStride)
    {
        Offset = offset; ModelStride = modelStride; RowStride = rowStride; ColStride = colStride;
    }

    /// <summary>Row-major (rows, cols) matrices, one every <paramref name="modelStride"/> elements.</summary>
    public static MatrixLayout RowMajor(long offset, long modelStride, int cols) => new(offset, modelStride, cols, 1);

    /// <summary>The transpose of row-major (rows, cols) matrices: element (i, j) is stored at [j, i].</summary>
    public static MatrixLayout Transposed(long offset, long modelStride, int storedCols) => new(offset, modelStride, 1, storedCols);

    public long At(int m, int i, int j) => Offset + m * ModelStride + (long)i * RowStride + (long)j * ColStride;
}

/// <summary>Sizes of one batched product C (Rows, Cols) = A (Rows, Inner) · B (Inner, Cols), per model.</summary>
internal struct GemmSize
{
    public int Rows, Inner, Cols;
    public GemmSize(int rows, int inner, int cols) { Rows = rows; Inner = inner; Cols = cols; }
}

/// <summary>What happens to each output element after the dot product (bias and activation fused in).</summary>
internal struct GemmEpilogue
{
    /// <summary>0: C = A·B. 1: C = A·B + bias. 2: C = ReLU(A·B + bias).</summary>
    public int Mode;
    /// <summary>Bias element j of model m is at <c>BiasOffset + m·BiasModelStride + j</c>.</summary>
    public long BiasOffset;
    public long BiasModelStride;

    public const int None = 0, Bias = 1, BiasRelu = 2;

    public GemmEpilogue(int mode, long biasOffset, long biasModelStride)
    {
        Mode = mode; BiasOffset = biasOffset; BiasModelStride = biasModelStride;
    }
}

/// <summary>16 running sums of one thread's 4×4 output patch, kept in registers.</summary>
internal struct Accumulator4x4
{
    public float C00, C01, C02, C03, C10, C11, C12, C13, C20, C21, C22, C23, C30, C31, C32, C33;

    public void Fma(float a0, float a1, float a2, float a3, float b0, float b1, float b2, float b3)
    {
        C00 += a0 * b0; C01 += a0 * b1; C02 += a0 * b2; C03 += a0 * b3;
        C10 += a1 * b0; C11 += a1 * b1; C12 += a1 * b2; C13 += a1 * b3;
        C20 += a2 * b0; C21 += a2 * b1; C22 += a2 * b2; C23 += a2 * b3;
        C30 += a3 * b0; C31 += a3 * b1; C32 += a3 * b2; C33 += a3 * b3;
    }

    /// <summary>Writes the 16 sums through <paramref name="s"/>, each with constant (i, j) (see <see cref="Accumulator8x8.StoreTo"/>).</summary>
    public readonly void StoreTo<TSink>(in TSink s) where TSink : struct, ITileSink
    {
        s.Write(0, 0, C00); s.Write(0, 1, C01); s.Write(0, 2, C02); s.Write(0, 3, C03);
        s.Write(1, 0, C10); s.Write(1, 1, C11); s.Write(1, 2, C12); s.Write(1, 3, C13);
        s.Write(2, 0, C20); s.Write(2, 1, C21); s.Write(2, 2, C22); s.Write(2, 3, C23);
        s.Write(3, 0, C30); s.Write(3, 1, C31); s.Write(3, 2, C32); s.Write(3, 3, C33);
    }
}

/// <summary>Where the epilogue puts sum (i, j) of a thread's output patch: <see cref="TileStore"/> or <see cref="TileSgd"/>.</summary>
internal interface ITileSink
{
    void Write(int i, int j, float v);
}

/// <summary>
/// The epilogue of one thread's output patch: sum (i, j) of the patch is output element (Row0 + RowStep·i,
/// Col0 + ColStep·j) of model M, written with the bias and activation of <see cref="Epilogue"/> unless it lies past the
/// matrix edge. Addresses are the model's 64-bit base plus a 32-bit offset within its matrix.
/// </summary>
internal struct TileStore : ITileSink
{
    public ArrayView<float> C;
    public MatrixLayout Layout;
    public ArrayView<float> Bias;
    public GemmEpilogue Epilogue;
    public GemmSize Size;
    public int M, Row0, Col0, RowStep, ColStep;

    public readonly void Write(int i, int j, float v)
    {
        int row = Row0 + RowStep * i, col = Col0 + ColStep * j;
        if (row >= Size.Rows || col >= Size.Cols) return;
        if (Epilogue.Mode != GemmEpilogue.None)
            v = ActivationKernels.BiasActivation(v, Bias[Epilogue.BiasOffset + M * Epilogue.BiasModelStride + col], Epilogue.Mode == GemmEpilogue.BiasRelu);
        C[Layout.Offset + M * Layout.ModelStride + (row * Layout.RowStride + col * Layout.ColStride)] = v;
    }
}

/// <summary>
/// Batched GEMM where the batch axis is the model: for every model m, C_m = epilogue(A_m · B_m). Shapes per model:
/// A (Rows, Inner), B (Inner, Cols), C (Rows, Cols), each addressed through a <see cref="MatrixLayout"/>:
/// forward Y (M, B, H) = X (M, B, D) · W (M, D, H); weight gradient dW (M, D, H) = Xᵀ · dY; input gradient
/// dX (M, B, D) = dY · Wᵀ. Three kernels, llm.c-style numbered by ambition, all with the same arguments:
/// <list type="number">
/// <item><see cref="BatchedGemmThinKernel"/>: one thread per output element, no shared memory; for outputs a
/// tile would mostly waste (≤ 32 columns, e.g. the 10 logits).</item>
/// <item><see cref="BatchedGemmKernel"/>: 16×16 threads per 64×64 tile, 4×4 outputs per thread (8 shared loads per
/// 16 FMAs, so at most about half of FP32 peak).</item>
/// <item><see cref="BatchedGemm64x128Kernel"/>: 16×8 threads per 64×128 tile, 8×8 outputs per thread (16 shared loads
/// per 64 FMAs); a 64-row batch times a 128-wide layer is one tile per model. The default for wide outputs.</item>
/// <item><see cref="Gemm128Kernels.BatchedGemm128x128Kernel"/>: 16×16 threads per 128×128 tile, 8×8 outputs per
/// thread, layouts as type parameters, 16-byte loads, register double buffering (see there). Timed by the GPU check;
/// not yet the trainer's choice (that waits for device figures).</item>
/// </list>
/// Tiles step through Inner 16 at a time in shared memory (8 in the 128×128 kernel); tiles past the matrix edge are zero-padded.
/// <see cref="Choose"/> picks the kernel for a product.
/// </summary>
internal static class GemmKernels
{
    /// <summary>Output tile edge per group.</summary>
    public const int TileRows = 64, TileCols = 64;
    /// <summary>Inner-dimension step held in shared memory.</summary>
    public const int TileInner = 16;
    /// <summary>Threads per group edge: the group is ThreadsPerEdge × ThreadsPerEdge = 256 threads.</summary>
    public const int ThreadsPerEdge = 16;
    public const int GroupSize = ThreadsPerEdge * ThreadsPerEdge;
    /// <summary>
    /// Row pitch of the shared tiles: one float of padding, so that a warp storing a k-contiguous column of a tile
    /// (transposed loads) hits 32 different banks instead of one.
    /// </summary>
    public const int TilePitch = TileRows + 1;
    /// <summary>Output columns per group of the 64×128 kernel, its threads along y, and its B-tile pitch.</summary>
    public const int WideTileCols = 128, WideThreadsY = 8, WideGroupSize = ThreadsPerEdge * WideThreadsY, WidePitch = WideTileCols + 1;

    /// <summary>Which GEMM kernel a product of this size runs on.</summary>
    public enum Variant { Thin, Tile64x64, Tile64x128, Tile128x128 }

    /// <summary>
    /// Thin for ≤ 32 output columns (a tile would be mostly padding), 64×64 up to 64 columns, 128×128 when there are
    /// also more than 64 rows (a 128-row batch times a 128-wide layer is one tile per model: W0 read once), else 64×128.
    /// Every variant sums each output over k in the same order, so the choice never changes a result.
    /// </summary>
    public static Variant Choose(GemmSize size) =>
        size.Cols <= 32 ? Variant.Thin : size.Cols <= 64 ? Variant.Tile64x64 : size.Rows > 64 ? Variant.Tile128x128 : Variant.Tile64x128;

    /// <summary>Launch shape of a tiled variant: grid (col tiles, row tiles, models), group (16, 16) or (16, 8).</summary>
    public static KernelConfig Config(Variant variant, GemmSize size, int models) => variant switch
    {
        Variant.Tile64x128 => new KernelConfig(
            new Index3D((size.Cols + WideTileCols - 1) / WideTileCols, (size.Rows + TileRows - 1) / TileRows, models),
            new Index3D(ThreadsPerEdge, WideThreadsY, 1)),
        Variant.Tile64x64 => Config(size, models),
        Variant.Tile128x128 => Gemm128Kernels.Config(size, models),
        _ => throw new ArgumentException("the thin GEMM is auto-grouped; launch it over Index1D(models · rows · cols)"),
    };

    /// <summary>Launch shape: grid (col tiles, row tiles, models), group (16, 16).</summary>
    public static KernelConfig Config(GemmSize size, int models) => new(
        new Index3D((size.Cols + TileCols - 1) / TileCols, (size.Rows + TileRows - 1) / TileRows, models),
        new Index3D(ThreadsPerEdge, ThreadsPerEdge, 1));

    /// <summary>Explicitly grouped kernel; launch with <see cref="Config"/>.</summary>
    public static void BatchedGemmKernel(ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a, MatrixLayout aLayout,
                                         ArrayView<float> b, MatrixLayout bLayout, GemmSize size, GemmEpilogue epilogue,
                                         ArrayView<float> bias)
    {
        // (TileInner, TilePitch) each: k-major so the inner loop reads rows of both.
        var aTile = SharedMemory.Allocate<float>(TileInner * TilePitch);
        var bTile = SharedMemory.Allocate<float>(TileInner * TilePitch);

        int m = Grid.IdxZ;
        int rowBase = Grid.IdxY * TileRows, colBase = Grid.IdxX * TileCols;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tid = ty * ThreadsPerEdge + tx;
        // Load along whichever axis is contiguous in memory, so neighbouring threads read neighbouring floats.
        bool aInnerContiguous = aLayout.ColStride == 1;
        bool bColsContiguous = bLayout.ColStride == 1;

        var acc = new Accumulator4x4();
        for (int k0 = 0; k0 < size.Inner; k0 += TileInner)
        {
            for (int l = 0; l < TileInner * TileRows / GroupSize; l++)
            {
                int e = tid + GroupSize * l;
                int kk = aInnerContiguous ? e % TileInner : e / TileRows;
                int ii = aInnerContiguous ? e / TileInner : e % TileRows;
                int i = rowBase + ii, k = k0 + kk;
                aTile[kk * TilePitch + ii] = i < size.Rows && k < size.Inner ? a[aLayout.At(m, i, k)] : 0f;
            }
            for (int l = 0; l < TileInner * TileCols / GroupSize; l++)
            {
                int e = tid + GroupSize * l;
                int kk = bColsContiguous ? e / TileCols : e % TileInner;
                int jj = bColsContiguous ? e % TileCols : e / TileInner;
                int j = colBase + jj, k = k0 + kk;
                bTile[kk * TilePitch + jj] = j < size.Cols && k < size.Inner ? b[bLayout.At(m, k, j)] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < TileInner; kk++)
            {
                int ao = kk * TilePitch + ty, bo = kk * TilePitch + tx;
                acc.Fma(aTile[ao], aTile[ao + 16], aTile[ao + 32], aTile[ao + 48],
                        bTile[bo], bTile[bo + 16], bTile[bo + 32], bTile[bo + 48]);
            }
            Group.Barrier();
        }

        // Thread (tx, ty) owns rows ty + 16·i and cols tx + 16·j of the tile.
        acc.StoreTo(new TileStore
        {
            C = c, Layout = cLayout, Bias = bias, Epilogue = epilogue, Size = size, M = m,
            Row0 = rowBase + ty, Col0 = colBase + tx, RowStep = ThreadsPerEdge, ColStep = ThreadsPerEdge,
        });
    }

    /// <summary>
    /// Explicitly grouped 64×128 tile, 128 threads (16 × 8), 8×8 outputs per thread: thread (tx, ty) owns rows
    /// ty + 8·i and columns tx + 16·j. Launch with <see cref="Config(Variant, GemmSize, int)"/>.
    /// </summary>
    public static void BatchedGemm64x128Kernel(ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a, MatrixLayout aLayout,
                                               ArrayView<float> b, MatrixLayout bLayout, GemmSize size, GemmEpilogue epilogue,
                                               ArrayView<float> bias)
    {
        var aTile = SharedMemory.Allocate<float>(TileInner * TilePitch);  // (16, 64 + 1)
        var bTile = SharedMemory.Allocate<float>(TileInner * WidePitch);  // (16, 128 + 1)

        int m = Grid.IdxZ;
        int rowBase = Grid.IdxY * TileRows, colBase = Grid.IdxX * WideTileCols;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tid = ty * ThreadsPerEdge + tx;
        bool aInnerContiguous = aLayout.ColStride == 1;
        bool bColsContiguous = bLayout.ColStride == 1;

        var acc = new Accumulator8x8();
        for (int k0 = 0; k0 < size.Inner; k0 += TileInner)
        {
            for (int l = 0; l < TileInner * TileRows / WideGroupSize; l++)
            {
                int e = tid + WideGroupSize * l;
                int kk = aInnerContiguous ? e % TileInner : e / TileRows;
                int ii = aInnerContiguous ? e / TileInner : e % TileRows;
                int i = rowBase + ii, k = k0 + kk;
                aTile[kk * TilePitch + ii] = i < size.Rows && k < size.Inner ? a[aLayout.At(m, i, k)] : 0f;
            }
            for (int l = 0; l < TileInner * WideTileCols / WideGroupSize; l++)
            {
                int e = tid + WideGroupSize * l;
                int kk = bColsContiguous ? e / WideTileCols : e % TileInner;
                int jj = bColsContiguous ? e % WideTileCols : e / TileInner;
                int j = colBase + jj, k = k0 + kk;
                bTile[kk * WidePitch + jj] = j < size.Cols && k < size.Inner ? b[bLayout.At(m, k, j)] : 0f;
            }
            Group.Barrier();
            for (int kk = 0; kk < TileInner; kk++)
            {
                int ao = kk * TilePitch + ty, bo = kk * WidePitch + tx;
                acc.Fma(aTile[ao], aTile[ao + 8], aTile[ao + 16], aTile[ao + 24], aTile[ao + 32], aTile[ao + 40], aTile[ao + 48], aTile[ao + 56],
                        bTile[bo], bTile[bo + 16], bTile[bo + 32], bTile[bo + 48], bTile[bo + 64], bTile[bo + 80], bTile[bo + 96], bTile[bo + 112]);
            }
            Group.Barrier();
        }

        acc.StoreTo(new TileStore
        {
            C = c, Layout = cLayout, Bias = bias, Epilogue = epilogue, Size = size, M = m,
            Row0 = rowBase + ty, Col0 = colBase + tx, RowStep = WideThreadsY, ColStep = ThreadsPerEdge,
        });
    }

    /// <summary>
    /// One thread per output element, e = (m·Rows + i)·Cols + j, the dot product straight from global memory (the A row
    /// is shared by neighbouring threads through the cache). For narrow outputs, where a tile would be mostly padding.
    /// </summary>
    public static void BatchedGemmThinKernel(Index1D e, ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a,
                                             MatrixLayout aLayout, ArrayView<float> b, MatrixLayout bLayout, GemmSize size,
                                             GemmEpilogue epilogue, ArrayView<float> bias)
    {
        int j = e % size.Cols, i = e / size.Cols % size.Rows, m = e / size.Cols / size.Rows;
        float sum = 0f;
        long ai = aLayout.At(m, i, 0), bj = bLayout.At(m, 0, j);
        for (int k = 0; k < size.Inner; k++)
            sum += a[ai + (long)k * aLayout.ColStride] * b[bj + (long)k * bLayout.RowStride];
        if (epilogue.Mode != GemmEpilogue.None)
            sum = ActivationKernels.BiasActivation(sum, bias[epilogue.BiasOffset + m * epilogue.BiasModelStride + j],
                                                   epilogue.Mode == GemmEpilogue.BiasRelu);
        c[cLayout.At(m, i, j)] = sum;
    }
}

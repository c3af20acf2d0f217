using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>
/// Where a batch of matrices lives in a flat buffer: element (m, i, j) of model m is at
/// <c>Offset + m·ModelStride + i·RowStride + j·ColStride</c>. A transpose is the same buffer with the strides
/// swapped, so one GEMM kernel serves X·W, Xᵀ·dY and dY·Wᵀ.
/// </summary>
public struct MatrixLayout
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
public struct GemmSize
{
    public int Rows, Inner, Cols;
    public GemmSize(int rows, int inner, int cols) { Rows = rows; Inner = inner; Cols = cols; }
}

/// <summary>What happens to each output element after the dot product (bias and activation fused in).</summary>
public struct GemmEpilogue
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
public struct Accumulator4x4
{
    public float C00, C01, C02, C03, C10, C11, C12, C13, C20, C21, C22, C23, C30, C31, C32, C33;

    public void Fma(float a0, float a1, float a2, float a3, float b0, float b1, float b2, float b3)
    {
        C00 += a0 * b0; C01 += a0 * b1; C02 += a0 * b2; C03 += a0 * b3;
        C10 += a1 * b0; C11 += a1 * b1; C12 += a1 * b2; C13 += a1 * b3;
        C20 += a2 * b0; C21 += a2 * b1; C22 += a2 * b2; C23 += a2 * b3;
        C30 += a3 * b0; C31 += a3 * b1; C32 += a3 * b2; C33 += a3 * b3;
    }

    public readonly float Get(int i, int j) => i switch
    {
        0 => j == 0 ? C00 : j == 1 ? C01 : j == 2 ? C02 : C03,
        1 => j == 0 ? C10 : j == 1 ? C11 : j == 2 ? C12 : C13,
        2 => j == 0 ? C20 : j == 1 ? C21 : j == 2 ? C22 : C23,
        _ => j == 0 ? C30 : j == 1 ? C31 : j == 2 ? C32 : C33,
    };
}

/// <summary>
/// Batched GEMM where the batch axis is the model: for every model m, C_m = epilogue(A_m · B_m). Shapes per model:
/// A (Rows, Inner), B (Inner, Cols), C (Rows, Cols), each addressed through a <see cref="MatrixLayout"/>:
/// forward Y (M, B, H) = X (M, B, D) · W (M, D, H); weight gradient dW (M, D, H) = Xᵀ · dY; input gradient
/// dX (M, B, D) = dY · Wᵀ. Shared-memory tiling: a group of 16×16 threads computes a 64×64 tile of C, each thread
/// a 4×4 patch in registers, stepping through Inner 16 at a time; tiles past the matrix edge are zero-padded.
/// </summary>
public static class GemmKernels
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
        for (int i4 = 0; i4 < 4; i4++)
        {
            int i = rowBase + ty + ThreadsPerEdge * i4;
            if (i >= size.Rows) break;
            for (int j4 = 0; j4 < 4; j4++)
            {
                int j = colBase + tx + ThreadsPerEdge * j4;
                if (j >= size.Cols) break;
                float v = acc.Get(i4, j4);
                if (epilogue.Mode != GemmEpilogue.None)
                    v = ActivationKernels.BiasActivation(v, bias[epilogue.BiasOffset + m * epilogue.BiasModelStride + j],
                                                         epilogue.Mode == GemmEpilogue.BiasRelu);
                c[cLayout.At(m, i, j)] = v;
            }
        }
    }
}

using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>
/// Which logical axis of a GEMM operand is contiguous in memory, as a type so that each kernel instantiation
/// compiles one loader with no run-time layout test: A (Rows, Inner) and B (Inner, Cols) are either contiguous along
/// k (the inner axis: A row-major, B = Wᵀ) or along their output axis (A = Xᵀ, B row-major). Like
/// <c>IFusedMultiplyAdd</c>, implementations are empty structs whose property ILGPU folds to a constant.
/// </summary>
internal interface IContiguousAxis
{
    bool IsAlongK { get; }
}

/// <summary>The operand's unit stride is along k (ColStride = 1 for A, RowStride = 1 for B).</summary>
internal readonly struct AlongK : IContiguousAxis
{
    public bool IsAlongK => true;
}

/// <summary>The operand's unit stride is along its output axis (RowStride = 1 for A, ColStride = 1 for B).</summary>
internal readonly struct AlongOutput : IContiguousAxis
{
    public bool IsAlongK => false;
}

/// <summary>
/// SGD with momentum and weight decay (PyTorch semantics): momentum μ, weight decay λ. The step η_t is per model and
/// per step (a warm-up counts each model's own steps), so it comes with the <see cref="StepMask"/>.
/// </summary>
internal struct SgdStep
{
    public float Momentum, WeightDecay;
    public SgdStep(float momentum, float weightDecay) { Momentum = momentum; WeightDecay = weightDecay; }
}

/// <summary>
/// Which models of a chunk take an optimizer step, and how large: model m does when it has rows in the batch,
/// <c>RowCounts[m] &gt; BatchStart</c> (its training rows, or its view rows), with step η_t = <c>LearningRates[m]</c>,
/// computed on the host for the model's own step index (<see cref="NativeCert.Engine.TrainingOptions.LearningRateAt"/>).
/// A model that does not step keeps its weights and velocity bit for bit. On the all-rows path every count is n and
/// every model steps.
/// </summary>
internal struct StepMask
{
    /// <summary>Rows per model, <c>(M)</c>.</summary>
    public ArrayView<int> RowCounts;
    /// <summary>First row (view position) of the batch.</summary>
    public int BatchStart;
    /// <summary>This step's learning rate η_t of each model, <c>(M)</c> (read only for models that step).</summary>
    public ArrayView<float> LearningRates;

    public StepMask(ArrayView<int> rowCounts, int batchStart, ArrayView<float> learningRates)
    {
        RowCounts = rowCounts; BatchStart = batchStart; LearningRates = learningRates;
    }

    public readonly bool Takes(int m) => RowCounts[m] > BatchStart;

    /// <summary>Model m's step η_t.</summary>
    public readonly float LearningRate(int m) => LearningRates[m];
}

/// <summary>A thread's 8×8 product patch and, for the fused weight-gradient kernel, its 8 column sums of B.</summary>
internal struct TileProduct
{
    public Accumulator8x8 Acc;
    public float S0, S1, S2, S3, S4, S5, S6, S7;
}

/// <summary>
/// The fused optimizer epilogue: gradient (i, j) of the patch belongs to parameter (Row0 + i, Col0 + j) of model
/// M's matrix in <see cref="Layout"/>; g ← ∇ + λw; v ← μv + g; w ← w − ηv, as <see cref="OptimizerKernels.SgdMomentumKernel"/>.
/// </summary>
internal struct TileSgd : ITileSink
{
    public ArrayView<float> Parameters, Velocity;
    public MatrixLayout Layout;
    public GemmSize Size;
    public SgdStep Step;
    /// <summary>Model M's step η_t.</summary>
    public float LearningRate;
    public int M, Row0, Col0;

    public readonly void Write(int i, int j, float gradient)
    {
        int row = Row0 + i, col = Col0 + j;
        if (row >= Size.Rows || col >= Size.Cols) return;
        long e = Layout.Offset + M * Layout.ModelStride + (row * Layout.RowStride + col * Layout.ColStride);
        float w = Parameters[e];
        float g = gradient + Step.WeightDecay * w;
        float v = Step.Momentum * Velocity[e] + g;
        Velocity[e] = v;
        Parameters[e] = w - LearningRate * v;
    }
}

/// <summary>Four floats loaded or stored as one 16-byte access (ld/st .v4.f32 in PTX).</summary>
internal struct Float4
{
    public float X, Y, Z, W;
}

/// <summary>
/// The 128×128 batched GEMM (<see cref="GemmKernels.Variant.Tile128x128"/>): C_m = epilogue(A_m · B_m), 256
/// threads (16 × 16) per 128×128 output tile, 8×8 outputs per thread in registers, k in steps of 8:
/// <list type="bullet">
/// <item>layouts as type parameters (the kernel's <c>TA</c>, <c>TB</c>: which axis is
/// contiguous), so the tile loader is straight-line code;</item>
/// <item>32-bit offsets within a model's matrix (the model's base is one 64-bit offset);</item>
/// <item>16-byte global loads (one float4 of A and one of B per thread per k-step) where the operand is 16-byte
/// aligned, scalar loads at ragged edges; 16-byte shared loads in the inner loop (4 LDS.128 per 64 FMAs);</item>
/// <item>register double buffering: tile k+1 is loaded from global memory into registers while tile k is multiplied
/// out of shared memory, and two shared buffers alternate, so each k-step has one barrier;</item>
/// <item>a 128×128 tile: a 128-row batch × a 128-wide layer is one tile per model, so W0 is read once per model.</item>
/// </list>
/// Thread (tx, ty) owns rows 8·ty … 8·ty+7 and columns 8·tx … 8·tx+7 of the tile. Every output element is one FMA
/// chain over k ascending, like the other variants.
/// </summary>
internal static class Gemm128Kernels
{
    public const int Tile = 128, Depth = 8, Threads = 16, GroupSize = Threads * Threads;
    /// <summary>Shared row pitch: 128 + 4 floats keeps rows 16-byte aligned and spreads transposed stores over all 32 banks.</summary>
    public const int Pitch = Tile + 4;
    private const int Buffer = Depth * Pitch;

    /// <summary>Launch shape: grid (col tiles, row tiles, models), group (16, 16).</summary>
    public static KernelConfig Config(GemmSize size, int models) => new(
        new Index3D((size.Cols + Tile - 1) / Tile, (size.Rows + Tile - 1) / Tile, models),
        new Index3D(Threads, Threads, 1));

    public static void BatchedGemm128x128Kernel<TA, TB>(ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a, MatrixLayout aLayout,
                                                        ArrayView<float> b, MatrixLayout bLayout, GemmSize size, GemmEpilogue epilogue,
                                                        ArrayView<float> bias)
        where TA : struct, IContiguousAxis where TB : struct, IContiguousAxis
    {
        var tile = Multiply<TA, TB>(a, aLayout, b, bLayout, size, sumColumnsOfB: false);
        int m = Grid.IdxZ, tx = Group.IdxX, ty = Group.IdxY;
        tile.Acc.StoreTo(new TileStore
        {
            C = c, Layout = cLayout, Bias = bias, Epilogue = epilogue, Size = size, M = m,
            Row0 = Grid.IdxY * Tile + ty * 8, Col0 = Grid.IdxX * Tile + tx * 8, RowStep = 1, ColStep = 1,
        });
    }

    /// <summary>
    /// The weight-gradient product fused with its optimizer step, for a layer's W (In, Out) and b (Out): per model,
    /// dW = Xᵀ·dZ (A = Xᵀ and B = dZ both contiguous along their output axis), db = Σ_rows dZ summed from the dZ tiles
    /// this kernel already holds in shared memory, then SGD with momentum and weight decay on W and b in the epilogue
    /// (<see cref="OptimizerKernels.SgdMomentumKernel"/>'s arithmetic, element by element), so neither gradient is
    /// written to or read back from memory: per 784-128-10 step that saves the dW0 write and the separate SGD pass's
    /// gradient read (0.8 MB per model). The layer's dX = dZ·Wᵀ must run before this kernel (it reads W before the
    /// update). Launch with <see cref="Config"/> on size (In, rows, Out). A model <paramref name="mask"/> leaves out
    /// does nothing (its whole group returns before the first barrier).
    /// </summary>
    /// <param name="parameters">Flat (M, P) parameters; W at <paramref name="weights"/>, b at bias offset + m·P.</param>
    /// <param name="velocity">Flat (M, P) momentum buffer, same layout as <paramref name="parameters"/>.</param>
    public static void BatchedWeightGradientSgdKernel(ArrayView<float> parameters, ArrayView<float> velocity, MatrixLayout weights,
                                                      long biasOffset, ArrayView<float> x, MatrixLayout xTransposed,
                                                      ArrayView<float> dz, MatrixLayout dzLayout, GemmSize size, SgdStep step, StepMask mask)
    {
        if (!mask.Takes(Grid.IdxZ)) return;
        bool biasTile = Grid.IdxY == 0;
        var tile = Multiply<AlongOutput, AlongOutput>(x, xTransposed, dz, dzLayout, size, sumColumnsOfB: biasTile);
        int m = Grid.IdxZ, tx = Group.IdxX, ty = Group.IdxY;
        float learningRate = mask.LearningRate(m);
        tile.Acc.StoreTo(new TileSgd
        {
            Parameters = parameters, Velocity = velocity, Layout = weights, Size = size, Step = step, LearningRate = learningRate, M = m,
            Row0 = Grid.IdxY * Tile + ty * 8, Col0 = Grid.IdxX * Tile + tx * 8,
        });
        if (biasTile && ty == 0)
        {
            // The first row of threads of the first row tile holds db for its 8 columns.
            var sgd = new TileSgd
            {
                Parameters = parameters, Velocity = velocity, Layout = new MatrixLayout(biasOffset, weights.ModelStride, 0, 1),
                Size = new GemmSize(1, 0, size.Cols), Step = step, LearningRate = learningRate, M = m, Row0 = 0, Col0 = Grid.IdxX * Tile + tx * 8,
            };
            sgd.Write(0, 0, tile.S0); sgd.Write(0, 1, tile.S1); sgd.Write(0, 2, tile.S2); sgd.Write(0, 3, tile.S3);
            sgd.Write(0, 4, tile.S4); sgd.Write(0, 5, tile.S5); sgd.Write(0, 6, tile.S6); sgd.Write(0, 7, tile.S7);
        }
    }

    /// <summary>
    /// This thread's 8×8 patch of the tile (Grid.IdxX, Grid.IdxY) of A_m·B_m, m = Grid.IdxZ, and, when
    /// <paramref name="sumColumnsOfB"/>, in the threads of row ty = 0, the sums over k of B's 8 columns of this thread
    /// (k ascending, as a bias gradient's sum over rows runs).
    /// </summary>
    private static TileProduct Multiply<TA, TB>(ArrayView<float> a, MatrixLayout aLayout, ArrayView<float> b, MatrixLayout bLayout,
                                                GemmSize size, bool sumColumnsOfB)
        where TA : struct, IContiguousAxis where TB : struct, IContiguousAxis
    {
        // Two buffers each of A (Depth, Pitch) k-major and B (Depth, Pitch) k-major.
        var aTiles = SharedMemory.Allocate<float>(2 * Buffer);
        var bTiles = SharedMemory.Allocate<float>(2 * Buffer);
        int m = Grid.IdxZ;
        int rowBase = Grid.IdxY * Tile, colBase = Grid.IdxX * Tile;
        int tx = Group.IdxX, ty = Group.IdxY, t = ty * Threads + tx;
        long aBase = aLayout.Offset + m * aLayout.ModelStride, bBase = bLayout.Offset + m * bLayout.ModelStride;
        // The other axis' stride; the contiguous one is 1.
        int aStride = default(TA).IsAlongK ? aLayout.RowStride : aLayout.ColStride;
        int bStride = default(TB).IsAlongK ? bLayout.ColStride : bLayout.RowStride;
        bool aVector = aBase % 4 == 0 && aStride % 4 == 0;
        bool bVector = bBase % 4 == 0 && bStride % 4 == 0;
        // This thread's element quad of each tile: along k (row or column t/2, k quad 4·(t%2)) or along the
        // output axis (k = t/32, quad 4·(t%32)).
        int aOuter = default(TA).IsAlongK ? t >> 1 : (t & 31) << 2, aK = default(TA).IsAlongK ? (t & 1) << 2 : t >> 5;
        int bOuter = default(TB).IsAlongK ? t >> 1 : (t & 31) << 2, bK = default(TB).IsAlongK ? (t & 1) << 2 : t >> 5;
        bool sums = sumColumnsOfB && ty == 0;

        var p = new TileProduct();
        Float4 aNext = Load<TA>(a, aBase, aStride, aVector, rowBase + aOuter, aK, size.Rows, size.Inner);
        Float4 bNext = Load<TB>(b, bBase, bStride, bVector, colBase + bOuter, bK, size.Cols, size.Inner);
        Store<TA>(aTiles, 0, aOuter, aK, aNext);
        Store<TB>(bTiles, 0, bOuter, bK, bNext);
        Group.Barrier();
        int steps = (size.Inner + Depth - 1) / Depth;
        for (int step = 0; step < steps; step++)
        {
            int current = (step & 1) * Buffer;
            bool more = step + 1 < steps;
            if (more)
            {
                int k0 = (step + 1) * Depth;
                aNext = Load<TA>(a, aBase, aStride, aVector, rowBase + aOuter, k0 + aK, size.Rows, size.Inner);
                bNext = Load<TB>(b, bBase, bStride, bVector, colBase + bOuter, k0 + bK, size.Cols, size.Inner);
            }
            var a4 = aTiles.Cast<Float4>();
            var b4 = bTiles.Cast<Float4>();
            for (int kk = 0; kk < Depth; kk++)
            {
                int ao = (current + kk * Pitch + ty * 8) >> 2, bo = (current + kk * Pitch + tx * 8) >> 2;
                Float4 a0 = a4[ao], a1 = a4[ao + 1], b0 = b4[bo], b1 = b4[bo + 1];
                p.Acc.Fma(a0.X, a0.Y, a0.Z, a0.W, a1.X, a1.Y, a1.Z, a1.W, b0.X, b0.Y, b0.Z, b0.W, b1.X, b1.Y, b1.Z, b1.W);
                if (sums)
                {
                    p.S0 += b0.X; p.S1 += b0.Y; p.S2 += b0.Z; p.S3 += b0.W;
                    p.S4 += b1.X; p.S5 += b1.Y; p.S6 += b1.Z; p.S7 += b1.W;
                }
            }
            if (more)
            {
                int next = Buffer - current;
                Store<TA>(aTiles, next, aOuter, aK, aNext);
                Store<TB>(bTiles, next, bOuter, bK, bNext);
            }
            Group.Barrier();
        }
        return p;
    }

    /// <summary>
    /// Four consecutive elements along the operand's contiguous axis from (outer, k): (outer, k … k+3) when it is
    /// contiguous along k, else (outer … outer+3, k); zeros past the matrix edge (<paramref name="outerExtent"/>,
    /// <paramref name="inner"/>). One 16-byte load when the model's matrix is 16-byte aligned and the quad is inside.
    /// </summary>
    private static Float4 Load<T>(ArrayView<float> view, long modelBase, int stride, bool vector, int outer, int k, int outerExtent, int inner)
        where T : struct, IContiguousAxis
    {
        Float4 v = default;
        if (default(T).IsAlongK)
        {
            if (outer >= outerExtent) return v;
            long o = modelBase + (outer * stride + k); // 32-bit offset within the model's matrix
            if (vector && k + 3 < inner) return view.Cast<Float4>()[o >> 2];
            if (k < inner) v.X = view[o];
            if (k + 1 < inner) v.Y = view[o + 1];
            if (k + 2 < inner) v.Z = view[o + 2];
            if (k + 3 < inner) v.W = view[o + 3];
        }
        else
        {
            if (k >= inner) return v;
            long o = modelBase + (k * stride + outer);
            if (vector && outer + 3 < outerExtent) return view.Cast<Float4>()[o >> 2];
            if (outer < outerExtent) v.X = view[o];
            if (outer + 1 < outerExtent) v.Y = view[o + 1];
            if (outer + 2 < outerExtent) v.Z = view[o + 2];
            if (outer + 3 < outerExtent) v.W = view[o + 3];
        }
        return v;
    }

    /// <summary>Writes a loaded quad into the k-major shared tile at <paramref name="buffer"/>.</summary>
    private static void Store<T>(ArrayView<float> tiles, int buffer, int outer, int k, Float4 v) where T : struct, IContiguousAxis
    {
        if (default(T).IsAlongK)
        {
            // Transposed: the quad runs along k.
            int o = buffer + k * Pitch + outer;
            tiles[o] = v.X;
            tiles[o + Pitch] = v.Y;
            tiles[o + 2 * Pitch] = v.Z;
            tiles[o + 3 * Pitch] = v.W;
        }
        else
        {
            tiles.Cast<Float4>()[(buffer + k * Pitch + outer) >> 2] = v;
        }
    }
}

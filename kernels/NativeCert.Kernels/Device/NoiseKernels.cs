using ILGPU;
using ILGPU.Runtime.Cuda;
using NativeCert.Noise;

namespace NativeCert.Kernels.Device;

/// <summary>
/// One inline PTX <c>fma.rn.f32</c> (IEEE fused multiply-add, round to nearest even): the FMA of the CUDA noise
/// kernels (see <see cref="IFusedMultiplyAdd"/>; ILGPU 1.5.3 has no FMA intrinsic).
/// </summary>
internal readonly struct PtxFma : IFusedMultiplyAdd
{
    public float Fma(float a, float b, float c)
    {
        CudaAsm.Emit("fma.rn.f32 %0, %1, %2, %3;", out float result, a, b, c);
        return result;
    }
}

/// <summary>
/// Device side of the noise contract (docs/engine.md): Philox4x32-10 with key (seed low, seed high) and
/// counter (index/4, row, model, stream), then Box–Muller on lane pairs (0,1) and (2,3). Both are the CPU
/// engine's own code (<see cref="Philox4x32.Block"/>, <see cref="PolynomialBoxMuller"/>), compiled by ILGPU, so CPU
/// and GPU engines draw bit-identical noise by construction.
/// </summary>
internal static class NoiseKernels
{
    /// <summary>Block <paramref name="block"/> (= index/4) of row <paramref name="row"/> of a stream.</summary>
    public static PhiloxBlock StreamBlock(ulong seed, uint stream, uint model, uint row, uint block) =>
        Philox4x32.Block(block, row, model, stream, (uint)seed, (uint)(seed >> 32));

    /// <summary>
    /// Writes the four standard normals of one Philox block into <paramref name="output"/> at
    /// <paramref name="offset"/>, skipping lanes at or beyond <paramref name="end"/> (ragged row tails). When
    /// <paramref name="addend"/> is non-empty each lane is addend + scale·z (one FMA); otherwise z itself.
    /// </summary>
    public static void WriteGaussians<TFma>(PhiloxBlock bits, ArrayView<float> output, long offset, long end,
                                            ArrayView<float> addend, long addendOffset, float scale) where TFma : struct, IFusedMultiplyAdd
    {
        PolynomialBoxMuller.Transform<TFma>(bits.X0, bits.X1, out float z0, out float z1);
        PolynomialBoxMuller.Transform<TFma>(bits.X2, bits.X3, out float z2, out float z3);
        bool add = addend.Length > 0;
        // x + σ·z as one FMA, as the CPU engine does (docs/engine.md allows FMA or multiply-then-add).
        if (offset < end) output[offset] = add ? default(TFma).Fma(scale, z0, addend[addendOffset]) : z0;
        if (offset + 1 < end) output[offset + 1] = add ? default(TFma).Fma(scale, z1, addend[addendOffset + 1]) : z1;
        if (offset + 2 < end) output[offset + 2] = add ? default(TFma).Fma(scale, z2, addend[addendOffset + 2]) : z2;
        if (offset + 3 < end) output[offset + 3] = add ? default(TFma).Fma(scale, z3, addend[addendOffset + 3]) : z3;
    }

    /// <summary>
    /// The noisy training batch, gathered and noised in one pass: x[m, r, f] = features[j, f] + σ·z(TrainingNoise,
    /// model, j, f) with j = perm[m, batchStart + r]. Because the noise is a function of (model, j, f) only, every
    /// epoch sees the same noisy copy of example j without storing M noisy training sets.
    /// One thread per (model, row, block of 4 features), flattened so that every launch fills whole groups:
    /// e = (m·rows + r)·⌈D/4⌉ + block. <paramref name="x"/> is <c>(M, batchCapacity, D)</c>, <paramref name="perm"/> <c>(M, n)</c>.
    /// </summary>
    public static void GatherNoisyTrainingRowsKernel<TFma>(Index1D e, ArrayView<float> x, ArrayView<float> features,
        ArrayView<int> perm, int batchStart, int n, int dimension, int batchCapacity, int rows, float sigma, ulong seed, uint modelBase)
        where TFma : struct, IFusedMultiplyAdd
    {
        int blocksPerRow = (dimension + 3) / 4;
        int block = e % blocksPerRow, r = e / blocksPerRow % rows, m = e / blocksPerRow / rows;
        int j = perm[m * (long)n + batchStart + r];
        if ((uint)j >= (uint)n) return; // a corrupt permutation must not read out of bounds
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.TrainingNoise, modelBase + (uint)m, (uint)j, (uint)block);
        long rowStart = (m * (long)batchCapacity + r) * dimension;
        WriteGaussians<TFma>(b, x, rowStart + 4L * block, rowStart + dimension, features, j * (long)dimension + 4L * block, sigma);
    }

    /// <summary>
    /// The noisy training batch of per-model training views (<see cref="ViewBatch"/>): model m's view row j is training
    /// row viewRows[m, j], noised as row j of the view, x[m, r, f] = features[viewRows[m, j], f] + σ·z(TrainingNoise, model, j, f)
    /// with j = perm[m, batchStart + r], exactly the CPU engine's view training. Rows r at or past model m's rows in the
    /// batch are written as zeros, so the shared-size GEMMs see finite padding whose products add exact zeros to every
    /// sum. Threads as in <see cref="GatherNoisyTrainingRowsKernel"/>, <paramref name="rows"/> the most rows any model has.
    /// </summary>
    internal static void GatherNoisyViewRowsKernel<TFma>(Index1D e, ArrayView<float> x, ArrayView<float> features, ViewBatch view,
        int dimension, int batchCapacity, int rows, float sigma, ulong seed, uint modelBase)
        where TFma : struct, IFusedMultiplyAdd
    {
        int blocksPerRow = (dimension + 3) / 4;
        int block = e % blocksPerRow, r = e / blocksPerRow % rows, m = e / blocksPerRow / rows;
        long rowStart = (m * (long)batchCapacity + r) * dimension;
        long offset = rowStart + 4L * block, end = rowStart + dimension;
        if (r >= view.RowsLeft(m))
        {
            for (int lane = 0; lane < 4; lane++)
                if (offset + lane < end) x[offset + lane] = 0f;
            return;
        }
        int t = view.TrainingRow(m, r, out int j);
        if (t < 0) return;
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.TrainingNoise, modelBase + (uint)m, (uint)j, (uint)block);
        WriteGaussians<TFma>(b, x, offset, end, features, t * (long)dimension + 4L * block, sigma);
    }

    /// <summary>
    /// The noisy test batch: x[m, t, f] = inputs[inputStart + t, f] + σ·z(TestNoise, model, inputStart + t, f), one draw
    /// per (model, input). One thread per (model, row t, block of 4 features), flattened like
    /// <see cref="GatherNoisyTrainingRowsKernel"/>; <paramref name="x"/> is <c>(M, batchCapacity, D)</c>.
    /// </summary>
    public static void NoisyTestRowsKernel<TFma>(Index1D e, ArrayView<float> x, ArrayView<float> inputs,
        int inputStart, int dimension, int batchCapacity, int rows, float sigma, ulong seed, uint modelBase)
        where TFma : struct, IFusedMultiplyAdd
    {
        int blocksPerRow = (dimension + 3) / 4;
        int block = e % blocksPerRow, t = e / blocksPerRow % rows, m = e / blocksPerRow / rows;
        int row = inputStart + t;
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.TestNoise, modelBase + (uint)m, (uint)row, (uint)block);
        long rowStart = (m * (long)batchCapacity + t) * dimension;
        WriteGaussians<TFma>(b, x, rowStart + 4L * block, rowStart + dimension, inputs, row * (long)dimension + 4L * block, sigma);
    }

    /// <summary>
    /// He-normal init of the flat parameters <c>(M, P)</c>: w[m, p] = z(WeightInit, model, 0, p)·scale[p] with
    /// scale[p] = √(2 / in_l) for a weight of layer l and 0 for a bias (biases start at exactly 0).
    /// Thread (block, m) fills parameters 4·block … 4·block+3.
    /// </summary>
    public static void HeInitKernel<TFma>(Index2D index, ArrayView<float> parameters, ArrayView<float> scale,
                                          int parameterCount, ulong seed, uint modelBase) where TFma : struct, IFusedMultiplyAdd
    {
        int block = index.X, m = index.Y;
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.WeightInit, modelBase + (uint)m, 0u, (uint)block);
        PolynomialBoxMuller.Transform<TFma>(b.X0, b.X1, out float z0, out float z1);
        PolynomialBoxMuller.Transform<TFma>(b.X2, b.X3, out float z2, out float z3);
        long rowStart = m * (long)parameterCount;
        for (int lane = 0; lane < 4; lane++)
        {
            int p = 4 * block + lane;
            if (p >= parameterCount) break;
            float z = lane == 0 ? z0 : lane == 1 ? z1 : lane == 2 ? z2 : z3;
            float s = scale[p];
            parameters[rowStart + p] = s == 0f ? 0f : z * s;
        }
    }

    /// <summary>
    /// The per-epoch Fisher–Yates shuffle of docs/engine.md, one thread per model: π starts as the identity; for
    /// i = n−1 … 1, x = lane i%4 of Philox(i/4, epoch, model, Shuffle), j = (x·(i+1)) &gt;&gt; 32, swap π[i], π[j].
    /// <paramref name="perm"/> is <c>(M, n)</c>.
    /// </summary>
    public static void ShuffleKernel(Index1D m, ArrayView<int> perm, int n, int epoch, ulong seed, uint modelBase) =>
        ShuffleRow(perm, m * (long)n, n, epoch, seed, modelBase + (uint)m.X);

    /// <summary>
    /// <see cref="ShuffleKernel"/> over per-model training views: model m permutes its own <c>counts[m]</c> view rows
    /// (the CPU engine's permutation of a view of that many rows). <paramref name="perm"/> is <c>(M, stride)</c>, stride ≥
    /// every count; entries past a model's count are left as they are (never read).
    /// </summary>
    internal static void ShuffleViewKernel(Index1D m, ArrayView<int> perm, ArrayView<int> counts, int stride, int epoch, ulong seed, uint modelBase)
    {
        int n = counts[m];
        if ((uint)n > (uint)stride) return; // a corrupt count must not write out of bounds
        ShuffleRow(perm, m * (long)stride, n, epoch, seed, modelBase + (uint)m.X);
    }

    /// <summary>One model's permutation of n rows at <paramref name="rowStart"/> (see <see cref="ShuffleKernel"/>).</summary>
    private static void ShuffleRow(ArrayView<int> perm, long rowStart, int n, int epoch, ulong seed, uint model)
    {
        for (int i = 0; i < n; i++) perm[rowStart + i] = i;
        PhiloxBlock b = default;
        int cachedBlock = -1;
        for (int i = n - 1; i >= 1; i--)
        {
            int block = i >> 2;
            if (block != cachedBlock)
            {
                b = StreamBlock(seed, (uint)NoiseStream.Shuffle, model, (uint)epoch, (uint)block);
                cachedBlock = block;
            }
            int lane = i & 3;
            uint x = lane == 0 ? b.X0 : lane == 1 ? b.X1 : lane == 2 ? b.X2 : b.X3;
            int j = (int)(((ulong)x * (ulong)(uint)(i + 1)) >> 32);
            int tmp = perm[rowStart + i];
            perm[rowStart + i] = perm[rowStart + j];
            perm[rowStart + j] = tmp;
        }
    }
}

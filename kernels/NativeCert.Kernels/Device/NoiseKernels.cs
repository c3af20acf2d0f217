using ILGPU;
using NativeCert.Noise;

namespace NativeCert.Kernels.Device;

/// <summary>The four 32-bit words of one Philox4x32-10 block.</summary>
public struct PhiloxBlock
{
    public uint X0, X1, X2, X3;
}

/// <summary>
/// Device side of the noise contract (docs/engine.md): Philox4x32-10 with key (seed low, seed high) and
/// counter (index/4, row, model, stream), then Box–Muller on lane pairs (0,1) and (2,3). Every function here
/// is the same arithmetic as <see cref="Philox4x32"/> and <see cref="BoxMuller"/>, written without tuples so
/// that ILGPU can compile it; the tests check the bits against the host implementation.
/// </summary>
public static class NoiseKernels
{
    /// <summary>Ten Philox4x32 rounds; identical to <see cref="Philox4x32.Generate"/>.</summary>
    public static PhiloxBlock Philox(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)Philox4x32.M0 * c0;
            ulong p1 = (ulong)Philox4x32.M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0;
            uint n1 = (uint)p1;
            uint n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            uint n3 = (uint)p0;
            c0 = n0; c1 = n1; c2 = n2; c3 = n3;
            k0 += Philox4x32.W0; k1 += Philox4x32.W1;
        }
        PhiloxBlock block;
        block.X0 = c0; block.X1 = c1; block.X2 = c2; block.X3 = c3;
        return block;
    }

    /// <summary>Block <paramref name="block"/> (= index/4) of row <paramref name="row"/> of a stream.</summary>
    public static PhiloxBlock StreamBlock(ulong seed, uint stream, uint model, uint row, uint block) =>
        Philox(block, row, model, stream, (uint)seed, (uint)(seed >> 32));

    /// <summary>Box–Muller radius from the first word of a lane pair; see <see cref="BoxMuller.Transform"/>.</summary>
    public static float Radius(uint x0)
    {
        float u1 = ((x0 >> 8) + 1) * BoxMuller.Inv24;
        return MathF.Sqrt(-2.0f * MathF.Log(u1));
    }

    /// <summary>Box–Muller angle 2π·u2 from the second word of a lane pair.</summary>
    public static float Angle(uint x1) => BoxMuller.TwoPi * ((x1 >> 8) * BoxMuller.Inv24);

    /// <summary>
    /// Writes the four standard normals of one Philox block into <paramref name="output"/> at
    /// <paramref name="offset"/>, skipping lanes at or beyond <paramref name="end"/> (ragged row tails).
    /// <paramref name="scale"/> multiplies each z; <paramref name="addend"/>, when non-empty, is added lane by lane.
    /// </summary>
    public static void WriteGaussians(PhiloxBlock bits, ArrayView<float> output, long offset, long end,
                                      ArrayView<float> addend, long addendOffset, float scale)
    {
        float r01 = Radius(bits.X0), t01 = Angle(bits.X1);
        float r23 = Radius(bits.X2), t23 = Angle(bits.X3);
        bool add = addend.Length > 0;
        if (offset < end) output[offset] = (add ? addend[addendOffset] : 0f) + scale * (r01 * MathF.Cos(t01));
        if (offset + 1 < end) output[offset + 1] = (add ? addend[addendOffset + 1] : 0f) + scale * (r01 * MathF.Sin(t01));
        if (offset + 2 < end) output[offset + 2] = (add ? addend[addendOffset + 2] : 0f) + scale * (r23 * MathF.Cos(t23));
        if (offset + 3 < end) output[offset + 3] = (add ? addend[addendOffset + 3] : 0f) + scale * (r23 * MathF.Sin(t23));
    }

    /// <summary>
    /// Raw Philox words: thread (block, row, model) writes the 4 words of that block of
    /// <paramref name="stream"/> into <paramref name="bits"/> <c>(models, rows, blocksPerRow·4)</c>.
    /// Used to prove the device generator bit-exact against the host one.
    /// </summary>
    public static void UniformBitsKernel(Index3D index, ArrayView<uint> bits, int blocksPerRow, int rows,
                                         ulong seed, uint stream, uint modelBase)
    {
        PhiloxBlock b = StreamBlock(seed, stream, modelBase + (uint)index.Z, (uint)index.Y, (uint)index.X);
        long o = 4L * ((index.Z * (long)rows + index.Y) * blocksPerRow + index.X);
        if (o + 3 >= bits.Length) return;
        bits[o] = b.X0; bits[o + 1] = b.X1; bits[o + 2] = b.X2; bits[o + 3] = b.X3;
    }

    /// <summary>
    /// Standard normals z(stream, model, row, i) for i &lt; <paramref name="width"/>: thread (block, row, model)
    /// fills elements 4·block … 4·block+3 of <paramref name="z"/> <c>(models, rows, width)</c>.
    /// </summary>
    public static void GaussianRowsKernel(Index3D index, ArrayView<float> z, int width, int rows,
                                          ulong seed, uint stream, uint modelBase)
    {
        PhiloxBlock b = StreamBlock(seed, stream, modelBase + (uint)index.Z, (uint)index.Y, (uint)index.X);
        long rowStart = (index.Z * (long)rows + index.Y) * width;
        WriteGaussians(b, z, rowStart + 4L * index.X, rowStart + width, ArrayView<float>.Empty, 0, 1f);
    }

    /// <summary>
    /// The noisy training batch, gathered and noised in one pass: x[m, r, f] = features[j, f] + σ·z(TrainingNoise,
    /// model, j, f) with j = perm[m, batchStart + r]. Because the noise is a function of (model, j, f) only, every
    /// epoch sees the same noisy copy of example j without storing M noisy training sets.
    /// One thread per (model, row, block of 4 features), flattened so that every launch fills whole groups:
    /// e = (m·rows + r)·⌈D/4⌉ + block. <paramref name="x"/> is <c>(M, batchCapacity, D)</c>, <paramref name="perm"/> <c>(M, n)</c>.
    /// </summary>
    public static void GatherNoisyTrainingRowsKernel(Index1D e, ArrayView<float> x, ArrayView<float> features,
        ArrayView<int> perm, int batchStart, int n, int dimension, int batchCapacity, int rows, float sigma, ulong seed, uint modelBase)
    {
        int blocksPerRow = (dimension + 3) / 4;
        int block = e % blocksPerRow, r = e / blocksPerRow % rows, m = e / blocksPerRow / rows;
        int j = perm[m * (long)n + batchStart + r];
        if ((uint)j >= (uint)n) return; // a corrupt permutation must not read out of bounds
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.TrainingNoise, modelBase + (uint)m, (uint)j, (uint)block);
        long rowStart = (m * (long)batchCapacity + r) * dimension;
        WriteGaussians(b, x, rowStart + 4L * block, rowStart + dimension, features, j * (long)dimension + 4L * block, sigma);
    }

    /// <summary>
    /// The noisy test batch: x[m, t, f] = inputs[inputStart + t, f] + σ·z(TestNoise, model, inputStart + t, f), one draw
    /// per (model, input). One thread per (model, row t, block of 4 features), flattened like
    /// <see cref="GatherNoisyTrainingRowsKernel"/>; <paramref name="x"/> is <c>(M, batchCapacity, D)</c>.
    /// </summary>
    public static void NoisyTestRowsKernel(Index1D e, ArrayView<float> x, ArrayView<float> inputs,
        int inputStart, int dimension, int batchCapacity, int rows, float sigma, ulong seed, uint modelBase)
    {
        int blocksPerRow = (dimension + 3) / 4;
        int block = e % blocksPerRow, t = e / blocksPerRow % rows, m = e / blocksPerRow / rows;
        int row = inputStart + t;
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.TestNoise, modelBase + (uint)m, (uint)row, (uint)block);
        long rowStart = (m * (long)batchCapacity + t) * dimension;
        WriteGaussians(b, x, rowStart + 4L * block, rowStart + dimension, inputs, row * (long)dimension + 4L * block, sigma);
    }

    /// <summary>
    /// He-normal init of the flat parameters <c>(M, P)</c>: w[m, p] = z(WeightInit, model, 0, p)·scale[p] with
    /// scale[p] = √(2 / in_l) for a weight of layer l and 0 for a bias (biases start at exactly 0).
    /// Thread (block, m) fills parameters 4·block … 4·block+3.
    /// </summary>
    public static void HeInitKernel(Index2D index, ArrayView<float> parameters, ArrayView<float> scale,
                                    int parameterCount, ulong seed, uint modelBase)
    {
        int block = index.X, m = index.Y;
        PhiloxBlock b = StreamBlock(seed, (uint)NoiseStream.WeightInit, modelBase + (uint)m, 0u, (uint)block);
        float r01 = Radius(b.X0), t01 = Angle(b.X1);
        float r23 = Radius(b.X2), t23 = Angle(b.X3);
        long rowStart = m * (long)parameterCount;
        for (int lane = 0; lane < 4; lane++)
        {
            int p = 4 * block + lane;
            if (p >= parameterCount) break;
            float r = lane < 2 ? r01 : r23, theta = lane < 2 ? t01 : t23;
            float z = (lane & 1) == 0 ? r * MathF.Cos(theta) : r * MathF.Sin(theta);
            float s = scale[p];
            parameters[rowStart + p] = s == 0f ? 0f : z * s;
        }
    }

    /// <summary>
    /// The per-epoch Fisher–Yates shuffle of docs/engine.md, one thread per model: π starts as the identity; for
    /// i = n−1 … 1, x = lane i%4 of Philox(i/4, epoch, model, Shuffle), j = (x·(i+1)) &gt;&gt; 32, swap π[i], π[j].
    /// <paramref name="perm"/> is <c>(M, n)</c>.
    /// </summary>
    public static void ShuffleKernel(Index1D m, ArrayView<int> perm, int n, int epoch, ulong seed, uint modelBase)
    {
        long rowStart = m * (long)n;
        for (int i = 0; i < n; i++) perm[rowStart + i] = i;
        PhiloxBlock b = default;
        int cachedBlock = -1;
        for (int i = n - 1; i >= 1; i--)
        {
            int block = i >> 2;
            if (block != cachedBlock)
            {
                b = StreamBlock(seed, (uint)NoiseStream.Shuffle, modelBase + (uint)m.X, (uint)epoch, (uint)block);
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

using ILGPU;
using ILGPU.Runtime;
using NativeCert.Kernels.Device;
using NativeCert.Noise;

namespace NativeCert.Kernels.Checks;

// Compiled into the GPU check harness only (NativeCert.Kernels.csproj removes Checks/**; the tests reference the harness): kernels that
// expose the raw noise so that it can be compared with the host's, which training never launches.

/// <summary>Kernels that prove the device noise against the host's: raw Philox words, Gaussians, Box–Muller of given words.</summary>
internal static class NoiseCheckKernels
{
    /// <summary>
    /// Raw Philox words: thread (block, row, model) writes the 4 words of that block of
    /// <paramref name="stream"/> into <paramref name="bits"/> <c>(models, rows, blocksPerRow·4)</c>.
    /// Used to prove the device generator bit-exact against the host one.
    /// </summary>
    public static void UniformBitsKernel(Index3D index, ArrayView<uint> bits, int blocksPerRow, int rows,
                                         ulong seed, uint stream, uint modelBase)
    {
        PhiloxBlock b = NoiseKernels.StreamBlock(seed, stream, modelBase + (uint)index.Z, (uint)index.Y, (uint)index.X);
        long o = 4L * ((index.Z * (long)rows + index.Y) * blocksPerRow + index.X);
        if (o + 3 >= bits.Length) return;
        bits[o] = b.X0; bits[o + 1] = b.X1; bits[o + 2] = b.X2; bits[o + 3] = b.X3;
    }

    /// <summary>
    /// Standard normals z(stream, model, row, i) for i &lt; <paramref name="width"/>: thread (block, row, model)
    /// fills elements 4·block … 4·block+3 of <paramref name="z"/> <c>(models, rows, width)</c>.
    /// </summary>
    public static void GaussianRowsKernel<TFma>(Index3D index, ArrayView<float> z, int width, int rows,
                                                ulong seed, uint stream, uint modelBase) where TFma : struct, IFusedMultiplyAdd
    {
        PhiloxBlock b = NoiseKernels.StreamBlock(seed, stream, modelBase + (uint)index.Z, (uint)index.Y, (uint)index.X);
        long rowStart = (index.Z * (long)rows + index.Y) * width;
        NoiseKernels.WriteGaussians<TFma>(b, z, rowStart + 4L * index.X, rowStart + width, ArrayView<float>.Empty, 0, 1f);
    }

    /// <summary>
    /// Box–Muller of given word pairs: thread i writes Transform(words[2i], words[2i+1]) to z[2i], z[2i+1].
    /// Used to prove the extreme uniforms (x0 = 0, x0 = 2³²−1) map like the CPU engine's on every accelerator.
    /// </summary>
    public static void TransformWordsKernel<TFma>(Index1D i, ArrayView<uint> words, ArrayView<float> z) where TFma : struct, IFusedMultiplyAdd
    {
        long o = 2L * i;
        if (o + 1 >= words.Length || o + 1 >= z.Length) return;
        PolynomialBoxMuller.Transform<TFma>(words[o], words[o + 1], out float z0, out float z1);
        z[o] = z0;
        z[o + 1] = z1;
    }

}

/// <summary>The check kernels loaded on one accelerator (inline-PTX FMA on CUDA, .NET's elsewhere).</summary>
internal sealed class NoiseCheckKernelSet
{
    public Action<Index3D, ArrayView<uint>, int, int, ulong, uint, uint> UniformBits { get; }
    public Action<Index3D, ArrayView<float>, int, int, ulong, uint, uint> GaussianRows { get; }
    public Action<Index1D, ArrayView<uint>, ArrayView<float>> TransformWords { get; }

    public NoiseCheckKernelSet(Accelerator accelerator)
    {
        bool cuda = accelerator.AcceleratorType == AcceleratorType.Cuda;
        UniformBits = accelerator.LoadAutoGroupedStreamKernel<Index3D, ArrayView<uint>, int, int, ulong, uint, uint>(NoiseCheckKernels.UniformBitsKernel);
        GaussianRows = accelerator.LoadAutoGroupedStreamKernel<Index3D, ArrayView<float>, int, int, ulong, uint, uint>(
            cuda ? NoiseCheckKernels.GaussianRowsKernel<PtxFma> : NoiseCheckKernels.GaussianRowsKernel<DotNetFma>);
        TransformWords = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<uint>, ArrayView<float>>(
            cuda ? NoiseCheckKernels.TransformWordsKernel<PtxFma> : NoiseCheckKernels.TransformWordsKernel<DotNetFma>);
    }

    /// <summary>The check kernels as CUDA loads them, for PTX compilation checks (all implicitly grouped).</summary>
    public static IReadOnlyList<(System.Reflection.MethodInfo Method, bool ExplicitlyGrouped)> AllKernels { get; } =
    [
        (((Action<Index3D, ArrayView<uint>, int, int, ulong, uint, uint>)NoiseCheckKernels.UniformBitsKernel).Method, false),
        (((Action<Index3D, ArrayView<float>, int, int, ulong, uint, uint>)NoiseCheckKernels.GaussianRowsKernel<PtxFma>).Method, false),
        (((Action<Index1D, ArrayView<uint>, ArrayView<float>>)NoiseCheckKernels.TransformWordsKernel<PtxFma>).Method, false),
    ];
}

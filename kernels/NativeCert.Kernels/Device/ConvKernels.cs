using ILGPU;

namespace NativeCert.Kernels.Device;

/// <summary>
/// Geometry of one convolution or pooling layer: input (Channels, Height, Width), output (OutChannels, OutHeight,
/// OutWidth), Kernel edge and zero Padding (stride 1 for a convolution; a 2×2 pool has Kernel 2, stride 2).
/// </summary>
internal struct ConvShape
{
    public int Channels, Height, Width, OutChannels, OutHeight, OutWidth, Kernel, Padding;

    public ConvShape(int channels, int height, int width, int outChannels, int outHeight, int outWidth, int kernel, int padding)
    {
        Channels = channels; Height = height; Width = width;
        OutChannels = outChannels; OutHeight = outHeight; OutWidth = outWidth;
        Kernel = kernel; Padding = padding;
    }

    public readonly int InputSize => Channels * Height * Width;
    public readonly int OutputSize => OutChannels * OutHeight * OutWidth;
}

/// <summary>
/// Image layers over lockstep batches: activations are <c>(M, batchCapacity, C, H, W)</c>, each example channel-major as
/// the data store it, of which the first <c>rows</c> examples are live; model m's parameters start at m·P. Direct
/// convolution, one thread per output (forward), per input element (input gradient), per weight (weight gradient) and
/// per channel (bias gradient), so no atomics and every sum runs in one fixed order: (ci, ky, kx) for the forward,
/// (co, ky, kx) for dX, (row, y, x) for dW and db (docs/engine.md, Model). The scalar oracle is
/// <c>ReferenceConv</c>.
/// </summary>
internal static class ConvKernels
{
    /// <summary>
    /// y[m, r, co, oy, ox] = ReLU?(Σ_{ci, ky, kx} W[co, ci, ky, kx]·x[m, r, ci, oy + ky − P, ox + kx − P] + b[co]); zero
    /// outside the image. e = (((m·rows + r)·CO + co)·OH + oy)·OW + ox.
    /// </summary>
    public static void Conv2dForwardKernel(Index1D e, ArrayView<float> output, ArrayView<float> input, ArrayView<float> parameters,
                                           ConvShape s, long weightOffset, long biasOffset, int parameterCount, int rows, int batchCapacity, int relu)
    {
        int ox = e % s.OutWidth, oy = e / s.OutWidth % s.OutHeight, co = e / (s.OutWidth * s.OutHeight) % s.OutChannels;
        int mr = e / s.OutputSize, r = mr % rows, m = mr / rows;
        long x0 = (m * (long)batchCapacity + r) * s.InputSize;
        long w0 = m * (long)parameterCount + weightOffset + (long)co * s.Channels * s.Kernel * s.Kernel;
        float sum = 0f;
        for (int ci = 0; ci < s.Channels; ci++)
            for (int ky = 0; ky < s.Kernel; ky++)
            {
                int iy = oy + ky - s.Padding;
                if (iy < 0 || iy >= s.Height) continue;
                for (int kx = 0; kx < s.Kernel; kx++)
                {
                    int ix = ox + kx - s.Padding;
                    if (ix < 0 || ix >= s.Width) continue;
                    sum += parameters[w0 + (ci * s.Kernel + ky) * s.Kernel + kx] * input[x0 + (ci * s.Height + iy) * s.Width + ix];
                }
            }
        output[(m * (long)batchCapacity + r) * s.OutputSize + (co * s.OutHeight + oy) * s.OutWidth + ox] =
            ActivationKernels.BiasActivation(sum, parameters[m * (long)parameterCount + biasOffset + co], relu != 0);
    }

    /// <summary>
    /// dx[m, r, ci, iy, ix] = Σ_{co, ky, kx} W[co, ci, ky, kx]·dy[m, r, co, iy + P − ky, ix + P − kx] (outputs inside the map only).
    /// e = (((m·rows + r)·CI + ci)·H + iy)·W + ix.
    /// </summary>
    public static void Conv2dBackwardInputKernel(Index1D e, ArrayView<float> dinput, ArrayView<float> doutput, ArrayView<float> parameters,
                                                 ConvShape s, long weightOffset, int parameterCount, int rows, int batchCapacity)
    {
        int ix = e % s.Width, iy = e / s.Width % s.Height, ci = e / (s.Width * s.Height) % s.Channels;
        int mr = e / s.InputSize, r = mr % rows, m = mr / rows;
        long y0 = (m * (long)batchCapacity + r) * s.OutputSize;
        long w0 = m * (long)parameterCount + weightOffset;
        float sum = 0f;
        for (int co = 0; co < s.OutChannels; co++)
            for (int ky = 0; ky < s.Kernel; ky++)
            {
                int oy = iy + s.Padding - ky;
                if (oy < 0 || oy >= s.OutHeight) continue;
                for (int kx = 0; kx < s.Kernel; kx++)
                {
                    int ox = ix + s.Padding - kx;
                    if (ox < 0 || ox >= s.OutWidth) continue;
                    sum += parameters[w0 + ((co * s.Channels + ci) * s.Kernel + ky) * s.Kernel + kx]
                           * doutput[y0 + (co * s.OutHeight + oy) * s.OutWidth + ox];
                }
            }
        dinput[(m * (long)batchCapacity + r) * s.InputSize + (ci * s.Height + iy) * s.Width + ix] = sum;
    }

    /// <summary>
    /// dW[m, co, ci, ky, kx] = Σ_{r &lt; rows, oy, ox} dy[m, r, co, oy, ox]·x[m, r, ci, oy + ky − P, ox + kx − P], written into
    /// the flat gradients <c>(M, P)</c>. e = m·(CO·CI·K·K) + ((co·CI + ci)·K + ky)·K + kx.
    /// </summary>
    public static void Conv2dBackwardWeightKernel(Index1D e, ArrayView<float> gradients, ArrayView<float> doutput, ArrayView<float> input,
                                                  ConvShape s, long weightOffset, int parameterCount, int rows, int batchCapacity)
    {
        int weights = s.OutChannels * s.Channels * s.Kernel * s.Kernel;
        int w = e % weights, m = e / weights;
        int kx = w % s.Kernel, ky = w / s.Kernel % s.Kernel, ci = w / (s.Kernel * s.Kernel) % s.Channels, co = w / (s.Kernel * s.Kernel * s.Channels);
        float sum = 0f;
        for (int r = 0; r < rows; r++)
        {
            long y0 = (m * (long)batchCapacity + r) * s.OutputSize + (long)co * s.OutHeight * s.OutWidth;
            long x0 = (m * (long)batchCapacity + r) * s.InputSize + (long)ci * s.Height * s.Width;
            for (int oy = 0; oy < s.OutHeight; oy++)
            {
                int iy = oy + ky - s.Padding;
                if (iy < 0 || iy >= s.Height) continue;
                for (int ox = 0; ox < s.OutWidth; ox++)
                {
                    int ix = ox + kx - s.Padding;
                    if (ix < 0 || ix >= s.Width) continue;
                    sum += doutput[y0 + oy * s.OutWidth + ox] * input[x0 + iy * s.Width + ix];
                }
            }
        }
        gradients[m * (long)parameterCount + weightOffset + w] = sum;
    }

    /// <summary>db[m, co] = Σ_{r &lt; rows, oy, ox} dy[m, r, co, oy, ox]. e = m·CO + co.</summary>
    public static void Conv2dBackwardBiasKernel(Index1D e, ArrayView<float> gradients, ArrayView<float> doutput,
                                                ConvShape s, long biasOffset, int parameterCount, int rows, int batchCapacity)
    {
        int co = e % s.OutChannels, m = e / s.OutChannels;
        int plane = s.OutHeight * s.OutWidth;
        float sum = 0f;
        for (int r = 0; r < rows; r++)
        {
            long y0 = (m * (long)batchCapacity + r) * s.OutputSize + (long)co * plane;
            for (int i = 0; i < plane; i++) sum += doutput[y0 + i];
        }
        gradients[m * (long)parameterCount + biasOffset + co] = sum;
    }

    /// <summary>Offset, within one example's image, of the largest input of pooling window (c, oy, ox), the first on ties.</summary>
    public static int WindowArgmax(ArrayView<float> input, long example, ConvShape s, int c, int oy, int ox)
    {
        int top = (c * s.Height + 2 * oy) * s.Width + 2 * ox;
        int best = top;
        if (input[example + top + 1] > input[example + best]) best = top + 1;
        if (input[example + top + s.Width] > input[example + best]) best = top + s.Width;
        if (input[example + top + s.Width + 1] > input[example + best]) best = top + s.Width + 1;
        return best;
    }

    /// <summary>2×2 max pooling, stride 2: y[m, r, c, oy, ox] = max of its window. e = (((m·rows + r)·C + c)·OH + oy)·OW + ox.</summary>
    public static void MaxPool2dForwardKernel(Index1D e, ArrayView<float> output, ArrayView<float> input, ConvShape s, int rows, int batchCapacity)
    {
        int ox = e % s.OutWidth, oy = e / s.OutWidth % s.OutHeight, c = e / (s.OutWidth * s.OutHeight) % s.OutChannels;
        int mr = e / s.OutputSize, r = mr % rows, m = mr / rows;
        long example = (m * (long)batchCapacity + r) * s.InputSize;
        output[(m * (long)batchCapacity + r) * s.OutputSize + (c * s.OutHeight + oy) * s.OutWidth + ox] =
            input[example + WindowArgmax(input, example, s, c, oy, ox)];
    }

    /// <summary>
    /// dx[m, r, c, iy, ix] = dy of its window when it is the window's (first) maximum, else 0 (also for a dropped odd
    /// row or column). e = (((m·rows + r)·C + c)·H + iy)·W + ix.
    /// </summary>
    public static void MaxPool2dBackwardKernel(Index1D e, ArrayView<float> dinput, ArrayView<float> doutput, ArrayView<float> input,
                                               ConvShape s, int rows, int batchCapacity)
    {
        int ix = e % s.Width, iy = e / s.Width % s.Height, c = e / (s.Width * s.Height) % s.Channels;
        int mr = e / s.InputSize, r = mr % rows, m = mr / rows;
        long example = (m * (long)batchCapacity + r) * s.InputSize;
        int oy = iy / 2, ox = ix / 2, self = (c * s.Height + iy) * s.Width + ix;
        float g = 0f;
        if (oy < s.OutHeight && ox < s.OutWidth && WindowArgmax(input, example, s, c, oy, ox) == self)
            g = doutput[(m * (long)batchCapacity + r) * s.OutputSize + (c * s.OutHeight + oy) * s.OutWidth + ox];
        dinput[example + self] = g;
    }

    /// <summary>ReLU in place, for a ReLU that no dense or convolution epilogue absorbed: v ← v if v &gt; 0, else 0.</summary>
    public static void ReluForwardKernel(Index1D e, ArrayView<float> values)
    {
        if (!(values[e] > 0f)) values[e] = 0f;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Where element (b, c, pixel) of a batch of images lies in its buffer: <c>c·Channel + b·Example + pixel</c>, pixel =
/// y·W + x. The network input is example-major <c>(B, C, H, W)</c> as datasets store it; every image the CPU engine
/// computes is channel-major over the batch <c>(C, B, H, W)</c>, so that one GEMM covers the whole batch
/// (docs/engine.md, CPU layouts).
/// </summary>
internal readonly record struct ImageStrides(int Channel, int Example)
{
    /// <summary><c>(B, C, H, W)</c>.</summary>
    public static ImageStrides ExampleMajor(int channels, int pixels) => new(pixels, channels * pixels);
    /// <summary><c>(C, B, H, W)</c> for a batch of <paramref name="B"/> rows.</summary>
    public static ImageStrides ChannelMajor(int B, int pixels) => new(B * pixels, pixels);
}

/// <summary>
/// SIMD image layers, the fast twins of <see cref="Reference.ReferenceConv"/> (outputs first, inputs next, sizes last,
/// the ISA level to use). A convolution is im2col + <see cref="CpuGemm"/>: columns <c>(CI·K·K, B·OH·OW)</c> and
/// Y <c>(CO, B·OH·OW)</c> = W <c>(CO, CI·K·K)</c> · columns, so every output is one FMA chain over (ci, ky, kx)
/// ascending from 0, then + bias, then ReLU. The backward pass uses the same GEMM (dW = dY · columnsᵀ, dcolumns = Wᵀ · dY)
/// and adds dcolumns back into dX in (ci, ky, kx) order; the bias gradient sums 16 interleaved lanes and then the lanes
/// in order. Every branch computes exactly that order, so results are bit-identical across AVX-512, AVX2 and scalar.
/// On AVX-512 and AVX2, LeNet's shapes skip the column buffer (<see cref="CpuConvGemm"/>: im2col folded into the
/// GEMM's operand loads, col2im and the bias pass into its epilogue), computing the same chains.
/// </summary>
[SkipLocalsInit]
internal static unsafe class CpuConvKernels
{
    /// <summary>
    /// output (CO, B, OH, OW) = ReLU?(conv(input) + bias); <paramref name="columns"/> is scratch of at least
    /// CI·K·K·B·OH·OW floats.
    /// </summary>
    public static void Conv2dForward(Span<float> output /*(CO,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides inputStrides,
        ReadOnlySpan<float> weight /*(CO,CI,K,K)*/, ReadOnlySpan<float> bias /*(CO)*/, Span<float> columns /*(CI·K·K, B·OH·OW)*/,
        int B, int CI, int H, int W, int CO, int K, int P, bool relu, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K, OHW = OH * OW;
        Check(output.Length >= CO * N && weight.Length >= CO * CKK && bias.Length >= CO && columns.Length >= CKK * N);
        // A few images at a time: their columns (CKK, nb·OHW) and outputs stay in L2 between im2col, the GEMM and the
        // bias pass. Each output is still one chain over all of (ci, ky, kx), so the chunking changes no bit.
        int images = ImagesPerChunk(CKK * OHW, B);
        Check(input.Length >= (long)(CI - 1) * inputStrides.Channel + (long)(B - 1) * inputStrides.Example + H * W);
        fixed (float* y = output, w = weight, col = columns, x = input, pb = bias)
        {
            // LeNet's shapes on AVX-512 and AVX2: the outputs' inputs are read straight from the images (no columns).
            if (CpuConvGemm.TryForward(y, x, inputStrides, w, pb, B, CI, W, OH, OW, CO, K, P, relu, isa)) return;
            for (int b0 = 0; b0 < B; b0 += images)
            {
                int nb = Math.Min(images, B - b0), n = nb * OHW;
                Im2Col(columns, input[(b0 * inputStrides.Example)..], inputStrides, nb, CI, H, W, K, P);
                CpuGemm.Gemm(y + (nint)b0 * OHW, N, w, CKK, 1, col, n, null, false, CO, n, CKK, isa);
                for (int co = 0; co < CO; co++) AddBias(output.Slice(co * N + b0 * OHW, n), bias[co], relu, isa);
            }
        }
    }

    /// <summary>
    /// <see cref="Conv2dForward"/>, then <see cref="MaxPool2dForward"/> of its output into <paramref name="pooled"/>
    /// <c>(CO, B, OH/2, OW/2)</c>: in one pass where <see cref="CpuConvGemm.HasPooledForward"/> (the pool's windows from the
    /// tile's registers, the same compare-and-select), else the two calls. The same bits either way.
    /// Where the kernel runs, <paramref name="codes"/> (unless empty) receives each window's <see cref="PoolCode"/>, in the
    /// pooled layout, and an empty <paramref name="output"/> skips the conv's own output (when nothing else reads it);
    /// elsewhere both must be as for the two calls (codes empty, output whole).
    /// </summary>
    public static void Conv2dForwardPooled(Span<float> output /*(CO,B,OH,OW)*/, Span<float> pooled /*(CO,B,OH/2,OW/2)*/, Span<byte> codes,
        ReadOnlySpan<float> input, ImageStrides inputStrides, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> columns,
        int B, int CI, int H, int W, int CO, int K, int P, bool relu, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K;
        long pooledSize = (long)CO * B * (OH / 2) * (OW / 2);
        if (CpuConvGemm.HasPooledForward(OH, OW, K, P, relu, isa))
        {
            Check((output.IsEmpty || output.Length >= CO * N) && pooled.Length >= pooledSize && (codes.IsEmpty || codes.Length >= pooledSize)
                  && weight.Length >= CO * CKK && bias.Length >= CO);
            Check(input.Length >= (long)(CI - 1) * inputStrides.Channel + (long)(B - 1) * inputStrides.Example + H * W);
            fixed (float* y = output, py = pooled, x = input, w = weight, pb = bias)
            fixed (byte* pc = codes)
                CpuConvGemm.TryForwardPooled(output.IsEmpty ? null : y, py, codes.IsEmpty ? null : pc, x, inputStrides, w, pb, B, CI, W, OH, OW, CO, K, P, relu, isa);
            return;
        }
        Check(codes.IsEmpty && !output.IsEmpty);
        Conv2dForward(output, input, inputStrides, weight, bias, columns, B, CI, H, W, CO, K, P, relu, isa);
        MaxPool2dForward(pooled, output, ImageStrides.ChannelMajor(B, OH * OW), B, CO, OH, OW, isa);
    }

    /// <summary>
    /// Floats of im2col columns a conv processes at a time (the batch is cut into groups of whole images of about this
    /// many column floats, at least one image); a tuning knob, results do not depend on it. 64 Ki floats = 256 KiB.
    /// </summary>
    internal static int ChunkFloats = 1 << 16;

    private static int ImagesPerChunk(long columnFloatsPerImage, int B) =>
        (int)Math.Clamp(ChunkFloats / Math.Max(1, columnFloatsPerImage), 1, Math.Max(1, B));

    /// <summary>
    /// dweight = dY · columnsᵀ, dbias = Σ dY per channel, and, unless <paramref name="dinput"/> is empty (the first
    /// layer), dinput = col2im(Wᵀ · dY) written in <paramref name="inputStrides"/>. <paramref name="columns"/> is scratch of
    /// CI·K·K·B·OH·OW floats (it holds the transposed columns, then the column gradients).
    /// </summary>
    public static void Conv2dBackward(Span<float> dinput, Span<float> dweight /*(CO,CI,K,K)*/, Span<float> dbias /*(CO)*/,
        ReadOnlySpan<float> doutput /*(CO,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides inputStrides, ReadOnlySpan<float> weight,
        Span<float> columns, int B, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        Conv2dBackwardWeight(dweight, dbias, doutput, input, inputStrides, columns, B, CI, H, W, CO, K, P, isa);
        if (!dinput.IsEmpty) Conv2dBackwardInput(dinput, inputStrides, doutput, weight, columns, B, CI, H, W, CO, K, P, isa);
    }

    /// <summary>dweight = dY · columnsᵀ and dbias = Σ dY per channel; <paramref name="columns"/> is scratch of CI·K·K·B·OH·OW floats.</summary>
    public static void Conv2dBackwardWeight(Span<float> dweight /*(CO,CI,K,K)*/, Span<float> dbias /*(CO)*/,
        ReadOnlySpan<float> doutput /*(CO,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides inputStrides,
        Span<float> columns, int B, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K, OHW = OH * OW;
        Check(dweight.Length >= CO * CKK && dbias.Length >= CO && doutput.Length >= CO * N && columns.Length >= CKK * N);
        // dWᵀ(CKK,CO) = col(CKK,N)·dYᵀ(N,CO): one chain over n ascending per element, as dY·colᵀ, but the columns are
        // the plain im2col (rows of OW contiguous floats, cheap to build) and only dY (CO floats per n, not CI·K·K) is
        // transposed. The reduction is cut at whole images: each group's columns and dYᵀ are built in cache and its
        // products continue every element's chain (the first group from 0), so the result is that of one GEMM.
        int images = ImagesPerChunk(CKK * OHW, B), maxN = Math.Min(images, B) * OHW;
        var scratch = Scratch(maxN * CO + CKK * CO);
        fixed (float* dw = dweight, dy = doutput, dyT = scratch, x = input)
        {
            float* dwT = dyT + (nint)maxN * CO;
            for (int b0 = 0; b0 < B; b0 += images)
            {
                int nb = Math.Min(images, B - b0);
                CpuKernels.Transpose(dyT, dy + (nint)b0 * OHW, N, CO, nb * OHW, isa);
                WeightGradientGroup(dwT, dyT, x, input, inputStrides, columns, b0, nb, CI, H, W, CO, K, P, isa);
            }
            StoreWeightGradient(dw, dwT, CO, CKK);
        }
        LaneSums(dbias, doutput, CO, N, isa);
    }

    /// <summary>
    /// <see cref="Conv2dBackwardWeight"/> of a conv followed by a 2×2 max pool (with <paramref name="reluMask"/>, by a ReLU
    /// and the pool), from the pool's output gradient, when the conv needs no input gradient (the first layer): the same
    /// bits, without the batch's dY. Each group of images gets its dY from the pool's backward
    /// (<see cref="MaxPool2dBackward(Span{float}, ImageStrides, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, int, IsaLevel, bool, ImageStrides?)"/>
    /// on those images, into a block in cache), then is transposed and multiplied as in Conv2dBackwardWeight, and its
    /// bias lanes continue the batch's 16 lane sums (element i of a channel's (b, oy, ox) to lane i mod 16, as
    /// <see cref="LaneSums"/>). For LeNet's conv1 this drops a 4.7 MB write and two reads of it per batch.
    /// <paramref name="convOutput"/> is the conv's output <c>(CO, B, OH, OW)</c> after the ReLU.
    /// </summary>
    /// With <paramref name="codes"/> (the <see cref="PoolCode"/> of every window, from <see cref="Conv2dForwardPooled"/>;
    /// OH and OW even) the conv's output is not read at all: a row pair's dY, all channels, is built from the codes and
    /// the pooled gradient in a tile in L1 and transposed from there.
    public static void Conv2dBackwardWeightThroughPool(Span<float> dweight /*(CO,CI,K,K)*/, Span<float> dbias /*(CO)*/,
        ReadOnlySpan<float> dpooled /*(CO,B,OH/2,OW/2)*/, ReadOnlySpan<float> convOutput /*(CO,B,OH,OW)*/, ReadOnlySpan<byte> codes, bool reluMask,
        ReadOnlySpan<float> input, ImageStrides inputStrides, Span<float> columns, int B, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K, OHW = OH * OW, PHW = OH / 2 * (OW / 2);
        bool fromCodes = !codes.IsEmpty;
        // AVX-512 and AVX2 build dYᵀ straight from the codes, the bias lanes held as (16, CO) instead of (CO, 16): the same sums.
        bool transposedLanes = fromCodes && CpuConvGemm.HasPoolBackwardFromCodes(CO, OW, isa);
        Check(dweight.Length >= CO * CKK && dbias.Length >= CO && dpooled.Length >= (long)CO * B * PHW && columns.Length >= CKK * N);
        Check(fromCodes ? codes.Length >= (long)CO * B * PHW && OH % 2 == 0 && OW % 2 == 0 : convOutput.Length >= CO * N);
        // From the codes (AVX-512, AVX2), a group is the images whose dYᵀ fits in L1 beside the kernel's operands (LeNet: one image, 36 KiB).
        int images = transposedLanes ? ImagesPerChunk((long)CO * OHW * 8, B) : ImagesPerChunk(CKK * OHW, B), maxN = Math.Min(images, B) * OHW;
        int tile = transposedLanes ? 0 : maxN * CO; // the channel-major dY tile: only the other paths build one
        var scratch = Scratch(maxN * CO + tile + CKK * CO + 16 * CO);
        fixed (float* dw = dweight, dpool = dpooled, y = convOutput, dyT = scratch, x = input)
        fixed (byte* pc = codes)
        {
            float* dwT = dyT + (nint)maxN * CO, dy = dwT + (nint)CKK * CO, lanes = dy + tile;
            new Span<float>(lanes, 16 * CO).Clear();
            for (int b0 = 0; b0 < B; b0 += images)
            {
                int nb = Math.Min(images, B - b0), n = nb * OHW;
                if (transposedLanes)
                    CpuConvGemm.PoolBackwardFromCodes(dyT, lanes, CO, dpool + (nint)b0 * PHW, pc + (nint)b0 * PHW, (nint)B * PHW, b0, nb, OH, OW, reluMask, isa);
                else if (fromCodes)
                    PoolBackwardFromCodes(dyT, dy, lanes, CO, dpool + (nint)b0 * PHW, pc + (nint)b0 * PHW, (nint)B * PHW, b0, nb, OH, OW, reluMask, isa);
                else
                {
                    MaxPool2dBackward(dy, ImageStrides.ChannelMajor(nb, OHW), dpool + (nint)b0 * PHW, ImageStrides.ChannelMajor(B, PHW),
                        y + (nint)b0 * OHW, ImageStrides.ChannelMajor(B, OHW), nb, CO, OH, OW, isa, reluMask);
                    CpuKernels.Transpose(dyT, dy, n, CO, n, isa);
                    for (int co = 0; co < CO; co++) AddToLanes(lanes + co * 16, dy + (nint)co * n, n, (long)b0 * OHW, isa);
                }
                WeightGradientGroup(dwT, dyT, x, input, inputStrides, columns, b0, nb, CI, H, W, CO, K, P, isa);
            }
            StoreWeightGradient(dw, dwT, CO, CKK);
            for (int co = 0; co < CO; co++)
            {
                float sum = 0f;
                for (int l = 0; l < 16; l++) sum += transposedLanes ? lanes[l * CO + co] : lanes[co * 16 + l];
                dbias[co] = sum;
            }
        }
    }

    /// <summary>
    /// dYᵀ <c>(nb·OH·OW, CO)</c> of a 2×2 max pool's backward from its window codes (OH, OW even), a row pair at a time:
    /// each channel's two rows in <paramref name="tile"/> <c>(CO, 2·OW)</c>, the window's gradient at the position its
    /// code names (or +0 with <paramref name="reluMask"/> when the maximum was not &gt; 0) and +0 at the other three, as
    /// MaxPool2dBackward stores them; then the row pair's bias terms into <paramref name="lanes"/> (16 per channel) and the
    /// tile transposed into dYᵀ. <paramref name="dpool"/> and <paramref name="codes"/> are at image <paramref name="b0"/>,
    /// channel planes <paramref name="channel"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolBackwardFromCodes(float* dyT, float* tile, float* lanes, int CO, float* dpool, byte* codes, nint channel, int b0, int nb,
        int OH, int OW, bool reluMask, IsaLevel isa)
    {
        int PH = OH / 2, PW = OW / 2, OHW = OH * OW;
        bool wide = CpuIsa.Clamp(isa) >= IsaLevel.Avx2 && PW >= 8;
        for (int b = 0; b < nb; b++)
            for (int py = 0; py < PH; py++)
            {
                for (int c = 0; c < CO; c++)
                {
                    nint at = c * channel + (nint)(b * PH + py) * PW;
                    float* g = dpool + at, top = tile + (nint)c * 2 * OW, bottom = top + OW;
                    byte* k = codes + at;
                    // The 2·CO planes this reads lie a multiple of 4 KiB apart, a short run from each at a time: fetch
                    // the rows a few pairs ahead (a quarter of this pass waited on these loads without).
                    if (Sse.IsSupported)
                    {
                        Sse.Prefetch0(g + 4 * PW);
                        Sse.Prefetch0(k + 4 * PW);
                    }
                    if (wide)
                        for (int px = 0; ; px += 8)
                        {
                            px = Math.Min(px, PW - 8); // the last step ends at the last window (it may redo some: same stores)
                            var code = Avx2.ConvertToVector256Int32(k + px);
                            var grad = Vector256.Load(g + px);
                            if (reluMask) grad &= Vector256.Equals(code & Vector256.Create(4), Vector256.Create(4)).AsSingle();
                            var where = code & Vector256.Create(3);
                            Interleave(top + 2 * px, grad & Vector256.Equals(where, Vector256<int>.Zero).AsSingle(), grad & Vector256.Equals(where, Vector256<int>.One).AsSingle());
                            Interleave(bottom + 2 * px, grad & Vector256.Equals(where, Vector256.Create(2)).AsSingle(), grad & Vector256.Equals(where, Vector256.Create(3)).AsSingle());
                            if (px + 8 >= PW) break;
                        }
                    else
                        for (int px = 0; px < PW; px++)
                        {
                            int where = k[px] & 3;
                            float v = !reluMask || (k[px] & 4) != 0 ? g[px] : 0f;
                            top[2 * px] = where == 0 ? v : 0f;
                            top[2 * px + 1] = where == 1 ? v : 0f;
                            bottom[2 * px] = where == 2 ? v : 0f;
                            bottom[2 * px + 1] = where == 3 ? v : 0f;
                        }
                    AddToLanes(lanes + c * 16, top, 2 * OW, (long)(b0 + b) * OHW + 2 * py * OW, isa);
                }
                CpuKernels.Transpose(dyT + ((nint)b * OHW + 2 * py * OW) * CO, tile, 2 * OW, CO, 2 * OW, isa);
            }
    }

    /// <summary>
    /// One group's products into dWᵀ <c>(CKK, CO)</c> from its dYᵀ: the fused kernel where there is one, else im2col +
    /// <see cref="CpuGemm.GemmAccumulate"/>; every element's chain continues from the previous group (from 0 for the first).
    /// </summary>
    private static void WeightGradientGroup(float* dwT, float* dyT, float* x, ReadOnlySpan<float> input, ImageStrides inputStrides, Span<float> columns,
        int b0, int nb, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, CKK = CI * K * K, n = nb * OH * OW;
        // LeNet's convs (16 or 32 output channels) on AVX-512 and AVX2: the product reads the images directly (the same chains).
        if (CpuConvGemm.HasWeightGradient(CO, K, P, isa))
        {
            CpuConvGemm.WeightGradient(dwT, CO, x + (nint)b0 * inputStrides.Example, inputStrides, dyT, nb, CI, W, OH, OW, K, first: b0 == 0, isa);
            return;
        }
        Im2Col(columns, input[(b0 * inputStrides.Example)..], inputStrides, nb, CI, H, W, K, P);
        fixed (float* col = columns) CpuGemm.GemmAccumulate(dwT, CO, col, n, dyT, CO, CKK, CO, n, first: b0 == 0, isa);
    }

    private static void StoreWeightGradient(float* dw, float* dwT, int CO, int CKK)
    {
        for (int co = 0; co < CO; co++)
            for (int k = 0; k < CKK; k++) dw[co * CKK + k] = dwT[k * CO + co];
    }

    /// <summary>
    /// lanes[(start + i) mod 16] += x[i] for i ascending: the <see cref="LaneSum"/> of a row continued over a run of it
    /// that begins at element <paramref name="start"/> (the same adds in the same order, whatever the runs). The vector
    /// branch (AVX2 and up) keeps the 16 lanes as two 256-bit halves: as fast as one 512-bit chain (the adds are
    /// latency-bound either way), and a 256-bit load is forwarded from the 256-bit stores that have just written x
    /// (the pool backward's tile), where a 512-bit load spanning two of them waits for both to reach L1.
    /// </summary>
    private static void AddToLanes(float* lanes, float* x, int n, long start, IsaLevel isa)
    {
        int i = 0;
        if (start % 16 == 0 && isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
        {
            int full = n / 16 * 16;
            Vector256<float> lo = Vector256.Load(lanes), hi = Vector256.Load(lanes + 8);
            for (; i < full; i += 16) { lo += Vector256.Load(x + i); hi += Vector256.Load(x + i + 8); }
            lo.Store(lanes);
            hi.Store(lanes + 8);
        }
        for (; i < n; i++) lanes[(start + i) % 16] += x[i];
    }

    /// <summary>dinput = col2im(Wᵀ · dY), written in <paramref name="inputStrides"/>; <paramref name="columns"/> is scratch of CI·K·K·B·OH·OW floats.</summary>
    public static void Conv2dBackwardInput(Span<float> dinput, ImageStrides inputStrides, ReadOnlySpan<float> doutput /*(CO,B,OH,OW)*/,
        ReadOnlySpan<float> weight /*(CO,CI,K,K)*/, Span<float> columns, int B, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K, OHW = OH * OW;
        Check(weight.Length >= CO * CKK && doutput.Length >= CO * N && columns.Length >= CKK * N);
        // A group of images at a time: its column gradients (CKK, nb·OHW) = Wᵀ·dY are added into its own images only,
        // in (ci, ky, kx) order, so each input gradient sums the same terms in the same order as for the whole batch.
        int images = ImagesPerChunk(CKK * OHW, B);
        Check(dinput.Length >= (long)(CI - 1) * inputStrides.Channel + (long)(B - 1) * inputStrides.Example + H * W);
        fixed (float* dcol = columns, w = weight, dy = doutput, dx = dinput)
        {
            // LeNet's conv2 on AVX-512 and AVX2: one image's column gradients at a time in registers, col2im in the epilogue.
            if (CpuConvGemm.TryInputGradient(dx, inputStrides, dy, N, w, B, CI, OH, OW, CO, K, P, isa)) return;
            for (int b0 = 0; b0 < B; b0 += images)
            {
                int nb = Math.Min(images, B - b0), n = nb * OHW;
                CpuGemm.Gemm(dcol, n, w, 1, CKK, dy + (nint)b0 * OHW, N, null, false, CKK, n, CO, isa); // (CKK,n) = Wᵀ(CKK,CO)·dY(CO,n)
                Col2Im(dinput[(b0 * inputStrides.Example)..], inputStrides, columns, nb, CI, H, W, K, P, isa);
            }
        }
    }

    /// <summary>columns[(ci·K + ky)·K + kx, (b·OH + y)·OW + x] = input(b, ci, y + ky − P, x + kx − P), 0 outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Im2Col(Span<float> columns, ReadOnlySpan<float> input, ImageStrides s, int B, int CI, int H, int W, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW;
        Check(columns.Length >= CI * K * K * N);
        fixed (float* col = columns, x = input)
            for (int ci = 0; ci < CI; ci++)
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                    {
                        float* row = col + (nint)((ci * K + ky) * K + kx) * N;
                        // Output columns x in [x0, x1) read input columns x + kx − P inside the image; the rest are padding.
                        int x0 = Math.Min(OW, Math.Max(0, P - kx)), x1 = Math.Max(x0, Math.Min(OW, W + P - kx));
                        if (P == 0)
                        {
                            // No padding: every output row is OW input floats, no zeros, no bounds (the common case, tight loop).
                            for (int b = 0; b < B; b++)
                            {
                                float* src = x + (nint)ci * s.Channel + (nint)b * s.Example + (nint)ky * W + kx, dst = row + (nint)b * OH * OW;
                                if (OW == 8 && Vector256.IsHardwareAccelerated) // LeNet's conv2: one vector per output row
                                    for (int y = 0; y < OH; y++, src += W, dst += 8) Vector256.Load(src).Store(dst);
                                else
                                    for (int y = 0; y < OH; y++, src += W, dst += OW) Copy(dst, src, OW);
                            }
                            continue;
                        }
                        for (int b = 0; b < B; b++)
                        {
                            float* plane = x + (nint)ci * s.Channel + (nint)b * s.Example;
                            for (int y = 0; y < OH; y++)
                            {
                                float* dst = row + (nint)(b * OH + y) * OW;
                                int iy = y + ky - P;
                                if ((uint)iy >= (uint)H) { Zero(dst, OW); continue; }
                                Zero(dst, x0);
                                Copy(dst + x0, plane + (nint)iy * W + x0 + kx - P, x1 - x0);
                                Zero(dst + x1, OW - x1);
                            }
                        }
                    }
    }

    /// <summary>
    /// dinput = 0, then for every column row (ci, ky, kx) in ascending order, dinput(b, ci, y + ky − P, x + kx − P) +=
    /// dcolumns[(ci, ky, kx), (b, y, x)]: each input gradient is its contributions added in that order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Col2Im(Span<float> dinput, ImageStrides s, ReadOnlySpan<float> dcolumns, int B, int CI, int H, int W, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW;
        Check(dcolumns.Length >= CI * K * K * N);
        for (int ci = 0; ci < CI; ci++)
            for (int b = 0; b < B; b++)
                dinput.Slice(ci * s.Channel + b * s.Example, H * W).Clear();
        bool wide = isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated;
        fixed (float* dx = dinput, dcol = dcolumns)
            for (int ci = 0; ci < CI; ci++)
                for (int ky = 0; ky < K; ky++)
                    for (int kx = 0; kx < K; kx++)
                    {
                        float* row = dcol + (nint)((ci * K + ky) * K + kx) * N;
                        int x0 = Math.Max(0, P - kx), x1 = Math.Min(OW, W + P - kx);
                        if (x1 <= x0) continue;
                        if (P == 0 && OW == 8 && wide)
                        {
                            // LeNet's conv2 without padding: each output row adds one vector into its input row.
                            for (int b = 0; b < B; b++)
                            {
                                float* d = dx + (nint)ci * s.Channel + (nint)b * s.Example + (nint)ky * W + kx, g = row + (nint)b * OH * 8;
                                for (int y = 0; y < OH; y++, d += W, g += 8) (Vector256.Load(d) + Vector256.Load(g)).Store(d);
                            }
                            continue;
                        }
                        for (int b = 0; b < B; b++)
                        {
                            float* plane = dx + (nint)ci * s.Channel + (nint)b * s.Example;
                            for (int y = 0; y < OH; y++)
                            {
                                int iy = y + ky - P;
                                if ((uint)iy >= (uint)H) continue;
                                // Elementwise float additions: the same result in every branch.
                                float* d = plane + (nint)iy * W + x0 + kx - P, g = row + (nint)(b * OH + y) * OW + x0;
                                int n = x1 - x0, i = 0;
                                if (wide)
                                    for (; i + 8 <= n; i += 8) (Vector256.Load(d + i) + Vector256.Load(g + i)).Store(d + i);
                                for (; i < n; i++) d[i] += g[i];
                            }
                        }
                    }
    }

    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>This thread's scratch of at least <paramref name="floats"/> floats (grown once, then reused: the training loop allocates nothing).</summary>
    private static float[] Scratch(int floats)
    {
        if (t_scratch == null || t_scratch.Length < floats) t_scratch = new float[floats];
        return t_scratch;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(float* p, int n)
    {
        for (int i = 0; i < n; i++) p[i] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Copy(float* dst, float* src, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) Vector512.Load(src + i).Store(dst + i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Load(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>values = values + bias, then max(·, 0) when <paramref name="relu"/> (0 unless the sum is &gt; 0, as the scalar branch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddBias(Span<float> values, float bias, bool relu, IsaLevel isa)
    {
        int n = values.Length, i = 0;
        fixed (float* v = values)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
            {
                var b = Vector512.Create(bias);
                for (; i + 16 <= n; i += 16)
                {
                    var x = Vector512.Load(v + i) + b;
                    (relu ? Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, Vector512<float>.Zero) : x).Store(v + i);
                }
            }
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
            {
                var b = Vector256.Create(bias);
                for (; i + 8 <= n; i += 8)
                {
                    var x = Vector256.Load(v + i) + b;
                    (relu ? Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, Vector256<float>.Zero) : x).Store(v + i);
                }
            }
            for (; i < n; i++)
            {
                float x = v[i] + bias;
                v[i] = relu && !(x > 0f) ? 0f : x;
            }
        }
    }

    /// <summary>
    /// Σ values in a fixed order every branch keeps: lane l (0 … 15) sums values[l], values[l + 16], … ascending, then the
    /// lanes are added 0 … 15.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float LaneSum(ReadOnlySpan<float> values, IsaLevel isa)
    {
        const int Lanes = 16;
        int n = values.Length, full = n / Lanes * Lanes;
        float* lanes = stackalloc float[Lanes];
        fixed (float* x = values)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
            {
                var acc = Vector512<float>.Zero;
                for (int i = 0; i < full; i += 16) acc += Vector512.Load(x + i);
                acc.Store(lanes);
            }
            else if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
            {
                Vector256<float> lo = Vector256<float>.Zero, hi = Vector256<float>.Zero;
                for (int i = 0; i < full; i += 16) { lo += Vector256.Load(x + i); hi += Vector256.Load(x + i + 8); }
                lo.Store(lanes);
                hi.Store(lanes + 8);
            }
            else
            {
                for (int l = 0; l < Lanes; l++) lanes[l] = 0f;
                for (int i = 0; i < full; i += 16)
                    for (int l = 0; l < Lanes; l++) lanes[l] += x[i + l];
            }
            for (int i = full; i < n; i++) lanes[i - full] += x[i];
        }
        float sum = 0f;
        for (int l = 0; l < Lanes; l++) sum += lanes[l];
        return sum;
    }

    /// <summary>
    /// sums[r] = <see cref="LaneSum"/> of row r of <paramref name="values"/> (rows of <paramref name="n"/> floats), four rows
    /// at a time so four independent chains hide the add latency; each row's order is exactly LaneSum's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LaneSums(Span<float> sums, ReadOnlySpan<float> values, int rows, int n, IsaLevel isa)
    {
        Check(sums.Length >= rows && values.Length >= (long)rows * n);
        int r = 0;
        if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
        {
            const int Lanes = 16;
            int full = n / Lanes * Lanes;
            float* lanes = stackalloc float[4 * Lanes];
            fixed (float* x = values)
                for (; r + 4 <= rows; r += 4)
                {
                    float* x0 = x + (nint)r * n, x1 = x0 + n, x2 = x1 + n, x3 = x2 + n;
                    Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
                    for (int i = 0; i < full; i += 16)
                    {
                        s0 += Vector512.Load(x0 + i); s1 += Vector512.Load(x1 + i);
                        s2 += Vector512.Load(x2 + i); s3 += Vector512.Load(x3 + i);
                    }
                    s0.Store(lanes); s1.Store(lanes + 16); s2.Store(lanes + 32); s3.Store(lanes + 48);
                    for (int q = 0; q < 4; q++)
                    {
                        float* row = x0 + (nint)q * n, l = lanes + q * Lanes;
                        for (int i = full; i < n; i++) l[i - full] += row[i];
                        float sum = 0f;
                        for (int j = 0; j < Lanes; j++) sum += l[j];
                        sums[r + q] = sum;
                    }
                }
        }
        for (; r < rows; r++) sums[r] = LaneSum(values.Slice(r * n, n), isa);
    }

    /// <summary>
    /// 2×2 max pooling, stride 2, into (C, B, OH, OW); the first of equal values wins, as in the reference: best = (0,0),
    /// then each of (0,1), (1,0), (1,1) replaces it only when strictly greater. The vector branches (AVX2 and up: 8
    /// windows per 256-bit step, or 4 per 128-bit step for rows of 4 … 7 windows) compute that same compare-and-select
    /// per window, so every level gives the same bits. A row's last vector is placed to end at its last window, so it
    /// may overlap the one before: those windows are computed twice from the same inputs and stored with the same bits,
    /// and no window is left to a branchy scalar tail.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxPool2dForward(Span<float> output /*(C,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides s, int B, int C, int H, int W,
        IsaLevel isa = IsaLevel.Avx512, ImageStrides? outputStrides = null)
    {
        int OH = H / 2, OW = W / 2;
        // The output is (C, B, OH, OW) unless outputStrides says otherwise (ExampleMajor: the (B, C·OH·OW) a flatten
        // after the pool would copy it into).
        var os = outputStrides ?? ImageStrides.ChannelMajor(B, OH * OW);
        Check(output.Length >= (long)(C - 1) * os.Channel + (long)(B - 1) * os.Example + OH * OW);
        bool wide = CpuIsa.Clamp(isa) >= IsaLevel.Avx2;
        int step = !wide || OW < 4 ? 0 : OW >= 8 ? 8 : 4; // windows per vector; 0: scalar
        fixed (float* px = input, py = output)
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                {
                    float* plane = px + (nint)c * s.Channel + (nint)b * s.Example, dst = py + (nint)c * os.Channel + (nint)b * os.Example;
                    for (int y = 0; y < OH; y++, dst += OW)
                    {
                        float* top = plane + (nint)2 * y * W, bottom = top + W;
                        if (step == 8) PoolRow8<No, No>(dst, top, bottom, OW, null);
                        else if (step == 4)
                            for (int x = 0; ; x += 4)
                            {
                                x = Math.Min(x, OW - 4);
                                var (te, to) = Deinterleave128(top + 2 * x);
                                var (be, bo) = Deinterleave128(bottom + 2 * x);
                                var best = te;
                                best = Vector128.ConditionalSelect(Vector128.GreaterThan(to, best), to, best);
                                best = Vector128.ConditionalSelect(Vector128.GreaterThan(be, best), be, best);
                                best = Vector128.ConditionalSelect(Vector128.GreaterThan(bo, best), bo, best);
                                best.Store(dst + x);
                                if (x + 4 >= OW) break;
                            }
                        else
                            for (int x = 0; x < OW; x++)
                            {
                                float best = top[2 * x];
                                if (top[2 * x + 1] > best) best = top[2 * x + 1];
                                if (bottom[2 * x] > best) best = bottom[2 * x];
                                if (bottom[2 * x + 1] > best) best = bottom[2 * x + 1];
                                dst[x] = best;
                            }
                    }
                }
    }

    /// <summary>
    /// Backward of <see cref="MaxPool2dForward"/>: each window's gradient to its (first) maximum, 0 elsewhere (the other
    /// window inputs and a dropped odd row or column). Every input is written once, without clearing the plane first.
    /// With <paramref name="reluMask"/> (the pooled image is a ReLU's output, in place) the ReLU's backward is folded
    /// in: an input gets the gradient only when it is also &gt; 0, exactly <see cref="CpuKernels.ReluBackward"/> applied
    /// after, in the same pass. The vector branches place a row's last vector as <see cref="MaxPool2dForward"/> does
    /// (overlapping windows store the same bits twice).
    /// </summary>
    public static void MaxPool2dBackward(Span<float> dinput, ImageStrides s, ReadOnlySpan<float> doutput /*(C,B,OH,OW)*/, ReadOnlySpan<float> input,
        int B, int C, int H, int W, IsaLevel isa = IsaLevel.Avx512, bool reluMask = false, ImageStrides? doutputStrides = null)
    {
        int OH = H / 2, OW = W / 2;
        var gs = doutputStrides ?? ImageStrides.ChannelMajor(B, OH * OW); // as the forward's output
        Check(doutput.Length >= (long)(C - 1) * gs.Channel + (long)(B - 1) * gs.Example + OH * OW);
        Check(input.Length >= (long)(C - 1) * s.Channel + (long)(B - 1) * s.Example + H * W && dinput.Length >= (long)(C - 1) * s.Channel + (long)(B - 1) * s.Example + H * W);
        fixed (float* px = input, pdx = dinput, pdy = doutput)
            MaxPool2dBackward(pdx, s, pdy, gs, px, s, B, C, H, W, isa, reluMask);
    }

    /// <summary>
    /// <see cref="MaxPool2dBackward(Span{float}, ImageStrides, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, int, IsaLevel, bool, ImageStrides?)"/>
    /// on B images whose input gradient, output gradient and input each have their own layout: dinput in
    /// <paramref name="ds"/>, doutput in <paramref name="gs"/>, input in <paramref name="xs"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxPool2dBackward(float* pdx, ImageStrides ds, float* pdy, ImageStrides gs, float* px, ImageStrides xs,
        int B, int C, int H, int W, IsaLevel isa, bool reluMask)
    {
        int OH = H / 2, OW = W / 2;
        bool wide = CpuIsa.Clamp(isa) >= IsaLevel.Avx2;
        int step = !wide || OW < 4 ? 0 : OW >= 8 ? 8 : 4;
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
            {
                float* plane = px + (nint)c * xs.Channel + (nint)b * xs.Example, dplane = pdx + (nint)c * ds.Channel + (nint)b * ds.Example,
                    dy = pdy + (nint)c * gs.Channel + (nint)b * gs.Example;
                for (int y = 0; y < OH; y++, dy += OW)
                {
                    float* top = plane + (nint)2 * y * W, bottom = top + W, dtop = dplane + (nint)2 * y * W, dbottom = dtop + W;
                    if (step == 8)
                        for (int x = 0; ; x += 8)
                        {
                            x = Math.Min(x, OW - 8);
                            var (te, to) = Deinterleave(top + 2 * x);
                            var (be, bo) = Deinterleave(bottom + 2 * x);
                            var c1 = Vector256.GreaterThan(to, te);
                            var best = Vector256.ConditionalSelect(c1, to, te);
                            var c2 = Vector256.GreaterThan(be, best);
                            best = Vector256.ConditionalSelect(c2, be, best);
                            var c3 = Vector256.GreaterThan(bo, best);
                            var g = Vector256.Load(dy + x);
                            // The last replacement wins: (1,1) if c3, else (1,0) if c2, else (0,1) if c1, else (0,0).
                            var w2 = Vector256.AndNot(c2, c3);
                            var w1 = Vector256.AndNot(Vector256.AndNot(c1, c2), c3);
                            var w0 = ~(c1 | c2 | c3);
                            var w3 = c3;
                            if (reluMask) // and only where the ReLU passed the value (> 0)
                            {
                                w0 &= Vector256.GreaterThan(te, Vector256<float>.Zero); w1 &= Vector256.GreaterThan(to, Vector256<float>.Zero);
                                w2 &= Vector256.GreaterThan(be, Vector256<float>.Zero); w3 &= Vector256.GreaterThan(bo, Vector256<float>.Zero);
                            }
                            Interleave(dtop + 2 * x, g & w0, g & w1);
                            Interleave(dbottom + 2 * x, g & w2, g & w3);
                            if (x + 8 >= OW) break;
                        }
                    else if (step == 4)
                        for (int x = 0; ; x += 4)
                        {
                            x = Math.Min(x, OW - 4);
                            var (te, to) = Deinterleave128(top + 2 * x);
                            var (be, bo) = Deinterleave128(bottom + 2 * x);
                            var c1 = Vector128.GreaterThan(to, te);
                            var best = Vector128.ConditionalSelect(c1, to, te);
                            var c2 = Vector128.GreaterThan(be, best);
                            best = Vector128.ConditionalSelect(c2, be, best);
                            var c3 = Vector128.GreaterThan(bo, best);
                            var g = Vector128.Load(dy + x);
                            var w2 = Vector128.AndNot(c2, c3);
                            var w1 = Vector128.AndNot(Vector128.AndNot(c1, c2), c3);
                            var w0 = ~(c1 | c2 | c3);
                            var w3 = c3;
                            if (reluMask)
                            {
                                w0 &= Vector128.GreaterThan(te, Vector128<float>.Zero); w1 &= Vector128.GreaterThan(to, Vector128<float>.Zero);
                                w2 &= Vector128.GreaterThan(be, Vector128<float>.Zero); w3 &= Vector128.GreaterThan(bo, Vector128<float>.Zero);
                            }
                            Interleave128(dtop + 2 * x, g & w0, g & w1);
                            Interleave128(dbottom + 2 * x, g & w2, g & w3);
                            if (x + 4 >= OW) break;
                        }
                    else
                        for (int x = 0; x < OW; x++)
                        {
                            int at = 0;
                            float best = top[2 * x];
                            if (top[2 * x + 1] > best) { best = top[2 * x + 1]; at = 1; }
                            if (bottom[2 * x] > best) { best = bottom[2 * x]; at = 2; }
                            if (bottom[2 * x + 1] > best) at = 3;
                            float g = dy[x];
                            dtop[2 * x] = at == 0 && (!reluMask || top[2 * x] > 0f) ? g : 0f;
                            dtop[2 * x + 1] = at == 1 && (!reluMask || top[2 * x + 1] > 0f) ? g : 0f;
                            dbottom[2 * x] = at == 2 && (!reluMask || bottom[2 * x] > 0f) ? g : 0f;
                            dbottom[2 * x + 1] = at == 3 && (!reluMask || bottom[2 * x + 1] > 0f) ? g : 0f;
                        }
                    if (W % 2 == 1) dtop[W - 1] = dbottom[W - 1] = 0f;
                }
                if (H % 2 == 1) new Span<float>(dplane + (nint)(H - 1) * W, W).Clear();
            }
    }

    /// <summary>
    /// One output row of <see cref="MaxPool2dForward"/>'s 256-bit branch (OW ≥ 8 windows from the input rows
    /// <paramref name="top"/> and <paramref name="bottom"/>): 8 windows a step, the last step ending at the last window.
    /// Also called by the AVX2 conv kernel that pools its rows as it computes them (CpuConvGemm.Forward24Avx2), so the
    /// two give the same bits by construction; with <typeparamref name="TCodes"/> (only the conv kernel's rows have
    /// codes), each window's <see cref="PoolCode"/> into <paramref name="codes"/> too. <typeparamref name="TReluOutput"/> (the conv kernel's ReLU'd rows: every value
    /// a float ≥ +0, never −0 or NaN) takes the maximum with vmaxps and the code's position as the first one holding it,
    /// which is what the compare-and-select gives on such values, in fewer instructions (AVX2 has no mask registers:
    /// each select is three).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void PoolRow8<TReluOutput, TCodes>(float* dst, float* top, float* bottom, int OW, byte* codes)
        where TReluOutput : struct, IFlag where TCodes : struct, IFlag
    {
        for (int x = 0; ; x += 8)
        {
            x = Math.Min(x, OW - 8);
            var (te, to) = Deinterleave(top + 2 * x);
            var (be, bo) = Deinterleave(bottom + 2 * x);
            Vector256<float> best;
            if (TReluOutput.On)
            {
                best = Avx.Max(Avx.Max(te, to), Avx.Max(be, bo));
                if (TCodes.On)
                {
                    // 3 + (te = best) + (te or to = best) + (te, to or be = best), each true as −1: the first position;
                    // + 4 when the maximum is > 0.
                    var f0 = Vector256.Equals(te, best).AsInt32();
                    var f1 = f0 | Vector256.Equals(to, best).AsInt32();
                    var f2 = f1 | Vector256.Equals(be, best).AsInt32();
                    var at = (Vector256.Create(3) + f0 + f1 + f2) | (Vector256.GreaterThan(best, Vector256<float>.Zero).AsInt32() & Vector256.Create(4));
                    // Every lane < 8, so the saturating packs are exact: per 128-bit half, bytes 0 … 3 are its four codes.
                    var packed = Avx2.PackUnsignedSaturate(Avx2.PackSignedSaturate(at, at), Avx2.PackSignedSaturate(at, at));
                    *(ulong*)(codes + x) = Avx2.PermuteVar8x32(packed.AsInt32(), Vector256.Create(0, 4, 0, 0, 0, 0, 0, 0)).AsUInt64().ToScalar();
                }
            }
            else
            {
                var c1 = Vector256.GreaterThan(to, te);
                best = Vector256.ConditionalSelect(c1, to, te);
                var c2 = Vector256.GreaterThan(be, best);
                best = Vector256.ConditionalSelect(c2, be, best);
                var c3 = Vector256.GreaterThan(bo, best);
                best = Vector256.ConditionalSelect(c3, bo, best);
            }
            best.Store(dst + x);
            if (x + 8 >= OW) break;
        }
    }

    /// <summary>
    /// A 2×2 pool window's code, one byte: bits 0–1 the window position of its first maximum (0 = (0,0), 1 = (0,1),
    /// 2 = (1,0), 3 = (1,1): the last replacement of the compare-and-select), bit 2 set when that maximum is &gt; 0. The
    /// pooled forward kernels write it beside the maximum, so the pool's backward needs neither the pooled image nor a
    /// comparison (<see cref="Conv2dBackwardWeightThroughPool"/>).
    /// </summary>
    internal static byte PoolCode(float t0, float t1, float b0, float b1)
    {
        int at = 0;
        float best = t0;
        if (t1 > best) { best = t1; at = 1; }
        if (b0 > best) { best = b0; at = 2; }
        if (b1 > best) { best = b1; at = 3; }
        return (byte)(at | (best > 0f ? 4 : 0));
    }

    /// <summary>8 consecutive floats as (elements 0, 2, 4, 6) and (1, 3, 5, 7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Even, Vector128<float> Odd) Deinterleave128(float* p)
    {
        Vector128<float> lo = Vector128.Load(p), hi = Vector128.Load(p + 4);
        return (Sse.Shuffle(lo, hi, 0b10_00_10_00), Sse.Shuffle(lo, hi, 0b11_01_11_01));
    }

    /// <summary>The inverse of <see cref="Deinterleave128"/>: stores e0 o0 e1 o1 e2 o2 e3 o3 at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave128(float* p, Vector128<float> even, Vector128<float> odd)
    {
        Sse.UnpackLow(even, odd).Store(p);
        Sse.UnpackHigh(even, odd).Store(p + 4);
    }

    /// <summary>16 consecutive floats as (elements 0, 2, …, 14) and (1, 3, …, 15).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<float> Even, Vector256<float> Odd) Deinterleave(float* p)
    {
        Vector256<float> lo = Vector256.Load(p), hi = Vector256.Load(p + 8);
        // Per 128-bit lane (a0 a2 b0 b2 | a4 a6 b4 b6), then the 64-bit pieces back in order.
        var even = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
        var odd = Avx2.Permute4x64(Avx.Shuffle(lo, hi, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
        return (even, odd);
    }

    /// <summary>The inverse of <see cref="Deinterleave"/>: stores e0 o0 e1 o1 … e7 o7 at <paramref name="p"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Interleave(float* p, Vector256<float> even, Vector256<float> odd)
    {
        var e = Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle();
        var o = Avx2.Permute4x64(odd.AsDouble(), 0b11_01_10_00).AsSingle();
        Avx.UnpackLow(e, o).Store(p);
        Avx.UnpackHigh(e, o).Store(p + 8);
    }

    /// <summary>(C, B, pixels) → (B, C·pixels): the channel-major features of each example, for the dense layer after.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FlattenForward(Span<float> output /*(B, C·HW)*/, ReadOnlySpan<float> input /*(C,B,HW)*/, int B, int C, int HW)
    {
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
                input.Slice((c * B + b) * HW, HW).CopyTo(output.Slice((b * C + c) * HW, HW));
    }

    /// <summary>(B, C·pixels) → (C, B, pixels), the inverse copy of <see cref="FlattenForward"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FlattenBackward(Span<float> dinput /*(C,B,HW)*/, ReadOnlySpan<float> doutput /*(B, C·HW)*/, int B, int C, int HW)
    {
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
                doutput.Slice((b * C + c) * HW, HW).CopyTo(dinput.Slice((c * B + b) * HW, HW));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Check(bool ok)
    {
        if (!ok) throw new ArgumentException("buffer shorter than its stated shape");
    }
}

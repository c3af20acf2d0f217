using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Where element (b, c, pixel) of a batch of images lies in its buffer: <c>c·Channel + b·Example + pixel</c>, pixel =
/// y·W + x. The network input is example-major <c>(B, C, H, W)</c> as datasets store it; every image the CPU engine
/// computes is channel-major over the batch <c>(C, B, H, W)</c>, so that one GEMM covers the whole batch
/// (docs/engine.md, CPU layouts).
/// </summary>
public readonly record struct ImageStrides(int Channel, int Example)
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
/// </summary>
[SkipLocalsInit]
public static unsafe class CpuConvKernels
{
    /// <summary>
    /// output (CO, B, OH, OW) = ReLU?(conv(input) + bias); <paramref name="columns"/> is scratch of at least
    /// CI·K·K·B·OH·OW floats.
    /// </summary>
    public static void Conv2dForward(Span<float> output /*(CO,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides inputStrides,
        ReadOnlySpan<float> weight /*(CO,CI,K,K)*/, ReadOnlySpan<float> bias /*(CO)*/, Span<float> columns /*(CI·K·K, B·OH·OW)*/,
        int B, int CI, int H, int W, int CO, int K, int P, bool relu, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K;
        Check(output.Length >= CO * N && weight.Length >= CO * CKK && bias.Length >= CO && columns.Length >= CKK * N);
        Im2Col(columns, input, inputStrides, B, CI, H, W, K, P);
        fixed (float* y = output, w = weight, col = columns)
            CpuGemm.Gemm(y, N, w, CKK, 1, col, N, null, false, CO, N, CKK, isa);
        for (int co = 0; co < CO; co++) AddBias(output.Slice(co * N, N), bias[co], relu, isa);
    }

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
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K;
        Check(dweight.Length >= CO * CKK && dbias.Length >= CO && doutput.Length >= CO * N && columns.Length >= CKK * N);
        Im2ColTransposed(columns, input, inputStrides, B, CI, H, W, K, P);
        fixed (float* dw = dweight, dy = doutput, colT = columns)
            CpuGemm.Gemm(dw, CKK, dy, N, 1, colT, CKK, null, false, CO, CKK, N, isa); // (CO,CKK) = dY(CO,N)·colᵀ(N,CKK)
        for (int co = 0; co < CO; co++) dbias[co] = LaneSum(doutput.Slice(co * N, N), isa);
    }

    /// <summary>dinput = col2im(Wᵀ · dY), written in <paramref name="inputStrides"/>; <paramref name="columns"/> is scratch of CI·K·K·B·OH·OW floats.</summary>
    public static void Conv2dBackwardInput(Span<float> dinput, ImageStrides inputStrides, ReadOnlySpan<float> doutput /*(CO,B,OH,OW)*/,
        ReadOnlySpan<float> weight /*(CO,CI,K,K)*/, Span<float> columns, int B, int CI, int H, int W, int CO, int K, int P, IsaLevel isa)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K;
        Check(weight.Length >= CO * CKK && doutput.Length >= CO * N && columns.Length >= CKK * N);
        fixed (float* dcol = columns, w = weight, dy = doutput)
            CpuGemm.Gemm(dcol, N, w, 1, CKK, dy, N, null, false, CKK, N, CO, isa); // (CKK,N) = Wᵀ(CKK,CO)·dY(CO,N)
        Col2Im(dinput, inputStrides, columns, B, CI, H, W, K, P, isa);
    }

    /// <summary>columns[(ci·K + ky)·K + kx, (b·OH + y)·OW + x] = input(b, ci, y + ky − P, x + kx − P), 0 outside.</summary>
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

    /// <summary>The transpose of <see cref="Im2Col"/>: columnsT[(b·OH + y)·OW + x, (ci·K + ky)·K + kx].</summary>
    public static void Im2ColTransposed(Span<float> columnsT, ReadOnlySpan<float> input, ImageStrides s, int B, int CI, int H, int W, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, CKK = CI * K * K;
        Check(columnsT.Length >= B * OH * OW * CKK);
        fixed (float* colT = columnsT, x = input)
            for (int b = 0; b < B; b++)
                for (int y = 0; y < OH; y++)
                    for (int ox = 0; ox < OW; ox++)
                    {
                        float* dst = colT + (nint)((b * OH + y) * OW + ox) * CKK;
                        // Kernel columns kx in [k0, k1) read input columns ox + kx − P inside the image.
                        int k0 = Math.Min(K, Math.Max(0, P - ox)), k1 = Math.Max(k0, Math.Min(K, W + P - ox));
                        for (int ci = 0; ci < CI; ci++)
                        {
                            float* plane = x + (nint)ci * s.Channel + (nint)b * s.Example;
                            for (int ky = 0; ky < K; ky++)
                            {
                                float* d = dst + (ci * K + ky) * K;
                                int iy = y + ky - P;
                                if ((uint)iy >= (uint)H) { Zero(d, K); continue; }
                                Zero(d, k0);
                                Copy(d + k0, plane + (nint)iy * W + ox + k0 - P, k1 - k0);
                                Zero(d + k1, K - k1);
                            }
                        }
                    }
    }

    /// <summary>
    /// dinput = 0, then for every column row (ci, ky, kx) in ascending order, dinput(b, ci, y + ky − P, x + kx − P) +=
    /// dcolumns[(ci, ky, kx), (b, y, x)]: each input gradient is its contributions added in that order.
    /// </summary>
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(float* p, int n)
    {
        for (int i = 0; i < n; i++) p[i] = 0f;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* dst, float* src, int n)
    {
        int i = 0;
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

    /// <summary>2×2 max pooling, stride 2, into (C, B, OH, OW); the first of equal values wins, as in the reference.</summary>
    public static void MaxPool2dForward(Span<float> output /*(C,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides s, int B, int C, int H, int W)
    {
        int OH = H / 2, OW = W / 2;
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
            {
                var plane = input.Slice(c * s.Channel + b * s.Example, H * W);
                var dst = output.Slice((c * B + b) * OH * OW, OH * OW);
                for (int y = 0; y < OH; y++)
                {
                    var top = plane.Slice(2 * y * W, W);
                    var bottom = plane.Slice((2 * y + 1) * W, W);
                    for (int x = 0; x < OW; x++)
                    {
                        float best = top[2 * x];
                        if (top[2 * x + 1] > best) best = top[2 * x + 1];
                        if (bottom[2 * x] > best) best = bottom[2 * x];
                        if (bottom[2 * x + 1] > best) best = bottom[2 * x + 1];
                        dst[y * OW + x] = best;
                    }
                }
            }
    }

    /// <summary>Backward of <see cref="MaxPool2dForward"/>: each window's gradient to its (first) maximum, 0 elsewhere.</summary>
    public static void MaxPool2dBackward(Span<float> dinput, ImageStrides s, ReadOnlySpan<float> doutput /*(C,B,OH,OW)*/, ReadOnlySpan<float> input,
        int B, int C, int H, int W)
    {
        int OH = H / 2, OW = W / 2;
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
            {
                int o = c * s.Channel + b * s.Example;
                var plane = input.Slice(o, H * W);
                var dplane = dinput.Slice(o, H * W);
                dplane.Clear();
                var dy = doutput.Slice((c * B + b) * OH * OW, OH * OW);
                for (int y = 0; y < OH; y++)
                    for (int x = 0; x < OW; x++)
                        dplane[Reference.ReferenceConv.WindowArgmax(plane, 0, y, x, H, W)] = dy[y * OW + x];
            }
    }

    /// <summary>(C, B, pixels) → (B, C·pixels): the channel-major features of each example, for the dense layer after.</summary>
    public static void FlattenForward(Span<float> output /*(B, C·HW)*/, ReadOnlySpan<float> input /*(C,B,HW)*/, int B, int C, int HW)
    {
        for (int c = 0; c < C; c++)
            for (int b = 0; b < B; b++)
                input.Slice((c * B + b) * HW, HW).CopyTo(output.Slice((b * C + c) * HW, HW));
    }

    /// <summary>(B, C·pixels) → (C, B, pixels), the inverse copy of <see cref="FlattenForward"/>.</summary>
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

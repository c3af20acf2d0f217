using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// SIMD versions of the <see cref="Reference.ReferenceMlp"/> layers, same names and argument order, plus the ISA
/// level to use (AVX-512 → AVX2 → scalar; the level is clamped to what the CPU has). Float accumulation with FMA;
/// gradients are overwritten. Results agree with the reference to float rounding; within one ISA level they are
/// bit-reproducible. Also the exact transpose (<see cref="Transpose"/>, 8×8 register blocks) that the dense backward
/// and the convolution kernels share.
/// </summary>
[SkipLocalsInit]
internal static unsafe class CpuKernels
{
    /// <summary>output = input · weight + bias, then max(·, 0) when <paramref name="relu"/> (fused epilogue).</summary>
    public static void MatmulForward(Span<float> output /*(B,OUT)*/, ReadOnlySpan<float> input /*(B,IN)*/,
        ReadOnlySpan<float> weight /*(IN,OUT)*/, ReadOnlySpan<float> bias /*(OUT)*/, int B, int IN, int OUT, bool relu, IsaLevel isa)
    {
        Check(output.Length >= B * OUT && input.Length >= B * IN && weight.Length >= IN * OUT && bias.Length >= OUT);
        fixed (float* y = output, x = input, w = weight, b = bias)
            CpuGemm.Gemm(y, OUT, x, IN, 1, w, OUT, b, relu, B, OUT, IN, isa);
    }

    /// <summary>
    /// <see cref="MatmulForward"/> of the rows <c>source[rowOffsets[b] …]</c> (IN floats each) without gathering them
    /// first: the same bits as MatmulForward over the gathered rows (see <see cref="CpuGemm.GemmRows"/>). Only where
    /// <see cref="HasMatmulRows"/>.
    /// </summary>
    public static void MatmulForwardRows(Span<float> output /*(B,OUT)*/, ReadOnlySpan<float> source, ReadOnlySpan<nint> rowOffsets /*(B)*/,
        ReadOnlySpan<float> weight /*(IN,OUT)*/, ReadOnlySpan<float> bias /*(OUT)*/, int B, int IN, int OUT, bool relu, IsaLevel isa)
    {
        Check(output.Length >= B * OUT && rowOffsets.Length >= B && weight.Length >= IN * OUT && bias.Length >= OUT);
        for (int b = 0; b < B; b++) Check(rowOffsets[b] >= 0 && rowOffsets[b] <= source.Length - IN);
        fixed (float* y = output, x = source, w = weight, bi = bias)
        fixed (nint* rows = rowOffsets)
            CpuGemm.GemmRows(y, OUT, x, rows, w, OUT, bi, relu, B, OUT, IN, isa);
    }

    /// <summary>
    /// <see cref="MatmulBackward"/> of a first layer (no input gradient) whose input rows are <c>source[rowOffsets[b] …]</c>:
    /// dweight = Xᵀ·doutput over those rows where they lie, dbias = Σ_b doutput; the same bits as MatmulBackward over
    /// the gathered rows (see <see cref="CpuGemm.GemmTransposedRows"/>). Only where <see cref="HasMatmulRows"/>.
    /// </summary>
    public static void MatmulBackwardRows(Span<float> dweight /*(IN,OUT)*/, Span<float> dbias /*(OUT)*/, ReadOnlySpan<float> doutput /*(B,OUT)*/,
        ReadOnlySpan<float> source, ReadOnlySpan<nint> rowOffsets /*(B)*/, int B, int IN, int OUT, IsaLevel isa)
    {
        Check(dbias.Length >= OUT);
        MatmulWeightGradientRows(dweight, doutput, source, rowOffsets, B, IN, OUT, isa);
        ColumnSums(dbias, doutput, B, OUT, isa);
    }

    /// <summary>
    /// <see cref="MatmulBackwardRows"/>'s dweight alone (no dbias), or its rows [<paramref name="featureStart"/>,
    /// <paramref name="featureEnd"/>) (input features; end −1: IN): each element the same bits as in the whole product,
    /// so two threads can compute a layer's weight gradient in two parts (<see cref="CpuAssist"/>).
    /// </summary>
    public static void MatmulWeightGradientRows(Span<float> dweight /*(IN,OUT)*/, ReadOnlySpan<float> doutput /*(B,OUT)*/,
        ReadOnlySpan<float> source, ReadOnlySpan<nint> rowOffsets /*(B)*/, int B, int IN, int OUT, IsaLevel isa, int featureStart = 0, int featureEnd = -1)
    {
        Check(dweight.Length >= IN * OUT && doutput.Length >= B * OUT && rowOffsets.Length >= B);
        for (int b = 0; b < B; b++) Check(rowOffsets[b] >= 0 && rowOffsets[b] <= source.Length - IN);
        int f0 = featureStart, f1 = Features(featureStart, featureEnd, IN);
        fixed (float* dw = dweight, dy = doutput, x = source)
        fixed (nint* rows = rowOffsets) // (IN,OUT) = Xᵀ(IN,B)·dY(B,OUT), rows f0..f1
            CpuGemm.GemmTransposedRows(dw + (nint)f0 * OUT, OUT, x + f0, rows, dy, OUT, f1 - f0, OUT, B, isa);
    }

    /// <summary>The end of input features [start, end) of <paramref name="IN"/> (end −1: IN), checked.</summary>
    private static int Features(int start, int end, int IN)
    {
        if (end < 0) end = IN;
        Check(0 <= start && start <= end && end <= IN);
        return end;
    }

    /// <summary>Whether <see cref="MatmulForwardRows"/> and <see cref="MatmulBackwardRows"/> take a layer of <paramref name="OUT"/> outputs at <paramref name="isa"/>.</summary>
    public static bool HasMatmulRows(int OUT, IsaLevel isa) => CpuGemm.HasRowsPath(OUT, isa);

    /// <summary>
    /// dweight = inputᵀ · doutput, dbias = Σ_b doutput, and, unless <paramref name="dinput"/> is empty (first
    /// layer), dinput = doutput · weightᵀ via <paramref name="weightTransposed"/> scratch <c>(OUT, IN)</c>.
    /// </summary>
    public static void MatmulBackward(Span<float> dinput /*(B,IN) or empty*/, Span<float> dweight /*(IN,OUT)*/, Span<float> dbias /*(OUT)*/,
        ReadOnlySpan<float> doutput /*(B,OUT)*/, ReadOnlySpan<float> input /*(B,IN)*/, ReadOnlySpan<float> weight /*(IN,OUT)*/,
        Span<float> weightTransposed /*(OUT,IN), scratch*/, int B, int IN, int OUT, IsaLevel isa)
    {
        Check(dbias.Length >= OUT && weight.Length >= IN * OUT);
        MatmulWeightGradient(dweight, doutput, input, B, IN, OUT, isa);
        ColumnSums(dbias, doutput, B, OUT, isa);
        if (dinput.IsEmpty) return;
        Check(dinput.Length >= B * IN && weightTransposed.Length >= IN * OUT);
        fixed (float* dx = dinput, dy = doutput, wt = weightTransposed, w = weight)
        {
            // Wᵀ by 8×8 register blocks (an exact copy on every level; LeNet's 512 × 128 dense weight, once a step, cost
            // about as much through the scalar tiles as the GEMM it feeds).
            Transpose(wt, w, OUT, IN, OUT, isa);
            CpuGemm.Gemm(dx, IN, dy, OUT, 1, wt, IN, null, false, B, IN, OUT, isa); // (B,IN) = dY(B,OUT)·Wᵀ(OUT,IN)
        }
    }

    /// <summary>
    /// <see cref="MatmulBackward"/>'s dweight = inputᵀ · doutput alone (no dbias, no dinput), or its rows
    /// [<paramref name="featureStart"/>, <paramref name="featureEnd"/>) (end −1: IN), each element the same bits as in
    /// the whole product.
    /// </summary>
    public static void MatmulWeightGradient(Span<float> dweight /*(IN,OUT)*/, ReadOnlySpan<float> doutput /*(B,OUT)*/, ReadOnlySpan<float> input /*(B,IN)*/,
        int B, int IN, int OUT, IsaLevel isa, int featureStart = 0, int featureEnd = -1)
    {
        Check(dweight.Length >= IN * OUT && doutput.Length >= B * OUT && input.Length >= B * IN);
        int f0 = featureStart, f1 = Features(featureStart, featureEnd, IN);
        fixed (float* dw = dweight, dy = doutput, x = input) // (IN,OUT) = Xᵀ(IN,B)·dY(B,OUT), rows f0..f1
            CpuGemm.Gemm(dw + (nint)f0 * OUT, OUT, x + f0, 1, IN, dy, OUT, null, false, f1 - f0, OUT, B, isa);
    }

    /// <summary>sums[o] = Σ_b values[b, o], b ascending.</summary>
    public static void ColumnSums(Span<float> sums /*(N)*/, ReadOnlySpan<float> values /*(B,N)*/, int B, int N, IsaLevel isa)
    {
        sums[..N].Clear();
        for (int b = 0; b < B; b++) Add(sums[..N], values.Slice(b * N, N), isa);
    }

    /// <summary>output = max(input, 0), 0 unless input &gt; 0 (output may alias input).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReluForward(Span<float> output /*(N)*/, ReadOnlySpan<float> input /*(N)*/, int N, IsaLevel isa)
    {
        Check(output.Length >= N && input.Length >= N);
        int i = 0;
        fixed (float* y = output, x = input)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
                for (; i + 16 <= N; i += 16)
                {
                    var v = Vector512.Load(x + i);
                    Vector512.ConditionalSelect(Vector512.GreaterThan(v, Vector512<float>.Zero), v, Vector512<float>.Zero).Store(y + i);
                }
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
                for (; i + 8 <= N; i += 8)
                {
                    var v = Vector256.Load(x + i);
                    Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, Vector256<float>.Zero).Store(y + i);
                }
            for (; i < N; i++) y[i] = x[i] > 0f ? x[i] : 0f;
        }
    }

    /// <summary>dinput = doutput where output &gt; 0, else 0 (dinput may alias doutput).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ReluBackward(Span<float> dinput /*(N)*/, ReadOnlySpan<float> doutput /*(N)*/, ReadOnlySpan<float> output /*(N)*/, int N, IsaLevel isa)
    {
        Check(dinput.Length >= N && doutput.Length >= N && output.Length >= N);
        int i = 0;
        fixed (float* dx = dinput, dy = doutput, y = output)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
                for (; i + 16 <= N; i += 16)
                    Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Load(y + i), Vector512<float>.Zero), Vector512.Load(dy + i), Vector512<float>.Zero).Store(dx + i);
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
                for (; i + 8 <= N; i += 8)
                    Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Load(y + i), Vector256<float>.Zero), Vector256.Load(dy + i), Vector256<float>.Zero).Store(dx + i);
            for (; i < N; i++) dx[i] = y[i] > 0f ? dy[i] : 0f;
        }
    }

    /// <summary>
    /// Softmax cross-entropy in float: losses[b] = −log softmax(logits[b])[labels[b]] (nats), dlogits = (softmax − onehot)/B.
    /// Per row: the maximum, e_c = exp(logit_c − max) (<see cref="CpuExp"/>, vectorized over the whole batch), their sum
    /// over c ascending, dlogit_c = e_c · ((1/B)/sum), then −1/B at the label. The loss's log is <see cref="MathF.Log(float)"/>
    /// (it is reported, never trained on); without <paramref name="computeLosses"/> it is not taken and
    /// <paramref name="losses"/> is only scratch.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SoftmaxCrossEntropyBackward(Span<float> dlogits /*(B,C)*/, Span<float> losses /*(B)*/,
        ReadOnlySpan<float> logits /*(B,C)*/, ReadOnlySpan<int> labels /*(B)*/, int B, int C, IsaLevel isa, bool computeLosses = true)
    {
        Check(C > 0 && dlogits.Length >= B * C && logits.Length >= B * C && losses.Length >= B && labels.Length >= B);
        fixed (float* d = dlogits, z = logits, maxima = losses) // the row maxima, until each row's loss replaces its own
        {
            for (int b = 0; b < B; b++)
            {
                float* row = z + b * C, drow = d + b * C;
                float max = row[0];
                for (int c = 1; c < C; c++) max = MathF.Max(max, row[c]);
                for (int c = 0; c < C; c++) drow[c] = row[c] - max;
                maxima[b] = max;
            }
            CpuExp.ExpInPlace(dlogits[..(B * C)], isa);
            float invB = 1f / B;
            for (int b = 0; b < B; b++)
            {
                float* drow = d + b * C;
                float sum = 0f;
                for (int c = 0; c < C; c++) sum += drow[c];
                int y = labels[b];
                Check((uint)y < (uint)C);
                if (computeLosses) maxima[b] = MathF.Log(sum) - (z[b * C + y] - maxima[b]);
                float scale = invB / sum;
                for (int c = 0; c < C; c++) drow[c] *= scale;
                drow[y] -= invB;
            }
        }
    }

    /// <summary>SGD momentum + weight decay (PyTorch semantics): g = grad + λw; v = μv + g; w −= η v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SgdMomentumUpdate(Span<float> parameters, Span<float> velocity, ReadOnlySpan<float> gradients,
        float learningRate, float momentum, float weightDecay, IsaLevel isa)
    {
        int n = parameters.Length;
        Check(velocity.Length >= n && gradients.Length >= n);
        int i = 0;
        fixed (float* w = parameters, v = velocity, g = gradients)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
            {
                var lr = Vector512.Create(-learningRate); var mu = Vector512.Create(momentum); var wd = Vector512.Create(weightDecay);
                for (; i + 16 <= n; i += 16)
                {
                    var wi = Vector512.Load(w + i);
                    var gi = Vector512.FusedMultiplyAdd(wd, wi, Vector512.Load(g + i));
                    var vi = Vector512.FusedMultiplyAdd(mu, Vector512.Load(v + i), gi);
                    vi.Store(v + i);
                    Vector512.FusedMultiplyAdd(lr, vi, wi).Store(w + i);
                }
            }
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
            {
                var lr = Vector256.Create(-learningRate); var mu = Vector256.Create(momentum); var wd = Vector256.Create(weightDecay);
                for (; i + 8 <= n; i += 8)
                {
                    var wi = Vector256.Load(w + i);
                    var gi = Vector256.FusedMultiplyAdd(wd, wi, Vector256.Load(g + i));
                    var vi = Vector256.FusedMultiplyAdd(mu, Vector256.Load(v + i), gi);
                    vi.Store(v + i);
                    Vector256.FusedMultiplyAdd(lr, vi, wi).Store(w + i);
                }
            }
            for (; i < n; i++)
            {
                float gi = MathF.FusedMultiplyAdd(weightDecay, w[i], g[i]);
                float vi = MathF.FusedMultiplyAdd(momentum, v[i], gi);
                v[i] = vi;
                w[i] = MathF.FusedMultiplyAdd(-learningRate, vi, w[i]);
            }
        }
    }

    /// <summary>sum += values, elementwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(Span<float> sum, ReadOnlySpan<float> values, IsaLevel isa)
    {
        int n = sum.Length, i = 0;
        fixed (float* s = sum, x = values)
        {
            if (isa >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated)
                for (; i + 16 <= n; i += 16) (Vector512.Load(s + i) + Vector512.Load(x + i)).Store(s + i);
            if (isa >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated)
                for (; i + 8 <= n; i += 8) (Vector256.Load(s + i) + Vector256.Load(x + i)).Store(s + i);
            for (; i < n; i++) s[i] += x[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Check(bool ok)
    {
        if (!ok) throw new ArgumentException("buffer shorter than its stated shape");
    }

    /// <summary>
    /// dst(n, rows) = src(rows, n) where row r of src starts at src + r·<paramref name="srcRow"/>: a copy, exact on
    /// every branch. AVX2 and up move 8×8 blocks through registers (8 row loads, 24 shuffles, 8 stores: the transposed
    /// dY of a weight gradient is the whole batch's output gradient, so this runs at copy speed rather than one float
    /// per step); the ragged rows and columns go one float at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose(float* dst, float* src, int srcRow, int rows, int n, IsaLevel isa)
    {
        int r8 = 0, n8 = 0;
        if (CpuIsa.Clamp(isa) >= IsaLevel.Avx2)
        {
            r8 = rows / 8 * 8;
            n8 = n / 8 * 8;
            for (int i = 0; i < n8; i += 8)
                for (int r = 0; r < r8; r += 8)
                    Transpose8x8(dst + (nint)i * rows + r, rows, src + (nint)r * srcRow + i, srcRow);
        }
        // The columns the blocks left (all of them on the scalar branch), then the rows they left.
        for (int r = 0; r < rows; r++)
        {
            float* s = src + (nint)r * srcRow;
            for (int i = r < r8 ? n8 : 0; i < n; i++) dst[(nint)i * rows + r] = s[i];
        }
    }

    /// <summary>The 8×8 block at <paramref name="src"/> (row stride <paramref name="srcRow"/>) transposed into <paramref name="dst"/> (row stride <paramref name="dstRow"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* dst, int dstRow, float* src, int srcRow)
    {
        Vector256<float> r0 = Vector256.Load(src), r1 = Vector256.Load(src + srcRow), r2 = Vector256.Load(src + 2 * srcRow),
            r3 = Vector256.Load(src + 3 * srcRow), r4 = Vector256.Load(src + 4 * srcRow), r5 = Vector256.Load(src + 5 * srcRow),
            r6 = Vector256.Load(src + 6 * srcRow), r7 = Vector256.Load(src + 7 * srcRow);
        // Pairs of rows interleaved, then pairs of pairs, per 128-bit lane; then the lanes exchanged.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3),
            t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE),
            u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + dstRow);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * dstRow);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * dstRow);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * dstRow);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * dstRow);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * dstRow);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * dstRow);
    }
}

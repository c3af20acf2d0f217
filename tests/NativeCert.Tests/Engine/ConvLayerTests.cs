using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;

namespace NativeCert.Tests.Engine;

/// <summary>
/// Image layers on every tier: the scalar reference against finite differences, the SIMD kernels against the reference
/// on every ISA level (and bit-identical across levels), with odd sizes that leave tails in every loop.
/// </summary>
public class ConvLayerTests
{
    // (B, CI, H, W, CO, K, P): a padded 3×3 with 17 output channels (a GEMM row tail), a 5×5 with a ragged N = B·OH·OW,
    // a 1×1, and a kernel as large as the padded image.
    public static readonly TheoryData<int, int, int, int, int, int, int> Sizes = new()
    {
        { 3, 3, 11, 9, 17, 3, 1 },
        { 2, 2, 13, 12, 5, 5, 0 },
        { 1, 4, 5, 7, 3, 1, 0 },
        { 2, 1, 3, 4, 2, 5, 2 },
        { 1, 2, 2, 3, 2, 2, 3 }, // padding beyond the kernel: whole output rows and columns see only zeros
    };

    private static void AssertClose(ReadOnlySpan<float> want, ReadOnlySpan<float> got, float tolerance, string what) =>
        NativeCert.Tests.Gpu.IlgpuKernelTests.AssertClose(want, got, tolerance, what);

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return (float)s;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Reference_conv_gradients_match_finite_differences(int B, int CI, int H, int W, int CO, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1;
        var x = EngineTestData.RandomArray(B * CI * H * W, 1);
        var w = EngineTestData.RandomArray(CO * CI * K * K, 2);
        var bias = EngineTestData.RandomArray(CO, 3);
        var g = EngineTestData.RandomArray(B * CO * OH * OW, 4); // L = Σ g · y
        var (dx, dw, db) = (new float[x.Length], new float[w.Length], new float[CO]);
        ReferenceConv.Conv2dBackward(dx, dw, db, g, x, w, B, CI, H, W, CO, K, P);
        var y = new float[g.Length];
        float Loss()
        {
            ReferenceConv.Conv2dForward(y, x, w, bias, B, CI, H, W, CO, K, P);
            return Dot(g, y);
        }
        // The convolution is linear in x, w and b, so a central difference is exact up to the rounding of the loss.
        void Check(float[] values, float[] analytic, string what)
        {
            const float h = 0.5f;
            for (int i = 0; i < values.Length; i += Math.Max(1, values.Length / 40))
            {
                float keep = values[i];
                values[i] = keep + h; float up = Loss();
                values[i] = keep - h; float down = Loss();
                values[i] = keep;
                float numeric = (up - down) / (2 * h);
                Assert.True(MathF.Abs(numeric - analytic[i]) <= 1e-3f * (1 + MathF.Abs(numeric)), $"{what}[{i}]: numeric {numeric}, analytic {analytic[i]}");
            }
        }
        Check(x, dx, "dx");
        Check(w, dw, "dw");
        Check(bias, db, "db");
    }

    [Fact]
    public void Reference_maxpool_gradient_matches_finite_differences_and_drops_the_odd_edge()
    {
        const int B = 2, C = 3, H = 7, W = 6;
        var x = EngineTestData.RandomArray(B * C * H * W, 5);
        var g = EngineTestData.RandomArray(B * C * 3 * 3, 6);
        var dx = new float[x.Length];
        ReferenceConv.MaxPool2dBackward(dx, g, x, B, C, H, W);
        var y = new float[g.Length];
        for (int i = 0; i < x.Length; i++)
        {
            const float h = 1e-3f; // distinct random values: no window changes its maximum under h
            float keep = x[i];
            x[i] = keep + h; ReferenceConv.MaxPool2dForward(y, x, B, C, H, W); float up = Dot(g, y);
            x[i] = keep - h; ReferenceConv.MaxPool2dForward(y, x, B, C, H, W); float down = Dot(g, y);
            x[i] = keep;
            Assert.True(MathF.Abs((up - down) / (2 * h) - dx[i]) < 2e-2f, $"dx[{i}]");
        }
        // Row 6 (the odd one) gets no gradient.
        for (int bc = 0; bc < B * C; bc++)
            for (int xx = 0; xx < W; xx++) Assert.Equal(0f, dx[(bc * H + 6) * W + xx]);
        // Ties go to the first in window order.
        float[] tie = [1, 1, 1, 1];
        var d = new float[4];
        ReferenceConv.MaxPool2dBackward(d, [5f], tie, 1, 1, 2, 2);
        Assert.Equal([5f, 0, 0, 0], d);
    }

    /// <summary>(B, C, HW) example-major ↔ (C, B, HW) channel-major.</summary>
    private static float[] ToChannelMajor(float[] exampleMajor, int B, int C, int HW)
    {
        var o = new float[exampleMajor.Length];
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                Array.Copy(exampleMajor, (b * C + c) * HW, o, (c * B + b) * HW, HW);
        return o;
    }

    /// <summary>Conv2dForward (without and with ReLU) gives the same bits on AVX-512 and AVX2 as on the scalar branch (no padding).</summary>
    private static void AssertForwardIsTheSameOnEveryLevel(float[] x, ImageStrides strides, float[] w, float[] bias, int B, int CI, int H, int W, int CO, int K)
    {
        int N = B * (H - K + 1) * (W - K + 1), CKK = CI * K * K;
        float[] Forward(IsaLevel isa, bool relu)
        {
            var y = new float[CO * N];
            CpuConvKernels.Conv2dForward(y, x, strides, w, bias, new float[CKK * N], B, CI, H, W, CO, K, 0, relu, isa);
            return y;
        }
        foreach (bool relu in new[] { false, true })
        {
            var y = Forward(IsaLevel.Scalar, relu);
            Assert.Equal(y, Forward(IsaLevel.Avx512, relu));
            Assert.Equal(y, Forward(IsaLevel.Avx2, relu));
        }
    }

    /// <summary>(C, B, HW) channel-major → (B, C, HW) example-major.</summary>
    private static float[] FromChannelMajor(float[] channelMajor, int B, int C, int HW)
    {
        var o = new float[channelMajor.Length];
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                Array.Copy(channelMajor, (c * B + b) * HW, o, (b * C + c) * HW, HW);
        return o;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Simd_conv_matches_the_reference_and_is_bit_identical_across_isa_levels(int B, int CI, int H, int W, int CO, int K, int P)
    {
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW;
        var x = EngineTestData.RandomArray(B * CI * H * W, 7);
        var w = EngineTestData.RandomArray(CO * CI * K * K, 8);
        var bias = EngineTestData.RandomArray(CO, 9);
        var g = EngineTestData.RandomArray(B * CO * OH * OW, 10);
        var (yRef, dxRef, dwRef, dbRef) = (new float[g.Length], new float[x.Length], new float[w.Length], new float[CO]);
        ReferenceConv.Conv2dForward(yRef, x, w, bias, B, CI, H, W, CO, K, P);
        ReferenceConv.Conv2dBackward(dxRef, dwRef, dbRef, g, x, w, B, CI, H, W, CO, K, P);
        var gChannelMajor = ToChannelMajor(g, B, CO, OH * OW);
        var xChannelMajor = ToChannelMajor(x, B, CI, H * W);
        float[]? first = null;
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var columns = new float[CI * K * K * N];
            foreach (bool channelMajorInput in new[] { false, true })
            {
                var strides = channelMajorInput ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(CI, H * W);
                var input = channelMajorInput ? xChannelMajor : x;
                var y = new float[CO * N];
                CpuConvKernels.Conv2dForward(y, input, strides, w, bias, columns, B, CI, H, W, CO, K, P, relu: false, isa);
                AssertClose(ToChannelMajor(yRef, B, CO, OH * OW), y, 1e-5f, $"{isa} forward");
                var (dx, dw, db) = (new float[x.Length], new float[w.Length], new float[CO]);
                CpuConvKernels.Conv2dBackward(dx, dw, db, gChannelMajor, input, strides, w, columns, B, CI, H, W, CO, K, P, isa);
                AssertClose(channelMajorInput ? ToChannelMajor(dxRef, B, CI, H * W) : dxRef, dx, 1e-5f, $"{isa} dx");
                AssertClose(dwRef, dw, 1e-5f, $"{isa} dw");
                AssertClose(dbRef, db, 1e-5f, $"{isa} db");
                var all = y.Concat(dx).Concat(dw).Concat(db).ToArray();
                if (!channelMajorInput)
                {
                    first ??= all;
                    Assert.Equal(first, all);
                }
                var withRelu = new float[CO * N];
                CpuConvKernels.Conv2dForward(withRelu, input, strides, w, bias, columns, B, CI, H, W, CO, K, P, relu: true, isa);
                Assert.Equal(y.Select(v => v > 0 ? v : 0f), withRelu);
            }
        }
    }

    [Theory]
    [InlineData(IsaLevel.Avx512)]
    [InlineData(IsaLevel.Avx2)]
    [InlineData(IsaLevel.Scalar)]
    internal void Simd_conv_results_do_not_depend_on_how_the_batch_is_cut_into_image_groups(IsaLevel isa)
    {
        // 5 images of a padded 3×3 with 19 output channels (row tails of the 8- and 6-row blocks) and CI·K·K = 27
        // (a masked second vector): one image per group, two and a ragged last group, and the whole batch at once.
        const int B = 5, CI = 3, H = 7, W = 6, CO = 19, K = 3, P = 1, OH = 7, OW = 6, N = B * OH * OW;
        var x = ToChannelMajor(EngineTestData.RandomArray(B * CI * H * W, 21), B, CI, H * W);
        var w = EngineTestData.RandomArray(CO * CI * K * K, 22);
        var bias = EngineTestData.RandomArray(CO, 23);
        var g = EngineTestData.RandomArray(CO * N, 24);
        var strides = ImageStrides.ChannelMajor(B, H * W);
        float[] Run(int chunkFloats)
        {
            int keep = CpuConvKernels.ChunkFloats;
            CpuConvKernels.ChunkFloats = chunkFloats;
            try
            {
                var (y, dx, dw, db, columns) = (new float[CO * N], new float[x.Length], new float[w.Length], new float[CO], new float[CI * K * K * N]);
                CpuConvKernels.Conv2dForward(y, x, strides, w, bias, columns, B, CI, H, W, CO, K, P, relu: true, isa);
                CpuConvKernels.Conv2dBackward(dx, dw, db, g, x, strides, w, columns, B, CI, H, W, CO, K, P, isa);
                return y.Concat(dx).Concat(dw).Concat(db).ToArray();
            }
            finally { CpuConvKernels.ChunkFloats = keep; }
        }
        var whole = Run(int.MaxValue);
        Assert.Equal(whole, Run(1));
        Assert.Equal(whole, Run(2 * CI * K * K * OH * OW));
    }

    [Theory]
    [InlineData(16, 1, 5, 12, 11, false)] // LeNet's conv1 shape (CI·K·K = 25: a pass of 13 rows and one of 12), example-major input
    [InlineData(16, 2, 3, 7, 9, true)]    // CI·K·K = 18: a pass of 13 rows and one of 5 (aliased rows), channel-major input
    [InlineData(32, 3, 5, 12, 12, true)]  // 32 channels, CI·K·K = 75: 7 passes of two (ci, ky) row groups and one of a single group
    [InlineData(32, 2, 5, 9, 10, false)]  // 32 channels, CI·K·K = 50: 5 passes of two row groups, odd output sizes
    [InlineData(32, 2, 3, 7, 9, true)]    // 32 channels, K = 3: 3 passes of 8 rows and one of 2 (aliased rows)
    [InlineData(16, 1, 5, 12, 20, false)] // 8×16 outputs, 16 channels: AVX2's 8-output steps (two a row)
    [InlineData(32, 2, 5, 9, 20, true)]   // 5×16 outputs, 32 channels: AVX2's 8-output steps, two 16-channel passes
    internal void Direct_weight_gradient_is_the_im2col_gemm_on_every_level(int CO, int CI, int K, int H, int W, bool channelMajor)
    {
        // The AVX-512 weight gradient of a 16- or 32-channel convolution reads the images directly (CpuConvGemm), as does
        // AVX2's with K = 5 (rows of a multiple of 8 outputs in unrolled 8-output steps, other widths one output a step);
        // the scalar branch runs im2col + GEMM. Same bits, for one image per group, a ragged last group and the whole batch.
        const int B = 5;
        int OH = H - K + 1, OW = W - K + 1, N = B * OH * OW, CKK = CI * K * K;
        var x = EngineTestData.RandomArray(B * CI * H * W, 41);
        var g = EngineTestData.RandomArray(CO * N, 42);
        var strides = channelMajor ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(CI, H * W);
        float[] Run(IsaLevel isa, int chunkFloats)
        {
            int keep = CpuConvKernels.ChunkFloats;
            CpuConvKernels.ChunkFloats = chunkFloats;
            try
            {
                var (dw, db) = (new float[CO * CKK], new float[CO]);
                CpuConvKernels.Conv2dBackwardWeight(dw, db, g, x, strides, new float[CKK * N], B, CI, H, W, CO, K, 0, isa);
                return dw.Concat(db).ToArray();
            }
            finally { CpuConvKernels.ChunkFloats = keep; }
        }
        var want = Run(IsaLevel.Scalar, int.MaxValue);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
            foreach (int chunk in new[] { 1, 2 * CKK * OH * OW, int.MaxValue })
                Assert.Equal(want, Run(isa, chunk));
        // And it is the weight gradient: the reference in double, to float rounding.
        var (dwRef, dbRef, dxRef) = (new float[CO * CKK], new float[CO], new float[x.Length]);
        var xExampleMajor = channelMajor ? FromChannelMajor(x, B, CI, H * W) : x;
        var gExampleMajor = FromChannelMajor(g, B, CO, OH * OW);
        ReferenceConv.Conv2dBackward(dxRef, dwRef, dbRef, gExampleMajor, xExampleMajor, new float[CO * CKK], B, CI, H, W, CO, K, 0);
        for (int i = 0; i < CO; i++) Assert.True(MathF.Abs(dbRef[i] - want[CO * CKK + i]) <= 1e-4f * (1 + MathF.Abs(dbRef[i])), $"db[{i}]");
        for (int i = 0; i < dwRef.Length; i++) Assert.True(MathF.Abs(dwRef[i] - want[i]) <= 1e-4f * (1 + MathF.Abs(dwRef[i])), $"dw[{i}]: {want[i]} vs {dwRef[i]}");
    }

    [Theory]
    [InlineData(16, 1, 28, 28)] // LeNet's conv1: 24×24 → 12×12, the AVX-512 kernel pools its tiles
    [InlineData(5, 2, 10, 28)]  // 5 channels (a group's rows past CO aliased), 6×24 outputs, 2 input channels
    [InlineData(4, 1, 9, 13)]   // 5×9 outputs: not the kernel's shape anywhere (the conv, then the pool)
    internal void Pooled_forward_is_the_conv_then_the_pool_on_every_level(int CO, int CI, int H, int W)
    {
        const int B = 3, K = 5;
        int OH = H - K + 1, OW = W - K + 1, N = B * OH * OW;
        var x = EngineTestData.RandomArray(B * CI * H * W, 81);
        var w = EngineTestData.RandomArray(CO * CI * K * K, 82);
        var bias = EngineTestData.RandomArray(CO, 83);
        for (int i = 0; i < CO * CI * K * K; i += 5) w[i] = 0f; // plenty of ReLU zeros and ties within windows
        // A constant band in every image: the outputs over it are equal, so windows there tie at a positive maximum too
        // (the code is then the first position holding it).
        for (int p = 0; p < B * CI; p++)
            for (int i = 0; i < Math.Min(H, 7) * W; i++) x[p * H * W + i] = 0.375f;
        var strides = ImageStrides.ExampleMajor(CI, H * W);
        int pooledSize = CO * B * (OH / 2) * (OW / 2);
        var (yWant, pWant) = (new float[CO * N], new float[pooledSize]);
        CpuConvKernels.Conv2dForward(yWant, x, strides, w, bias, new float[CI * K * K * N], B, CI, H, W, CO, K, 0, relu: true, IsaLevel.Scalar);
        CpuConvKernels.MaxPool2dForward(pWant, yWant, ImageStrides.ChannelMajor(B, OH * OW), B, CO, OH, OW, IsaLevel.Scalar);
        var codesWant = WindowCodes(yWant, B, CO, OH, OW);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var (y, p) = (new float[CO * N], new float[pooledSize]);
            CpuConvKernels.Conv2dForwardPooled(y, p, default, x, strides, w, bias, new float[CI * K * K * N], B, CI, H, W, CO, K, 0, relu: true, isa);
            Assert.Equal(yWant, y);
            Assert.Equal(pWant, p);
            if (!CpuConvGemm.HasPooledForward(OH, OW, K, 0, relu: true, isa)) continue;
            // Where the kernel runs: the window codes too, and the pooled image alone when the conv's output is not wanted.
            var (p2, codes) = (new float[pooledSize], new byte[pooledSize]);
            CpuConvKernels.Conv2dForwardPooled(default, p2, codes, x, strides, w, bias, new float[CI * K * K * N], B, CI, H, W, CO, K, 0, relu: true, isa);
            Assert.Equal(pWant, p2);
            Assert.Equal(codesWant, codes);
            // The other combinations of outputs, each compiled on its own: all three, and the pooled image alone.
            var (y3, p3, codes3, p4) = (new float[CO * N], new float[pooledSize], new byte[pooledSize], new float[pooledSize]);
            CpuConvKernels.Conv2dForwardPooled(y3, p3, codes3, x, strides, w, bias, new float[CI * K * K * N], B, CI, H, W, CO, K, 0, relu: true, isa);
            CpuConvKernels.Conv2dForwardPooled(default, p4, default, x, strides, w, bias, new float[CI * K * K * N], B, CI, H, W, CO, K, 0, relu: true, isa);
            Assert.Equal(yWant, y3);
            Assert.Equal(pWant, p3);
            Assert.Equal(codesWant, codes3);
            Assert.Equal(pWant, p4);
        }
    }

    /// <summary>Each 2×2 window's <see cref="CpuConvKernels.PoolCode"/> of a <c>(C, B, H, W)</c> image, in the pooled layout.</summary>
    private static byte[] WindowCodes(float[] y, int B, int C, int H, int W)
    {
        int PH = H / 2, PW = W / 2;
        var codes = new byte[C * B * PH * PW];
        for (int cb = 0; cb < C * B; cb++)
            for (int py = 0; py < PH; py++)
                for (int px = 0; px < PW; px++)
                {
                    int t = cb * H * W + 2 * py * W + 2 * px;
                    codes[(cb * PH + py) * PW + px] = CpuConvKernels.PoolCode(y[t], y[t + 1], y[t + W], y[t + W + 1]);
                }
        return codes;
    }

    [Theory]
    [InlineData(16, 1, 5, 28, 28, 0, true)]  // LeNet's conv1 (24×24 → 12×12, 576 outputs an image: whole 16-lane runs), after a ReLU
    [InlineData(16, 1, 5, 12, 11, 0, false)] // 8×7: an odd column dropped, 56 outputs an image (groups start mid-run), no ReLU
    [InlineData(32, 2, 3, 11, 19, 0, true)]  // 9×17: 8 windows a row (the vector step), an odd row and column dropped, 32 channels
    [InlineData(5, 3, 3, 13, 11, 1, true)]   // 13×11 padded, 5 channels (the im2col path on every level), an odd row and column
    [InlineData(16, 2, 3, 10, 12, 0, true)]  // 8×10: 5 windows a row (the scalar step from window codes), 160 outputs an image
    [InlineData(16, 1, 5, 12, 28, 0, false)] // 8×24 from codes without the ReLU mask
    [InlineData(32, 1, 3, 10, 38, 0, true)]  // 8×36: 18 windows a row (AVX-512 from codes: a block of 16 windows, then 2), 32 channels
    [InlineData(48, 2, 3, 6, 8, 0, false)]   // 4×6: 3 windows a row, 48 channels (three 16-channel blocks), 24 outputs an image
    [InlineData(24, 1, 3, 6, 20, 0, true)]   // 4×18: 9 windows a row (AVX2 from codes: blocks at 0 and 1), 24 channels (three 8-channel blocks)
    internal void Weight_gradient_through_a_pool_is_the_pool_backward_then_the_weight_gradient(int CO, int CI, int K, int H, int W, int P, bool relu)
    {
        // Conv2dBackwardWeightThroughPool (the first conv of LeNet, whose dY the pool's backward would write for the whole
        // batch) against MaxPool2dBackward + Conv2dBackwardWeight, bit for bit, at every level, for one image per group,
        // a ragged last group and the whole batch; pool inputs with ties and zeros (ReLU outputs) so the first-maximum
        // rule and the ReLU mask matter.
        const int B = 5;
        int OH = H + 2 * P - K + 1, OW = W + 2 * P - K + 1, N = B * OH * OW, CKK = CI * K * K, PHW = OH / 2 * (OW / 2);
        var x = EngineTestData.RandomArray(B * CI * H * W, 71);
        var y = EngineTestData.RandomArray(CO * N, 72);
        for (int i = 0; i < y.Length; i++)
        {
            if (relu && y[i] < 0) y[i] = 0f;
            if (i % 7 == 3) y[i] = y[i - 1]; // ties inside windows
        }
        var dpool = EngineTestData.RandomArray(CO * B * PHW, 73);
        var strides = ImageStrides.ExampleMajor(CI, H * W);
        var pool = ImageStrides.ChannelMajor(B, OH * OW);
        // From the window codes when the output's sizes are even (the pooled forward's), and then without the output.
        var codes = OH % 2 == 0 && OW % 2 == 0 ? WindowCodes(y, B, CO, OH, OW) : null;
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var dy = new float[CO * N];
            CpuConvKernels.MaxPool2dBackward(dy, pool, dpool, y, B, CO, OH, OW, isa, reluMask: relu);
            var (dwWant, dbWant) = (new float[CO * CKK], new float[CO]);
            CpuConvKernels.Conv2dBackwardWeight(dwWant, dbWant, dy, x, strides, new float[CKK * N], B, CI, H, W, CO, K, P, isa);
            foreach (int chunk in new[] { 1, 2 * CKK * OH * OW, int.MaxValue })
            {
                int keep = CpuConvKernels.ChunkFloats;
                CpuConvKernels.ChunkFloats = chunk;
                try
                {
                    var (dw, db) = (new float[CO * CKK], new float[CO]);
                    CpuConvKernels.Conv2dBackwardWeightThroughPool(dw, db, dpool, y, default, relu, x, strides, new float[CKK * N], B, CI, H, W, CO, K, P, isa);
                    Assert.Equal(dwWant, dw);
                    Assert.Equal(dbWant, db);
                    if (codes is null) continue;
                    (dw, db) = (new float[CO * CKK], new float[CO]);
                    CpuConvKernels.Conv2dBackwardWeightThroughPool(dw, db, dpool, default, codes, relu, x, strides, new float[CKK * N], B, CI, H, W, CO, K, P, isa);
                    Assert.Equal(dwWant, dw);
                    Assert.Equal(dbWant, db);
                }
                finally { CpuConvKernels.ChunkFloats = keep; }
            }
        }
    }

    [Theory]
    [InlineData(16, 32, 12, true)] // LeNet's conv2: 12×12 → 8×8, CI·K·K = 400 (100 tiles of 4 rows), channel-major input
    [InlineData(3, 5, 12, false)]  // CI·K·K = 75: a last tile of 3 rows (aliased rows), example-major input
    internal void Fused_8x8_forward_and_input_gradient_are_the_gemm_paths_on_every_level(int CI, int CO, int H, bool channelMajor)
    {
        // The AVX-512 input gradient of a conv with 8×8 outputs adds each image's column gradients into dX from registers
        // (CpuConvGemm.InputGradient8x8), AVX2 likewise with channels in pairs (CI = 3: a pair and an odd last channel);
        // scalar runs Wᵀ·dY into columns, then col2im. Same bits.
        const int B = 3, K = 5;
        int W = H, OH = H - K + 1, N = B * OH * OH, CKK = CI * K * K;
        var w = EngineTestData.RandomArray(CO * CKK, 51);
        var g = EngineTestData.RandomArray(CO * N, 52);
        var strides = channelMajor ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(CI, H * W);
        float[] Run(IsaLevel isa, int chunkFloats)
        {
            int keep = CpuConvKernels.ChunkFloats;
            CpuConvKernels.ChunkFloats = chunkFloats;
            try
            {
                var dx = Enumerable.Repeat(float.NaN, B * CI * H * W).ToArray(); // every input gradient must be written
                CpuConvKernels.Conv2dBackwardInput(dx, strides, g, w, new float[CKK * N], B, CI, H, W, CO, K, 0, isa);
                return dx;
            }
            finally { CpuConvKernels.ChunkFloats = keep; }
        }
        var want = Run(IsaLevel.Scalar, int.MaxValue);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2 })
            foreach (int chunk in new[] { 1, int.MaxValue })
                Assert.Equal(want, Run(isa, chunk));
        // The forward pass of the same shape reads the images directly on AVX-512 (CpuConvGemm.Forward8x8): same bits too.
        var x = EngineTestData.RandomArray(B * CI * H * W, 53);
        var bias = EngineTestData.RandomArray(CO, 54);
        AssertForwardIsTheSameOnEveryLevel(x, strides, w, bias, B, CI, H, W, CO, K);
        var (dxRef, dwRef, dbRef) = (new float[B * CI * H * W], new float[CO * CKK], new float[CO]);
        ReferenceConv.Conv2dBackward(dxRef, dwRef, dbRef, FromChannelMajor(g, B, CO, OH * OH), new float[B * CI * H * W], w, B, CI, H, W, CO, K, 0);
        var got = channelMajor ? FromChannelMajor(want, B, CI, H * W) : want;
        for (int i = 0; i < dxRef.Length; i++) Assert.True(MathF.Abs(dxRef[i] - got[i]) <= 1e-4f * (1 + MathF.Abs(dxRef[i])), $"dx[{i}]: {got[i]} vs {dxRef[i]}");
    }

    [Theory]
    [InlineData(1, 16, 28, false)] // LeNet's conv1 (24-wide outputs, CO = 16), example-major input
    [InlineData(16, 32, 12, true)] // LeNet's conv2 (8×8 outputs, CO = 32), channel-major input
    [InlineData(3, 16, 12, false)] // 8×8 outputs with 16 channels: the AVX-512 8×8 forward's general tile
    internal void Fused_kernels_equal_the_simd_im2col_path_they_replace(int CI, int CO, int H, bool channelMajor)
    {
        // The scalar branch is the reference of the other conv tests; this one also keeps the AVX-512 and AVX2
        // im2col + GEMM path honest for the shapes the fused kernels take over (CpuConvGemm.Disabled runs it; the
        // switch is per thread, so tests running meanwhile keep their fused kernels).
        const int B = 3, K = 5;
        int W = H, OH = H - K + 1, N = B * OH * OH, CKK = CI * K * K;
        var x = EngineTestData.RandomArray(B * CI * H * W, 71);
        var w = EngineTestData.RandomArray(CO * CKK, 72);
        var bias = EngineTestData.RandomArray(CO, 73);
        var g = EngineTestData.RandomArray(CO * N, 74);
        var strides = channelMajor ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(CI, H * W);
        float[] Run(IsaLevel isa, bool fused)
        {
            bool keep = CpuConvGemm.Disabled;
            CpuConvGemm.Disabled = !fused;
            try
            {
                var (y, dx, dw, db) = (new float[CO * N], new float[x.Length], new float[w.Length], new float[CO]);
                CpuConvKernels.Conv2dForward(y, x, strides, w, bias, new float[CKK * N], B, CI, H, W, CO, K, 0, relu: true, isa);
                CpuConvKernels.Conv2dBackward(dx, dw, db, g, x, strides, w, new float[CKK * N], B, CI, H, W, CO, K, 0, isa);
                return y.Concat(dx).Concat(dw).Concat(db).ToArray();
            }
            finally { CpuConvGemm.Disabled = keep; }
        }
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2 })
            Assert.Equal(Run(isa, fused: false), Run(isa, fused: true));
    }

    [Theory]
    [InlineData(1, 16, 28, false)] // LeNet's conv1: 28×28 → 24×24, example-major input
    [InlineData(2, 11, 10, true)]  // 6 rows of 24, 11 channels (a tile of 3 aliased channels), channel-major input
    internal void Fused_24_wide_forward_is_the_im2col_gemm_on_every_level(int CI, int CO, int H, bool channelMajor)
    {
        // The AVX-512 forward pass of a conv with 24-wide output rows reads the images directly (CpuConvGemm.Forward24).
        const int B = 3, K = 5, W = 28;
        int CKK = CI * K * K;
        var x = EngineTestData.RandomArray(B * CI * H * W, 61);
        var w = EngineTestData.RandomArray(CO * CKK, 62);
        var bias = EngineTestData.RandomArray(CO, 63);
        var strides = channelMajor ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(CI, H * W);
        AssertForwardIsTheSameOnEveryLevel(x, strides, w, bias, B, CI, H, W, CO, K);
    }

    [Theory]
    [InlineData(8, 8)]   // LeNet's pool2 (then flatten): 128-bit vectors
    [InlineData(9, 35)]  // 256-bit vectors and a scalar window, odd row and column dropped
    [InlineData(5, 5)]   // scalar windows only
    internal void Pool_into_a_flatten_is_the_pool_then_the_flatten_on_every_level(int H, int W)
    {
        // A pool followed by a flatten writes (B, C·OH·OW) itself and takes its gradient from there: the same floats as
        // the pool in (C, B, OH, OW) plus the flatten's copies, both ways.
        const int B = 3, C = 4;
        int OH = H / 2, OW = W / 2, n = C * B * OH * OW;
        var x = ToChannelMajor(EngineTestData.RandomArray(B * C * H * W, 91), B, C, H * W);
        for (int i = 0; i < x.Length; i += 3) x[i] = MathF.Round(x[i] * 4) / 4; // ties in some windows
        var g = EngineTestData.RandomArray(n, 92); // the flattened gradient, (B, C·OH·OW)
        var s = ImageStrides.ChannelMajor(B, H * W);
        var flat = ImageStrides.ExampleMajor(C, OH * OW);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var (pooled, flatWant, flatGot) = (new float[n], new float[n], new float[n]);
            CpuConvKernels.MaxPool2dForward(pooled, x, s, B, C, H, W, isa);
            CpuConvKernels.FlattenForward(flatWant, pooled, B, C, OH * OW);
            CpuConvKernels.MaxPool2dForward(flatGot, x, s, B, C, H, W, isa, flat);
            Assert.Equal(flatWant, flatGot);
            var (gChannelMajor, dxWant, dxGot) = (new float[n], new float[x.Length], new float[x.Length]);
            CpuConvKernels.FlattenBackward(gChannelMajor, g, B, C, OH * OW);
            CpuConvKernels.MaxPool2dBackward(dxWant, s, gChannelMajor, x, B, C, H, W, isa, reluMask: true);
            CpuConvKernels.MaxPool2dBackward(dxGot, s, g, x, B, C, H, W, isa, reluMask: true, doutputStrides: flat);
            Assert.Equal(dxWant, dxGot);
        }
    }

    [Theory]
    [InlineData(9, 7, false)]
    [InlineData(9, 35, false)] // 17 windows a row: two 8-window vectors, a scalar window and a dropped odd column
    [InlineData(6, 34, true)]  // values on a coarse grid: ties in most windows (the first maximum must win)
    [InlineData(8, 8, false)]  // LeNet's pool2: 4 windows a row, one 128-bit vector
    [InlineData(5, 13, true)]  // 6 windows a row: two overlapping 128-bit vectors, a dropped odd row and column
    [InlineData(24, 24, false)] // LeNet's pool1: 12 windows a row, two overlapping 256-bit vectors
    public void Simd_pool_and_flatten_match_the_reference(int H, int W, bool ties)
    {
        const int B = 3, C = 5;
        int OH = H / 2, OW = W / 2;
        var x = EngineTestData.RandomArray(B * C * H * W, 11);
        if (ties) for (int i = 0; i < x.Length; i++) x[i] = MathF.Round(x[i] * 2) / 2;
        var g = EngineTestData.RandomArray(B * C * OH * OW, 12);
        var (yRef, dxRef) = (new float[g.Length], new float[x.Length]);
        ReferenceConv.MaxPool2dForward(yRef, x, B, C, H, W);
        ReferenceConv.MaxPool2dBackward(dxRef, g, x, B, C, H, W);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
            foreach (bool channelMajorInput in new[] { false, true })
            {
                var strides = channelMajorInput ? ImageStrides.ChannelMajor(B, H * W) : ImageStrides.ExampleMajor(C, H * W);
                var input = channelMajorInput ? ToChannelMajor(x, B, C, H * W) : x;
                var y = new float[g.Length];
                CpuConvKernels.MaxPool2dForward(y, input, strides, B, C, H, W, isa);
                Assert.Equal(ToChannelMajor(yRef, B, C, OH * OW), y);
                var dx = Enumerable.Repeat(float.NaN, x.Length).ToArray(); // every input must be written
                CpuConvKernels.MaxPool2dBackward(dx, strides, ToChannelMajor(g, B, C, OH * OW), input, B, C, H, W, isa);
                Assert.Equal(channelMajorInput ? ToChannelMajor(dxRef, B, C, H * W) : dxRef, dx);
                // With the ReLU mask folded in: exactly the pool's backward followed by the ReLU's (x > 0 keeps the gradient).
                var want = dx.Select((d, i) => input[i] > 0f ? d : 0f).ToArray();
                var masked = Enumerable.Repeat(float.NaN, x.Length).ToArray();
                CpuConvKernels.MaxPool2dBackward(masked, strides, ToChannelMajor(g, B, C, OH * OW), input, B, C, H, W, isa, reluMask: true);
                Assert.Equal(want, masked);
            }
        var flat = new float[yRef.Length];
        CpuConvKernels.FlattenForward(flat, ToChannelMajor(yRef, B, C, OH * OW), B, C, OH * OW);
        Assert.Equal(yRef, flat);
        var back = new float[flat.Length];
        CpuConvKernels.FlattenBackward(back, flat, B, C, OH * OW);
        Assert.Equal(ToChannelMajor(yRef, B, C, OH * OW), back);
    }

    [Theory]
    [InlineData(16, 73, 80)] // 8×8 blocks, 1 ragged column
    [InlineData(19, 30, 31)] // ragged rows and columns
    [InlineData(5, 7, 7)]    // smaller than one block: all scalar
    public unsafe void Simd_transpose_is_the_scalar_copy(int rows, int n, int srcRow)
    {
        var src = EngineTestData.RandomArray(rows * srcRow, 31);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var dst = new float[n * rows];
            fixed (float* d = dst, s = src) CpuKernels.Transpose(d, s, srcRow, rows, n, isa);
            for (int i = 0; i < n; i++)
                for (int r = 0; r < rows; r++) Assert.Equal(src[r * srcRow + i], dst[i * rows + r]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(37)]
    [InlineData(1000)]
    public void Lane_sum_is_the_same_float_on_every_isa_level(int n)
    {
        var v = EngineTestData.RandomArray(n, n);
        float scalar = CpuConvKernels.LaneSum(v, IsaLevel.Scalar);
        Assert.Equal(scalar, CpuConvKernels.LaneSum(v, IsaLevel.Avx2));
        Assert.Equal(scalar, CpuConvKernels.LaneSum(v, IsaLevel.Avx512));
        Assert.Equal(v.Sum(x => (double)x), scalar, 3);
        var rows = EngineTestData.RandomArray(7 * n, n + 1);
        foreach (var isa in new[] { IsaLevel.Avx512, IsaLevel.Avx2, IsaLevel.Scalar })
        {
            var sums = new float[7];
            CpuConvKernels.LaneSums(sums, rows, 7, n, isa);
            for (int r = 0; r < 7; r++) Assert.Equal(CpuConvKernels.LaneSum(rows.AsSpan(r * n, n), IsaLevel.Scalar), sums[r]);
        }
    }
}

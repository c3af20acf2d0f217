using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `-- ab conv [avx512|avx2|scalar]`: LeNet's conv kernels at batch 128, each direction timed on the thread CPU clock
/// (paired and interleaved, <see cref="PairedAb"/>), as GFLOP per CPU-second and as a share of one thread's FMA peak
/// per CPU-second. A is the whole-batch im2col + GEMM the engine used before the image-group chunking (for the
/// weight gradient, the transposed im2col of the whole batch and one <see cref="CpuGemm.Gemm"/>, exactly the old
/// code), B the current kernel; pooling has no variant (A = B).
/// </summary>
internal static unsafe class ConvAb
{
    public static void Run(string[] args)
    {
        var isa = args.Length > 0 ? args[0] switch { "avx2" => IsaLevel.Avx2, "scalar" => IsaLevel.Scalar, _ => IsaLevel.Avx512 } : IsaLevel.Avx512;
        isa = CpuIsa.Clamp(isa);
        const int B = 128;
        var rng = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = rng.NextSingle() - 0.5f; return a; }
        var (x1, w1, b1, dy1, y1) = (R(B * 784), R(16 * 25), R(16), R(16 * B * 576), new float[16 * B * 576]);
        var (x2, w2, b2, dy2, y2, dx2) = (R(16 * B * 144), R(32 * 400), R(32), R(32 * B * 64), new float[32 * B * 64], new float[16 * B * 144]);
        var (dw1, db1, dw2, db2) = (new float[16 * 25], new float[16], new float[32 * 400], new float[32]);
        var columns = new float[Math.Max(25 * B * 576, 400 * B * 64)];
        var (pooled, dpool, dpooled) = (new float[16 * B * 144], R(16 * B * 144), new float[16 * B * 576]);
        ImageStrides in1 = ImageStrides.ExampleMajor(1, 784), in2 = ImageStrides.ChannelMajor(B, 144), pool = ImageStrides.ChannelMajor(B, 576);
        bool legacy = false;
        void SetA() { legacy = true; CpuConvKernels.ChunkFloats = int.MaxValue; }
        void SetB() { legacy = false; CpuConvKernels.ChunkFloats = 1 << 16; }
        void WeightGradient(float[] dw, float[] db, float[] dy, float[] x, ImageStrides s, int CI, int H, int W, int CO)
        {
            if (!legacy) { CpuConvKernels.Conv2dBackwardWeight(dw, db, dy, x, s, columns, B, CI, H, W, CO, 5, 0, isa); return; }
            int N = B * (H - 4) * (W - 4), CKK = CI * 25;
            CpuConvKernels.Im2ColTransposed(columns, x, s, B, CI, H, W, 5, 0);
            fixed (float* pdw = dw, pdy = dy, colT = columns) CpuGemm.Gemm(pdw, CKK, pdy, N, 1, colT, CKK, null, false, CO, CKK, N, isa);
            for (int co = 0; co < CO; co++) db[co] = CpuConvKernels.LaneSum(dy.AsSpan(co * N, N), isa);
        }
        var (peak, perCpu) = FmaPeak.Measure(1, 0.5, isa);
        Console.WriteLine($"{CpuIsa.Name(isa)}: one thread's FMA peak {perCpu:F1} GFLOP per CPU-second ({peak:F1} wall); A = whole-batch im2col + GEMM (before), B = image groups of {1 << 16} column floats");
        double f1 = 2.0 * B * 576 * 16 * 25 / 1e9, f2 = 2.0 * B * 64 * 32 * 400 / 1e9;
        var cases = new (string Name, double Gflop, Action Work, int Reps)[]
        {
            ("conv1 forward  Y(16,73728)=W(16,25)·col", f1, () => CpuConvKernels.Conv2dForward(y1, x1, in1, w1, b1, columns, B, 1, 28, 28, 16, 5, 0, true, isa), 10),
            ("conv1 backward weight dW(16,25)=dY·colᵀ", f1, () => WeightGradient(dw1, db1, dy1, x1, in1, 1, 28, 28, 16), 10),
            ("conv2 forward  Y(32,8192)=W(32,400)·col", f2, () => CpuConvKernels.Conv2dForward(y2, x2, in2, w2, b2, columns, B, 16, 12, 12, 32, 5, 0, true, isa), 5),
            ("conv2 backward weight dW(32,400)=dY·colᵀ", f2, () => WeightGradient(dw2, db2, dy2, x2, in2, 16, 12, 12, 32), 5),
            ("conv2 backward input dcol=Wᵀ·dY, col2im", f2, () => CpuConvKernels.Conv2dBackwardInput(dx2, in2, dy2, w2, columns, B, 16, 12, 12, 32, 5, 0, isa), 5),
            ("pool1 forward (16,128,24,24)", 0, () => CpuConvKernels.MaxPool2dForward(pooled, y1, pool, B, 16, 24, 24), 20),
            ("pool1 backward", 0, () => CpuConvKernels.MaxPool2dBackward(dpooled, pool, dpool, y1, B, 16, 24, 24), 20),
        };
        string only = args.Length > 1 ? args[1] : "";
        if (only == "parts")
        {
            // The pieces of one image group (the default chunk) of each conv, to see where a kernel's time goes.
            int g1 = Math.Max(1, (1 << 16) / (25 * 576)), g2 = Math.Max(1, (1 << 16) / (400 * 64));
            int n1 = g1 * 576, n2 = g2 * 64;
            var parts = new (string, double, Action)[]
            {
                ($"conv1 im2col {g1} images", 0, () => CpuConvKernels.Im2Col(columns, x1, in1, g1, 1, 28, 28, 5, 0)),
                ($"conv1 GEMM (16,{n1})=(16,25)·(25,{n1})", 2.0 * 16 * 25 * n1 / 1e9, () => { fixed (float* y = y1, w = w1, c = columns) CpuGemm.Gemm(y, B * 576, w, 25, 1, c, n1, null, false, 16, n1, 25, isa); }),
                ($"conv1 bias+relu (16,{n1})", 0, () => { for (int co = 0; co < 16; co++) CpuConvKernels.AddBias(y1.AsSpan(co * B * 576, n1), 0.1f, true, isa); }),
                ($"conv1 dW accumulate (25,16)+=(25,{n1})·({n1},16)", 2.0 * 16 * 25 * n1 / 1e9, () => { fixed (float* c = columns, d = dy1, w = dw1) CpuGemm.GemmAccumulate(w, 16, c, n1, d, 16, 25, 16, n1, false, isa); }),
                ($"conv2 im2col {g2} images", 0, () => CpuConvKernels.Im2Col(columns, x2, in2, g2, 16, 12, 12, 5, 0)),
                ($"conv2 GEMM (32,{n2})=(32,400)·(400,{n2})", 2.0 * 32 * 400 * n2 / 1e9, () => { fixed (float* y = y2, w = w2, c = columns) CpuGemm.Gemm(y, B * 64, w, 400, 1, c, n2, null, false, 32, n2, 400, isa); }),
                ($"conv2 dW accumulate (400,32)+=(400,{n2})·({n2},32)", 2.0 * 32 * 400 * n2 / 1e9, () => { fixed (float* c = columns, d = dy2, w = dw2) CpuGemm.GemmAccumulate(w, 32, c, n2, d, 32, 400, 32, n2, false, isa); }),
                ($"conv2 dcol GEMM (400,{n2})=(400,32)·(32,{n2})", 2.0 * 32 * 400 * n2 / 1e9, () => { fixed (float* c = columns, w = w2, d = dy2) CpuGemm.Gemm(c, n2, w, 1, 400, d, B * 64, null, false, 400, n2, 32, isa); }),
                ($"conv2 col2im {g2} images", 0, () => CpuConvKernels.Col2Im(dx2, in2, columns, g2, 16, 12, 12, 5, 0, isa)),
                ("conv1 dbias lane sums (16,73728)", 0, () => { for (int co = 0; co < 16; co++) db1[co] = CpuConvKernels.LaneSum(dy1.AsSpan(co * B * 576, B * 576), isa); }),
                ("conv1 dbias LaneSums 4 rows at a time", 0, () => CpuConvKernels.LaneSums(db1, dy1, 16, B * 576, isa)),
            };
            foreach (var (name, gflop, work) in parts)
            {
                var r = PairedAb.Compare(() => { }, () => { }, work, 200, 5);
                Console.WriteLine($"  {name}: {r.A * 1e6:F1} us" + (gflop > 0 ? $" {gflop / r.A:F1} GFLOP/s ({gflop / r.A / perCpu:P0})" : ""));
            }
            return;
        }
        foreach (var (name, gflop, work, reps) in cases)
        {
            if (only.Length > 0 && !name.StartsWith(only, StringComparison.Ordinal)) continue;
            var r = PairedAb.Compare(SetA, SetB, work, reps, 9);
            string Rate(double t) => gflop > 0 ? $"{gflop / t:F1} GFLOP/s ({gflop / t / perCpu:P0})" : "";
            Console.WriteLine($"  {name}: A {r.A * 1e3:F2} ms {Rate(r.A)}, B {r.B * 1e3:F2} ms {Rate(r.B)}, median B/A time {r.Ratio:F3}");
        }
        SetB();
    }
}

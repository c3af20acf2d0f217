using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `-- ab conv [avx512|avx2|scalar] [chunk|direct|fusion|parts|kernels]`: LeNet's conv kernels at batch 128, each direction
/// timed on the thread CPU clock (paired and interleaved, <see cref="PairedAb"/>), as GFLOP per CPU-second and as a
/// share of one thread's FMA peak per CPU-second. A is the general path (im2col + <see cref="CpuGemm"/> in image groups
/// of 64 Ki column floats, then the bias pass or col2im: the engine before the fused kernels), B the engine as it is
/// (<see cref="CpuConvGemm"/> where the shape fits); pooling has no variant here (A = B; `fusion` compares it).
/// </summary>
internal static unsafe class ConvAb
{
    public static void Run(string[] args)
    {
        var isa = args.Length > 0 ? args[0] switch { "avx2" => IsaLevel.Avx2, "scalar" => IsaLevel.Scalar, _ => IsaLevel.Avx512 } : IsaLevel.Avx512;
        isa = CpuIsa.Clamp(isa);
        int B = int.TryParse(Environment.GetEnvironmentVariable("NATIVECERT_AB_BATCH"), out int batch) ? batch : 128;
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        var (x1, w1, b1, dy1, y1) = (R(B * 784), R(16 * 25), R(16), R(16 * B * 576), new float[16 * B * 576]);
        var (x2, w2, b2, dy2, y2, dx2) = (R(16 * B * 144), R(32 * 400), R(32), R(32 * B * 64), new float[32 * B * 64], new float[16 * B * 144]);
        var (dw1, db1, dw2, db2) = (new float[16 * 25], new float[16], new float[32 * 400], new float[32]);
        var columns = new float[Math.Max(25 * B * 576, 400 * B * 64)];
        var (pooled, dpool, dpooled) = (new float[16 * B * 144], R(16 * B * 144), new float[16 * B * 576]);
        ImageStrides in1 = ImageStrides.ExampleMajor(1, 784), in2 = ImageStrides.ChannelMajor(B, 144), pool = ImageStrides.ChannelMajor(B, 576);
        void SetA() => CpuConvGemm.Disabled = true;
        void SetB() => CpuConvGemm.Disabled = false;
        void WeightGradient(float[] dw, float[] db, float[] dy, float[] x, ImageStrides s, int CI, int H, int W, int CO) =>
            CpuConvKernels.Conv2dBackwardWeight(dw, db, dy, x, s, columns, B, CI, H, W, CO, 5, 0, isa);
        var (peak, perCpu) = FmaPeak.Measure(1, 0.5, isa);
        Console.WriteLine($"{CpuIsa.Name(isa)}: one thread's FMA peak {perCpu:F1} GFLOP per CPU-second ({peak:F1} wall); A = im2col + GEMM in image groups of {CpuConvKernels.ChunkFloats} column floats (before), B = the fused kernels where the shape fits");
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
        if (only == "chunk")
        {
            // The image-group size knob of the general path: default 64 Ki column floats against smaller and larger groups.
            CpuConvGemm.Disabled = true;
            foreach (int chunk in new[] { 1 << 14, 1 << 15, 1 << 17, 1 << 18 })
                foreach (var (name, gflop, work, reps) in cases.Take(5))
                {
                    var r = PairedAb.Compare(() => CpuConvKernels.ChunkFloats = 1 << 16, () => CpuConvKernels.ChunkFloats = chunk, work, reps, 7);
                    Console.WriteLine($"  {name}: chunk 65536 {gflop / r.A:F1} GFLOP/s vs {chunk} {gflop / r.B:F1} GFLOP/s, median B/A time {r.Ratio:F3}");
                }
            CpuConvKernels.ChunkFloats = 1 << 16;
            CpuConvGemm.Disabled = false;
            return;
        }
        if (only == "direct")
        {
            // conv1 as a direct convolution (no im2col): each output row of 24 is one FMA chain over (ky, kx) per
            // element, exactly the GEMM's order, 4 output channels × (16 + 8 masked) columns per block.
            var yd = new float[y1.Length];
            void Direct()
            {
                fixed (float* px = x1, pw = w1, py = yd)
                    DirectConv1(py, px, pw, B);
                for (int co = 0; co < 16; co++) CpuConvKernels.AddBias(yd.AsSpan(co * B * 576, B * 576), b1[co], true, isa);
            }
            void Im2ColGemm() => CpuConvKernels.Conv2dForward(y1, x1, in1, w1, b1, columns, B, 1, 28, 28, 16, 5, 0, true, isa);
            Direct(); Im2ColGemm();
            Console.WriteLine($"  direct conv1 forward equals im2col + GEMM bit for bit: {y1.AsSpan().SequenceEqual(yd)}");
            var r = PairedAb.Compare(() => { }, () => { }, () => { Im2ColGemm(); }, 10, 9);
            var d = PairedAb.Compare(() => { }, () => { }, Direct, 10, 9);
            Console.WriteLine($"  conv1 forward: im2col + GEMM {r.A * 1e3:F2} ms ({f1 / r.A:F1} GFLOP/s, {f1 / r.A / perCpu:P0}), direct {d.A * 1e3:F2} ms ({f1 / d.A:F1} GFLOP/s, {f1 / d.A / perCpu:P0})");
            return;
        }
        if (only == "fusion")
        {
            // The pooling and transpose changes, each against the code it replaced (A) in the shapes LeNet runs:
            // pool with overlapped vector tails (B) vs 8-window vectors + scalar tail (A); pool backward with the ReLU
            // mask folded in (B) vs pool backward then ReLU backward (A); the 8×8 register transpose of dY in the weight
            // gradient (B) vs one float at a time (A, the scalar branch, which is the old loop's order of copies).
            var (x3, dy3, dx3) = (R(32 * B * 64), R(32 * B * 16), new float[32 * B * 64]);
            for (int i = 0; i < y1.Length; i++) y1[i] = Math.Max(0f, dpooled[i] = rng.NextSingle() - 0.5f); // a ReLU output
            for (int i = 0; i < x3.Length; i++) x3[i] = Math.Max(0f, x3[i]);
            var pool2 = ImageStrides.ChannelMajor(B, 64);
            var dyT = new float[16 * B * 576];
            var pairs = new (string Name, Action A, Action B, int Reps)[]
            {
                ("pool1 forward (16,128,24,24)", () => BeforeMaxPool2dForward(pooled, y1, pool, B, 16, 24, 24), () => CpuConvKernels.MaxPool2dForward(pooled, y1, pool, B, 16, 24, 24, isa), 20),
                ("pool2 forward (32,128,8,8)", () => BeforeMaxPool2dForward(dy3, x3, pool2, B, 32, 8, 8), () => CpuConvKernels.MaxPool2dForward(dy3, x3, pool2, B, 32, 8, 8, isa), 40),
                ("pool1 + relu1 backward", () => { BeforeMaxPool2dBackward(dpooled, pool, dpool, y1, B, 16, 24, 24); CpuKernels.ReluBackward(dpooled, dpooled, y1, dpooled.Length, isa); },
                    () => CpuConvKernels.MaxPool2dBackward(dpooled, pool, dpool, y1, B, 16, 24, 24, isa, reluMask: true), 20),
                ("pool2 + relu2 backward", () => { BeforeMaxPool2dBackward(dx3, pool2, dy3, x3, B, 32, 8, 8); CpuKernels.ReluBackward(dx3, dx3, x3, dx3.Length, isa); },
                    () => CpuConvKernels.MaxPool2dBackward(dx3, pool2, dy3, x3, B, 32, 8, 8, isa, reluMask: true), 40),
                ("conv1 dY transpose (16,73728)", () => { fixed (float* d = dyT, g = dy1) CpuKernels.Transpose(d, g, B * 576, 16, B * 576, IsaLevel.Scalar); },
                    () => { fixed (float* d = dyT, g = dy1) CpuKernels.Transpose(d, g, B * 576, 16, B * 576, isa); }, 20),
            };
            foreach (var (name, a, b, reps) in pairs)
            {
                bool useB = false;
                var r = PairedAb.Compare(() => useB = false, () => useB = true, () => (useB ? b : a)(), reps, 9);
                Console.WriteLine($"  {name}: A {r.A * 1e3:F3} ms, B {r.B * 1e3:F3} ms, median B/A time {r.Ratio:F3}");
            }
            return;
        }
        if (only == "kernels")
        {
            // The fused products alone, as the engine calls them in its image groups, without the passes around them
            // (dY transposes, bias sums, the dX clear): the conv GEMMs' own share of the FMA peak. Forward kernels include
            // their bias + ReLU epilogue, the input gradient its col2im (both fused). `avx2` times the AVX2 kernels
            // (the same five) against the 256-bit peak loop.
            var fused = CpuConvGemm.FusedLevel(isa);
            if (fused == IsaLevel.Scalar) { Console.WriteLine("  no fused kernels at this level"); return; }
            bool avx2 = fused == IsaLevel.Avx2;
            int g1 = Math.Max(1, (1 << 16) / (25 * 576)), g2 = Math.Max(1, (1 << 16) / (400 * 64));
            var (dyT1, dyT2, dwT1, dwT2) = (R(g1 * 576 * 16), R(g2 * 64 * 32), new float[25 * 16], new float[400 * 32]);
            var codes1 = new byte[16 * B * 144];
            fixed (float* x = x1, w = w1, b = b1, p = pooled) fixed (byte* c = codes1) // pool1's codes of a real forward
                if (avx2) CpuConvGemm.Forward24Avx2(null, x, in1, w, b, B, 1, 28, 24, 16, true, p, c);
                else CpuConvGemm.Forward24(null, x, in1, w, b, B, 1, 28, 24, 16, true, p, c);
            // conv1's whole weight-gradient phase as the trainer runs it: dY from pool1's gradient and codes (ReLU mask),
            // its bias sums and dYᵀ, then the product, image group by image group.
            (string, double, Action, int) trained = ("conv1 weight gradient as trained (dY from pool1's codes, bias, product)", f1,
                () => CpuConvKernels.Conv2dBackwardWeightThroughPool(dw1, db1, dpool, default, codes1, true, x1, in1, columns, B, 1, 28, 28, 16, 5, 0, isa), 10);
            var kernels = new (string, double, Action, int)[]
            {
                ("conv1 forward (fused bias + ReLU)", f1, () => { fixed (float* y = y1, x = x1, w = w1, b = b1) CpuConvGemm.Forward24(y, x, in1, w, b, B, 1, 28, 24, 16, true); }, 10),
                ("conv1 forward as trained (pool1 and its codes, no conv output)", f1, () =>
                {
                    fixed (float* x = x1, w = w1, b = b1, p = pooled) fixed (byte* c = codes1) CpuConvGemm.Forward24(null, x, in1, w, b, B, 1, 28, 24, 16, true, p, c);
                }, 10),
                ($"conv1 weight gradient ({g1}-image groups)", f1, () =>
                {
                    fixed (float* dw = dwT1, x = x1, g = dyT1)
                        for (int b0 = 0; b0 < B; b0 += g1) CpuConvGemm.WeightGradient512(dw, 16, x + (nint)b0 * 784, in1, g, Math.Min(g1, B - b0), 1, 28, 24, 24, 5, b0 == 0);
                }, 10),
                trained,
                ("conv2 forward (fused bias + ReLU)", f2, () => { fixed (float* y = y2, x = x2, w = w2, b = b2) CpuConvGemm.Forward8x8(y, x, in2, w, b, B, 16, 12, 32, 5, true); }, 5),
                ($"conv2 weight gradient ({g2}-image groups)", f2, () =>
                {
                    fixed (float* dw = dwT2, x = x2, g = dyT2)
                        for (int b0 = 0; b0 < B; b0 += g2) CpuConvGemm.WeightGradient512(dw, 32, x + (nint)b0 * 144, in2, g, Math.Min(g2, B - b0), 16, 12, 8, 8, 5, b0 == 0);
                }, 5),
                ("conv2 input gradient (fused col2im)", f2, () => { fixed (float* dx = dx2, dy = dy2, w = w2) CpuConvGemm.InputGradient8x8(dx, in2, dy, B * 64, w, B, 16, 32); }, 5),
            };
            if (avx2)
                kernels =
                [
                    ("conv1 forward (fused bias + ReLU)", f1, () => { fixed (float* y = y1, x = x1, w = w1, b = b1) CpuConvGemm.Forward24Avx2(y, x, in1, w, b, B, 1, 28, 24, 16, true); }, 10),
                    ("conv1 forward as trained (pool1 and its codes, no conv output)", f1, () =>
                    {
                        fixed (float* x = x1, w = w1, b = b1, p = pooled) fixed (byte* c = codes1) CpuConvGemm.Forward24Avx2(null, x, in1, w, b, B, 1, 28, 24, 16, true, p, c);
                    }, 10),
                    ($"conv1 weight gradient ({g1}-image groups)", f1, () =>
                    {
                        fixed (float* dw = dwT1, x = x1, g = dyT1)
                            for (int b0 = 0; b0 < B; b0 += g1) CpuConvGemm.WeightGradientAvx2(dw, 16, x + (nint)b0 * 784, in1, g, Math.Min(g1, B - b0), 1, 28, 24, 24, b0 == 0);
                    }, 10),
                    trained,
                    ("conv2 forward (fused bias + ReLU)", f2, () => { fixed (float* y = y2, x = x2, w = w2, b = b2) CpuConvGemm.Forward8x8Avx2(y, x, in2, w, b, B, 16, 32, true); }, 5),
                    ($"conv2 weight gradient ({g2}-image groups)", f2, () =>
                    {
                        fixed (float* dw = dwT2, x = x2, g = dyT2)
                            for (int b0 = 0; b0 < B; b0 += g2) CpuConvGemm.WeightGradientAvx2(dw, 32, x + (nint)b0 * 144, in2, g, Math.Min(g2, B - b0), 16, 12, 8, 8, b0 == 0);
                    }, 5),
                    ("conv2 input gradient (fused col2im)", f2, () => { fixed (float* dx = dx2, dy = dy2, w = w2) CpuConvGemm.InputGradient8x8Avx2(dx, in2, dy, B * 64, w, B, 16, 32); }, 5),
                ];
            // NATIVECERT_AB_LOOP=K: kernel K alone for 8 s (nothing paired with it), for a sampling profiler.
            if (int.TryParse(Environment.GetEnvironmentVariable("NATIVECERT_AB_LOOP"), out int loop))
            {
                if (loop < 0 || loop >= kernels.Length) { Console.Error.WriteLine($"NATIVECERT_AB_LOOP: {loop} is not a kernel of this list (0 … {kernels.Length - 1})"); Environment.Exit(2); }
                var sw = System.Diagnostics.Stopwatch.StartNew();
                int calls = 0;
                while (sw.Elapsed.TotalSeconds < 8) { kernels[loop].Item3(); calls++; }
                Console.WriteLine($"  LOOP {kernels[loop].Item1}: {sw.Elapsed.TotalMilliseconds / calls:F3} ms a call");
                return;
            }
            // Each kernel is paired, round by round, with the FMA-peak loop doing the same FLOPs (16 chains of 512-bit
            // FMAs on registers): the median of (peak loop time / kernel time) is the kernel's share of peak, robust to
            // the host's load and clock drifting between rounds, which move both sides alike.
            foreach (var (name, gflop, work, reps) in kernels)
            {
                long iterations = (long)(gflop * 1e9 / (avx2 ? 12 * 8 * 2 : 16 * 16 * 2));
                bool peakSide = false;
                var r = PairedAb.Compare(() => peakSide = false, () => peakSide = true, () => { if (peakSide) FmaPeak.Chains(iterations, wide: !avx2); else work(); }, 1, 25 * reps);
                Console.WriteLine($"  {name}: {r.A * 1e3:F3} ms {gflop / r.A:F1} GFLOP/s, {r.Ratio:P0} of the FMA peak loop paired with it");
            }
            return;
        }
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

    /// <summary>Direct 5×5 convolution of 1×28×28 images into (16, B, 24, 24), chains from 0 over (ky, kx) ascending (no bias).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void DirectConv1(float* y, float* x, float* w, int B)
    {
        var tail = System.Runtime.Intrinsics.Vector512.LessThan(System.Runtime.Intrinsics.Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            System.Runtime.Intrinsics.Vector512.Create(8)).AsSingle();
        nint plane = (nint)B * 576;
        for (int co0 = 0; co0 < 16; co0 += 4)
            for (int b = 0; b < B; b++)
                for (int oy = 0; oy < 24; oy++)
                {
                    var z = System.Runtime.Intrinsics.Vector512<float>.Zero;
                    System.Runtime.Intrinsics.Vector512<float> a0 = z, a1 = z, a2 = z, a3 = z, c0 = z, c1 = z, c2 = z, c3 = z;
                    float* w0 = w + co0 * 25;
                    for (int ky = 0; ky < 5; ky++)
                    {
                        float* row = x + (nint)b * 784 + (oy + ky) * 28;
                        for (int kx = 0; kx < 5; kx++)
                        {
                            var lo = System.Runtime.Intrinsics.Vector512.Load(row + kx);
                            var hi = System.Runtime.Intrinsics.X86.Avx512F.MaskLoad(row + kx + 16, tail, z);
                            int k = ky * 5 + kx;
                            var v = System.Runtime.Intrinsics.Vector512.Create(w0[k]);
                            a0 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, lo, a0); c0 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, hi, c0);
                            v = System.Runtime.Intrinsics.Vector512.Create(w0[25 + k]);
                            a1 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, lo, a1); c1 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, hi, c1);
                            v = System.Runtime.Intrinsics.Vector512.Create(w0[50 + k]);
                            a2 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, lo, a2); c2 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, hi, c2);
                            v = System.Runtime.Intrinsics.Vector512.Create(w0[75 + k]);
                            a3 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, lo, a3); c3 = System.Runtime.Intrinsics.Vector512.FusedMultiplyAdd(v, hi, c3);
                        }
                    }
                    float* o = y + co0 * plane + (nint)b * 576 + oy * 24;
                    a0.Store(o); System.Runtime.Intrinsics.X86.Avx512F.MaskStore(o + 16, tail, c0); o += plane;
                    a1.Store(o); System.Runtime.Intrinsics.X86.Avx512F.MaskStore(o + 16, tail, c1); o += plane;
                    a2.Store(o); System.Runtime.Intrinsics.X86.Avx512F.MaskStore(o + 16, tail, c2); o += plane;
                    a3.Store(o); System.Runtime.Intrinsics.X86.Avx512F.MaskStore(o + 16, tail, c3);
                }
    }

    /// <summary>The engine's pooling before the overlapped vector tails (8-window vectors, then a branchy scalar tail; no fused ReLU mask): the A side of `ab conv fusion`.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BeforeMaxPool2dForward(Span<float> output /*(C,B,OH,OW)*/, ReadOnlySpan<float> input, ImageStrides s, int B, int C, int H, int W,
        IsaLevel isa = IsaLevel.Avx512)
    {
        int OH = H / 2, OW = W / 2;
        if (output.Length < C * B * OH * OW) throw new ArgumentException(nameof(output)); //.Length >= C * B * OH * OW);
        bool wide = CpuIsa.Clamp(isa) >= IsaLevel.Avx2;
        fixed (float* px = input, py = output)
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                {
                    float* plane = px + (nint)c * s.Channel + (nint)b * s.Example, dst = py + (nint)(c * B + b) * OH * OW;
                    for (int y = 0; y < OH; y++, dst += OW)
                    {
                        float* top = plane + (nint)2 * y * W, bottom = top + W;
                        int x = 0;
                        if (wide)
                            for (; x + 8 <= OW; x += 8)
                            {
                                var (te, to) = CpuConvKernels.Deinterleave(top + 2 * x);
                                var (be, bo) = CpuConvKernels.Deinterleave(bottom + 2 * x);
                                var best = te;
                                best = Vector256.ConditionalSelect(Vector256.GreaterThan(to, best), to, best);
                                best = Vector256.ConditionalSelect(Vector256.GreaterThan(be, best), be, best);
                                best = Vector256.ConditionalSelect(Vector256.GreaterThan(bo, best), bo, best);
                                best.Store(dst + x);
                            }
                        for (; x < OW; x++)
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

    /// <summary>The engine's pool backward before the same change (and before the ReLU mask was folded in).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BeforeMaxPool2dBackward(Span<float> dinput, ImageStrides s, ReadOnlySpan<float> doutput /*(C,B,OH,OW)*/, ReadOnlySpan<float> input,
        int B, int C, int H, int W, IsaLevel isa = IsaLevel.Avx512)
    {
        int OH = H / 2, OW = W / 2;
        if (doutput.Length < C * B * OH * OW) throw new ArgumentException(nameof(doutput)); //.Length >= C * B * OH * OW);
        bool wide = CpuIsa.Clamp(isa) >= IsaLevel.Avx2;
        fixed (float* px = input, pdx = dinput, pdy = doutput)
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                {
                    nint o = (nint)c * s.Channel + (nint)b * s.Example;
                    float* plane = px + o, dplane = pdx + o, dy = pdy + (nint)(c * B + b) * OH * OW;
                    for (int y = 0; y < OH; y++, dy += OW)
                    {
                        float* top = plane + (nint)2 * y * W, bottom = top + W, dtop = dplane + (nint)2 * y * W, dbottom = dtop + W;
                        int x = 0;
                        if (wide)
                            for (; x + 8 <= OW; x += 8)
                            {
                                var (te, to) = CpuConvKernels.Deinterleave(top + 2 * x);
                                var (be, bo) = CpuConvKernels.Deinterleave(bottom + 2 * x);
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
                                CpuConvKernels.Interleave(dtop + 2 * x, g & w0, g & w1);
                                CpuConvKernels.Interleave(dbottom + 2 * x, g & w2, g & c3);
                            }
                        for (; x < OW; x++)
                        {
                            int at = 0;
                            float best = top[2 * x];
                            if (top[2 * x + 1] > best) { best = top[2 * x + 1]; at = 1; }
                            if (bottom[2 * x] > best) { best = bottom[2 * x]; at = 2; }
                            if (bottom[2 * x + 1] > best) at = 3;
                            float g = dy[x];
                            dtop[2 * x] = at == 0 ? g : 0f;
                            dtop[2 * x + 1] = at == 1 ? g : 0f;
                            dbottom[2 * x] = at == 2 ? g : 0f;
                            dbottom[2 * x + 1] = at == 3 ? g : 0f;
                        }
                        if (W % 2 == 1) dtop[W - 1] = dbottom[W - 1] = 0f;
                    }
                    if (H % 2 == 1) new Span<float>(dplane + (nint)(H - 1) * W, W).Clear();
                }
    }
}

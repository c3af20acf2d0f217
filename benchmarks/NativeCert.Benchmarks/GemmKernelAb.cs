using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using NativeCert.Engine.Cpu;

namespace NativeCert.Benchmarks;

/// <summary>
/// `-- ab gemm [avx512|avx2]`: the dense GEMM shapes of the MLP (784-128, batch 128) and of LeNet's convolutions,
/// A = the micro-kernels before the wave-4 retune (<see cref="LegacyGemm"/>: AVX-512 4 rows × 4 ZMM with one pointer per
/// row of A and 64-deep K chunks, AVX2 6 × 2 YMM likewise), B = <see cref="CpuGemm.Gemm"/>, paired and interleaved
/// on the thread CPU clock (<see cref="PairedAb"/>), as GFLOP per CPU-second and as a share of one thread's FMA
/// peak per CPU-second. Each case first checks that A and B agree bit for bit. `ab gemm avx512 15 chunk 64`: A = the
/// default K chunk, B = 64. `ab gemm train avx512 31 0`: the same knob in the real training loop (1 model × 1 epoch);
/// `ab gemm train avx512 31 rows`: there, the first layer's batch gathered (A) or read in place (B).
/// `ab gemm cold avx512`: the MLP GEMMs on operands in cache against operands pushed out to L3.
/// </summary>
internal static unsafe class GemmKernelAb
{
    /// <summary>
    /// `ab gemm train avx512|avx2 ROUNDS CHUNK|rows [lenet]`: the K chunk knob (or the first layer reading its rows in
    /// place) in the real training loop, where operands come back from L2/L3 each step; the MLP, or LeNet.
    /// </summary>
    private static void Train(string[] args)
    {
        var isa = CpuIsa.Clamp(args.Length > 0 && args[0] == "avx2" ? IsaLevel.Avx2 : IsaLevel.Avx512);
        var train = NativeCert.Data.DatasetCatalog.Load(NativeCert.Data.DatasetCatalog.DefaultSpec).Train;
        var model = args.Length > 3 && args[3] == "lenet"
            ? NativeCert.Engine.ModelArchitecture.ForData(NativeCert.Engine.ModelArchitecture.LeNet, 784, new NativeCert.Data.ImageShape(1, 28, 28), 10)
            : NativeCert.Engine.ModelArchitecture.Mlp(784, [128], 10);
        var config = new NativeCert.Engine.EnsembleConfig(model, NativeCert.Engine.TrainingDefaults.Options(epochs: 1), 0.25f, 1);
        int rounds = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        if (args[2] == "rows")
        {
            // A = the batch gathered before the first layer's GEMM, B = read in place by it (CpuTrainer.ReadsRowsInPlace).
            CpuTrainer.ReadsRowsInPlace = false;
            var gathered = new CpuTrainer(config, isa);
            CpuTrainer.ReadsRowsInPlace = true;
            var inPlace = new CpuTrainer(config, isa);
            bool useInPlace = false;
            int pick = 0;
            var rr = PairedAb.Compare(() => useInPlace = false, () => useInPlace = true, () => (useInPlace ? inPlace : gathered).Train(train, pick++ % 4), 2, rounds);
            Console.WriteLine($"{CpuIsa.Name(isa)} training 1 model x 1 epoch (noise included), 1 thread: rows gathered {rr.A * 1e3:F1} ms, read in place {rr.B * 1e3:F1} ms, median B/A time {rr.Ratio:F3}");
            return;
        }
        var trainer = new CpuTrainer(config, isa);
        int next = 0;
        void Work() => trainer.Train(train, next++ % 4);
        int chunk = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        int defaultChunk = CpuGemm.KChunk512;
        var r = PairedAb.Compare(() => CpuGemm.KChunk512 = CpuGemm.KChunk256 = defaultChunk, () => CpuGemm.KChunk512 = CpuGemm.KChunk256 = chunk, Work, 2, rounds);
        (CpuGemm.KChunk512, CpuGemm.KChunk256) = (defaultChunk, defaultChunk);
        Console.WriteLine($"{CpuIsa.Name(isa)} training 1 model x 1 epoch (noise included), 1 thread: K chunk {defaultChunk} {r.A * 1e3:F1} ms, K chunk {chunk} {r.B * 1e3:F1} ms, median B/A time {r.Ratio:F3}");
    }

    /// <summary>
    /// `ab gemm cold [avx512|avx2] [ROUNDS] [SWEEP_MB]`: the MLP's two first-layer GEMMs on operands in cache (the call
    /// before left them there) against the same calls after reading a SWEEP_MB buffer (default 16, beyond L2; 64 and up
    /// reaches past this VM's share of L3), as the training loop's other phases push them out between steps; each side
    /// as a share of one thread's FMA peak, on the thread CPU clock (the sweep is not timed).
    /// </summary>
    private static void Cold(string[] args)
    {
        var isa = CpuIsa.Clamp(args.Length > 0 && args[0] == "avx2" ? IsaLevel.Avx2 : IsaLevel.Avx512);
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200;
        int sweepMb = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 16;
        const int B = 128, IN = 784, OUT = 128;
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        var (x, w, bias, dy, y, dw) = (R(B * IN), R(IN * OUT), R(OUT), R(B * OUT), new float[B * OUT], new float[IN * OUT]);
        var sweep = new float[sweepMb << 18];
        float sink = 0;
        void Sweep() { var acc = Vector256<float>.Zero; fixed (float* p = sweep) for (int i = 0; i < sweep.Length; i += 16) acc += Vector256.Load(p + i); sink += acc.ToScalar(); }
        double gflop = 2.0 * B * IN * OUT / 1e9;
        var (_, perCpu) = FmaPeak.Measure(1, 0.5, isa);
        Console.WriteLine($"{CpuIsa.Name(isa)}: one thread's FMA peak {perCpu:F1} GFLOP per CPU-second; sweep {sweepMb} MB between calls");
        var cases = new (string Name, Action Work)[]
        {
            ("MLP forward (128,128)=X(128,784)·W(784,128)+b, ReLU", () => CpuKernels.MatmulForward(y, x, w, bias, B, IN, OUT, relu: true, isa)),
            ("MLP dW (784,128)=Xᵀ(784,128)·dY(128,128)", () => CpuKernels.MatmulBackward(default, dw, new float[OUT], dy, x, w, default, B, IN, OUT, isa)),
        };
        foreach (var (name, work) in cases)
        {
            var (hot, cold) = (new double[rounds], new double[rounds]);
            for (int r = 0; r < rounds; r++)
            {
                work();
                double t0 = CpuPhaseProfile.ThreadCpuSeconds();
                work();
                hot[r] = CpuPhaseProfile.ThreadCpuSeconds() - t0;
                Sweep();
                t0 = CpuPhaseProfile.ThreadCpuSeconds();
                work();
                cold[r] = CpuPhaseProfile.ThreadCpuSeconds() - t0;
            }
            Array.Sort(hot); Array.Sort(cold);
            double h = hot[rounds / 2], c = cold[rounds / 2];
            Console.WriteLine($"  {name}: in cache {h * 1e6:F0} us ({gflop / h / perCpu:P0} of peak), after the sweep {c * 1e6:F0} us ({gflop / c / perCpu:P0})");
        }
        if (sink == 12345) Console.WriteLine();
    }

    /// <summary>
    /// `ab gemm rowsdw [avx512|avx2] [ROUNDS]`: the MLP's first-layer weight gradient Xᵀ·dY over 128 random rows where
    /// they lie in an 8,000 × 784 noisy copy (<see cref="CpuKernels.MatmulWeightGradientRows"/>, the row table the
    /// training loop uses) against the same product over a contiguous copy of the rows (the strided GEMM), rows in
    /// cache for both, interleaved (<see cref="PairedAb"/>); each as a share of one thread's FMA peak. The results are
    /// checked equal.
    /// </summary>
    private static void RowsDw(string[] args)
    {
        var isa = CpuIsa.Clamp(args.Length > 0 && args[0] == "avx2" ? IsaLevel.Avx2 : IsaLevel.Avx512);
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 41;
        const int B = 128, IN = 784, OUT = 128, N = 8000;
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        var (copy, dy, x) = (R(N * IN), R(B * OUT), new float[B * IN]);
        var (dwTable, dwCopy) = (new float[IN * OUT], new float[IN * OUT]);
        var rows = new nint[B];
        for (int b = 0; b < B; b++)
        {
            rows[b] = (nint)rng.Next(N) * IN;
            copy.AsSpan((int)rows[b], IN).CopyTo(x.AsSpan(b * IN, IN));
        }
        bool table = false;
        void Work()
        {
            if (table) CpuKernels.MatmulWeightGradientRows(dwTable, dy, copy, rows, B, IN, OUT, isa);
            else CpuKernels.MatmulWeightGradient(dwCopy, dy, x, B, IN, OUT, isa);
        }
        table = true; Work(); table = false; Work();
        if (!dwTable.AsSpan().SequenceEqual(dwCopy)) throw new InvalidOperationException("the row table and the copy give different weight gradients");
        double gflop = 2.0 * B * IN * OUT / 1e9;
        var (_, perCpu) = FmaPeak.Measure(1, 0.5, isa);
        var r = PairedAb.Compare(() => table = false, () => table = true, Work, 20, rounds);
        Console.WriteLine($"{CpuIsa.Name(isa)}: one thread's FMA peak {perCpu:F1} GFLOP per CPU-second; MLP dW (784,128)=Xᵀ(784,128)·dY(128,128)");
        Console.WriteLine($"  A over a contiguous copy {r.A * 1e6:F1} us ({gflop / r.A / perCpu:P1}), B over the row table {r.B * 1e6:F1} us ({gflop / r.B / perCpu:P1}), median B/A time {r.Ratio:F3}");
    }

    public static void Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "rowsdw") { RowsDw(args[1..]); return; }
        if (args.Length > 0 && args[0] == "train") { Train(args[1..]); return; }
        if (args.Length > 0 && args[0] == "cold") { Cold(args[1..]); return; }
        var isa = CpuIsa.Clamp(args.Length > 0 && args[0] == "avx2" ? IsaLevel.Avx2 : IsaLevel.Avx512);
        int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 15;
        // `chunk C`: A = the default K chunk, B = chunks of C (the legacy kernels are not timed).
        int chunk = args.Length > 3 && args[2] == "chunk" ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : -1;
        var rng = new Random(1);
        float[] R(int n) => BenchData.Uniform(rng, n);
        const int B = 128;
        int n1 = Math.Max(1, (1 << 16) / (25 * 576)) * 576, n2 = Math.Max(1, (1 << 16) / (400 * 64)) * 64; // one image group, as CpuConvKernels
        // (name, M, N, K, aRow, aK, ldb, ldc, bias+ReLU): A(i,k) at a[i·aRow + k·aK], Bm (K,N) and C (M,N) row-major
        // with the leading dimensions the engine uses (a conv's image group is a column slice of the whole batch).
        var shapes = new (string Name, int M, int N, int K, int ARow, int AK, int Ldb, int Ldc, bool Bias)[]
        {
            ("MLP forward (128,128)=X(128,784)·W(784,128)+b, ReLU", B, 128, 784, 784, 1, 128, 128, true),
            ("MLP dW (784,128)=Xᵀ(784,128)·dY(128,128)", 784, 128, B, 1, 784, 128, 128, false),
            ($"conv1 forward (16,{n1})=W(16,25)·col(25,{n1})", 16, n1, 25, 25, 1, n1, B * 576, false),
            ($"conv2 forward (32,{n2})=W(32,400)·col(400,{n2})", 32, n2, 400, 400, 1, n2, B * 64, false),
            ($"conv2 dcol (400,{n2})=Wᵀ(400,32)·dY(32,{n2} of {B * 64})", 400, n2, 32, 1, 400, B * 64, n2, false),
        };
        var (peak, perCpu) = FmaPeak.Measure(1, 0.5, isa);
        Console.WriteLine($"{CpuIsa.Name(isa)}: one thread's FMA peak {perCpu:F1} GFLOP per CPU-second ({peak:F1} wall); A = before (LegacyGemm), B = CpuGemm.Gemm");
        int defaultChunk = isa == IsaLevel.Avx512 ? CpuGemm.KChunk512 : CpuGemm.KChunk256;
        void SetChunk(int k) { if (isa == IsaLevel.Avx512) CpuGemm.KChunk512 = k; else CpuGemm.KChunk256 = k; }
        if (chunk >= 0) Console.WriteLine($"  A = K chunk {defaultChunk} (default, 0 = unchunked), B = K chunk {chunk}");
        foreach (var s in shapes)
        {
            var (a, bm, bias) = (R(s.M * s.K), R(s.K * s.Ldb), R(s.N));
            var (ca, cb) = (new float[s.M * s.Ldc], new float[s.M * s.Ldc]);
            bool legacy = false;
            void Work()
            {
                fixed (float* pa = a, pb = bm, pbias = bias, pca = ca, pcb = cb)
                {
                    float* b0 = s.Bias ? pbias : null;
                    if (legacy) LegacyGemm.Gemm(pca, s.Ldc, pa, s.ARow, s.AK, pb, s.Ldb, b0, s.Bias, s.M, s.N, s.K, isa);
                    else CpuGemm.Gemm(pcb, s.Ldc, pa, s.ARow, s.AK, pb, s.Ldb, b0, s.Bias, s.M, s.N, s.K, isa);
                }
            }
            legacy = true; Work(); legacy = false; Work();
            if (!ca.AsSpan().SequenceEqual(cb)) throw new InvalidOperationException($"{s.Name}: A and B differ");
            double gflop = 2.0 * s.M * s.N * s.K / 1e9;
            int reps = Math.Max(1, (int)(0.01 / (gflop / 100)));
            var r = chunk < 0
                ? PairedAb.Compare(() => legacy = true, () => legacy = false, Work, reps, rounds)
                : PairedAb.Compare(() => SetChunk(defaultChunk), () => SetChunk(chunk), Work, reps, rounds);
            SetChunk(defaultChunk);
            string Rate(double t) => $"{gflop / t:F1} GFLOP/s ({gflop / t / perCpu:P0})";
            Console.WriteLine($"  {s.Name}: A {r.A * 1e6:F0} us {Rate(r.A)}, B {r.B * 1e6:F0} us {Rate(r.B)}, median B/A time {r.Ratio:F3}");
        }
    }
}

/// <summary>
/// The dense GEMM micro-kernels as they were before the wave-4 retune, kept as the "before" side of `ab gemm`: full
/// column panels only (N a multiple of 64 on AVX-512, of 16 on AVX2; M a multiple of 4 on AVX-512), which the
/// measured shapes are. Same FMA chains as <see cref="CpuGemm.Gemm"/>, so the results are bit-identical.
/// </summary>
[SkipLocalsInit]
internal static unsafe class LegacyGemm
{
    public static void Gemm(float* c, int ldc, float* a, int aRow, int aK, float* bm, int ldb, float* bias, bool relu, int M, int N, int K, IsaLevel isa)
    {
        bool wide = isa == IsaLevel.Avx512;
        int panel = wide ? 64 : 16, rowsPerBlock = wide ? 4 : 6;
        if (N % panel != 0 || (wide && M % 4 != 0)) throw new ArgumentException("LegacyGemm covers full panels only");
        const int KChunk = 64;
        for (int j = 0; j < N; j += panel)
            for (int k0 = 0; k0 < K; k0 += KChunk)
            {
                int kc = Math.Min(KChunk, K - k0);
                bool first = k0 == 0, last = k0 + kc >= K;
                for (int i = 0; i < M; i += rowsPerBlock)
                {
                    float* ci = c + (nint)i * ldc + j, ai = a + (nint)i * aRow + (nint)k0 * aK, bi = bm + (nint)k0 * ldb + j;
                    float* b0 = first && bias != null ? bias + j : null;
                    if (wide) Kernel512_4x4(ci, ldc, ai, aRow, aK, bi, ldb, b0, relu && last, kc, accumulate: !first);
                    else Kernel256_6x2(ci, ldc, ai, aRow, aK, bi, ldb, b0, relu && last, kc, accumulate: !first, Math.Min(6, M - i));
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Relu512(Vector512<float> v, bool relu) => relu ? Vector512.Max(v, Vector512<float>.Zero) : v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Relu256(Vector256<float> v, bool relu) => relu ? Vector256.Max(v, Vector256<float>.Zero) : v;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512_4x4(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, bool accumulate)
    {
        Vector512<float> c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (accumulate)
        {
            float* p = c;
            c00 = Vector512.Load(p); c01 = Vector512.Load(p + 16); c02 = Vector512.Load(p + 32); c03 = Vector512.Load(p + 48); p += ldc;
            c10 = Vector512.Load(p); c11 = Vector512.Load(p + 16); c12 = Vector512.Load(p + 32); c13 = Vector512.Load(p + 48); p += ldc;
            c20 = Vector512.Load(p); c21 = Vector512.Load(p + 16); c22 = Vector512.Load(p + 32); c23 = Vector512.Load(p + 48); p += ldc;
            c30 = Vector512.Load(p); c31 = Vector512.Load(p + 16); c32 = Vector512.Load(p + 32); c33 = Vector512.Load(p + 48);
        }
        else if (bias != null)
        {
            c00 = c10 = c20 = c30 = Vector512.Load(bias);
            c01 = c11 = c21 = c31 = Vector512.Load(bias + 16);
            c02 = c12 = c22 = c32 = Vector512.Load(bias + 32);
            c03 = c13 = c23 = c33 = Vector512.Load(bias + 48);
        }
        else
        {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = Vector512<float>.Zero;
        }
        float* a0 = a, a1 = a + aRow, a2 = a + 2 * (nint)aRow, a3 = a + 3 * (nint)aRow;
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var b3 = Vector512.Load(b + 48);
            var x = Vector512.Create(*a0);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, b2, c02); c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
            x = Vector512.Create(*a1);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, b2, c12); c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
            x = Vector512.Create(*a2);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, b2, c22); c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
            x = Vector512.Create(*a3);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, b2, c32); c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
            a0 += step; a1 += step; a2 += step; a3 += step;
            b += ldb;
        }
        float* r = c;
        Relu512(c00, relu).Store(r); Relu512(c01, relu).Store(r + 16); Relu512(c02, relu).Store(r + 32); Relu512(c03, relu).Store(r + 48);
        r += ldc;
        Relu512(c10, relu).Store(r); Relu512(c11, relu).Store(r + 16); Relu512(c12, relu).Store(r + 32); Relu512(c13, relu).Store(r + 48);
        r += ldc;
        Relu512(c20, relu).Store(r); Relu512(c21, relu).Store(r + 16); Relu512(c22, relu).Store(r + 32); Relu512(c23, relu).Store(r + 48);
        r += ldc;
        Relu512(c30, relu).Store(r); Relu512(c31, relu).Store(r + 16); Relu512(c32, relu).Store(r + 32); Relu512(c33, relu).Store(r + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel256_6x2(float* c, int ldc, float* a, int aRow, int aK, float* b, int ldb, float* bias, bool relu, int K, bool accumulate, int rows)
    {
        nint last = rows - 1;
        float* a0 = a, a1 = a + Math.Min(1, last) * aRow, a2 = a + Math.Min(2, last) * aRow,
            a3 = a + Math.Min(3, last) * aRow, a4 = a + Math.Min(4, last) * aRow, a5 = a + Math.Min(5, last) * aRow;
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (accumulate)
        {
            float* p = c;
            c00 = Vector256.Load(p); c01 = Vector256.Load(p + 8); p = c + Math.Min(1, last) * ldc;
            c10 = Vector256.Load(p); c11 = Vector256.Load(p + 8); p = c + Math.Min(2, last) * ldc;
            c20 = Vector256.Load(p); c21 = Vector256.Load(p + 8); p = c + Math.Min(3, last) * ldc;
            c30 = Vector256.Load(p); c31 = Vector256.Load(p + 8); p = c + Math.Min(4, last) * ldc;
            c40 = Vector256.Load(p); c41 = Vector256.Load(p + 8); p = c + Math.Min(5, last) * ldc;
            c50 = Vector256.Load(p); c51 = Vector256.Load(p + 8);
        }
        else if (bias != null)
        {
            c00 = c10 = c20 = c30 = c40 = c50 = Vector256.Load(bias);
            c01 = c11 = c21 = c31 = c41 = c51 = Vector256.Load(bias + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        }
        nint step = aK;
        for (int k = 0; k < K; k++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(*a0);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(*a1);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(*a2);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(*a3);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(*a4);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(*a5);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a0 += step; a1 += step; a2 += step; a3 += step; a4 += step; a5 += step;
            b += ldb;
        }
        float* r = c;
        Relu256(c00, relu).Store(r); Relu256(c01, relu).Store(r + 8);
        if (rows < 2) return;
        r += ldc; Relu256(c10, relu).Store(r); Relu256(c11, relu).Store(r + 8);
        if (rows < 3) return;
        r += ldc; Relu256(c20, relu).Store(r); Relu256(c21, relu).Store(r + 8);
        if (rows < 4) return;
        r += ldc; Relu256(c30, relu).Store(r); Relu256(c31, relu).Store(r + 8);
        if (rows < 5) return;
        r += ldc; Relu256(c40, relu).Store(r); Relu256(c41, relu).Store(r + 8);
        if (rows < 6) return;
        r += ldc; Relu256(c50, relu).Store(r); Relu256(c51, relu).Store(r + 8);
    }
}

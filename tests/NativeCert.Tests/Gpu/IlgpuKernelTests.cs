using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeCert.Data;
using NativeCert.Engine;
using NativeCert.Engine.Cpu;
using NativeCert.Engine.Reference;
using NativeCert.Kernels.Checks;
using NativeCert.Kernels.Device;
using NativeCert.Kernels.Engine;
using NativeCert.Noise;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// Every device kernel at tiny sizes against the scalar reference (<see cref="ReferenceMlp"/>,
/// <see cref="ReferenceNoise"/>, <see cref="ReferenceTrainer"/>). Written once; each subclass runs it on one ILGPU
/// backend. xunit makes a new instance, hence a fresh Context, per test: a failed compile poisons a Context.
/// </summary>
public abstract class IlgpuKernelTests : IDisposable
{
    private readonly Context _context;
    protected Accelerator Accelerator { get; }
    private protected KernelSet K { get; }
    /// <summary>The test-only noise kernels (raw Philox words, Gaussians).</summary>
    private protected NoiseCheckKernelSet Checks { get; }

    /// <summary>
    /// True on the CPU accelerator, which runs the kernels' .NET arithmetic itself: noise is then bit-identical to the
    /// CPU engine's and updates to the reference's. On CUDA, ptxas may contract a·b + c into one FMA.
    /// </summary>
    protected abstract bool ExactTranscendentals { get; }
    protected abstract Context CreateContext();
    protected abstract Accelerator CreateAccelerator(Context context);
    /// <summary>The backend under test as an <see cref="IEnsembleBackend"/>, chunks of at most <paramref name="maxModelsPerChunk"/>.</summary>
    private protected abstract IEnsembleBackend CreateBackend(int? maxModelsPerChunk);

    protected IlgpuKernelTests()
    {
        _context = CreateContext();
        Accelerator = CreateAccelerator(_context);
        K = new KernelSet(Accelerator);
        Checks = new NoiseCheckKernelSet(Accelerator);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
        GC.SuppressFinalize(this);
    }

    private const ulong Seed = 0x0123_4567_89AB_CDEFUL;

    // Device noise is the CPU engine's polynomial Box–Muller (PolynomialBoxMuller, the same code as CpuNoise's scalar branch): bit-identical to CpuNoise where
    // the arithmetic is .NET's; on CUDA the same correctly rounded operations (fma.rn, sqrt.rn) should give the same
    // bits, allowed here a rounding of slack. Against the MathF reference (BoxMuller) it differs by float rounding.
    private float EngineNoiseTolerance => ExactTranscendentals ? 0f : 1e-6f;
    private const float ReferenceNoiseTolerance = 2e-6f;
    // ptxas contracts a·b + c into one FMA (one rounding instead of two): allow a few ulps more on a GPU.
    private float UpdateTolerance => ExactTranscendentals ? 1e-7f : 1e-6f;
    // Whole training runs amplify those differences a little over the SGD steps.
    private float TrainingTolerance => ExactTranscendentals ? 1e-4f : 1e-3f;

    [BackendFact]
    public void Philox_words_are_bit_exact_with_the_host_generator()
    {
        const int models = 2, rows = 3, blocks = 5;
        const uint modelBase = 7;
        using var bits = Accelerator.Allocate1D<uint>(models * rows * blocks * 4);
        Checks.UniformBits(new Index3D(blocks, rows, models), bits.View, blocks, rows, Seed, (uint)NoiseStream.TestNoise, modelBase);
        var got = bits.GetAsArray1D();
        for (int m = 0; m < models; m++)
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < blocks; b++)
                {
                    var (x0, x1, x2, x3) = NoiseKey.Block(Seed, NoiseStream.TestNoise, modelBase + (uint)m, (uint)r, (uint)b);
                    int o = ((m * rows + r) * blocks + b) * 4;
                    Assert.Equal([x0, x1, x2, x3], got[o..(o + 4)]);
                }
    }

    [BackendFact]
    public void Gaussians_are_the_cpu_engines_bits_and_match_box_muller_reference()
    {
        const int models = 2, rows = 3, width = 11; // 11: a ragged last block
        using var z = Accelerator.Allocate1D<float>(models * rows * width);
        Checks.GaussianRows(new Index3D((width + 3) / 4, rows, models), z.View, width, rows, Seed, (uint)NoiseStream.WeightInit, 3);
        var got = z.GetAsArray1D();
        var engine = new float[width];
        var reference = new float[width];
        for (int m = 0; m < models; m++)
            for (int r = 0; r < rows; r++)
            {
                CpuNoise.Gaussians(engine, Seed, NoiseStream.WeightInit, 3 + (uint)m, (uint)r, IsaLevel.Scalar);
                ReferenceNoise.Gaussians(reference, Seed, NoiseStream.WeightInit, 3 + (uint)m, (uint)r);
                AssertClose(engine, got.AsSpan((m * rows + r) * width, width), EngineNoiseTolerance, "vs CpuNoise");
                AssertClose(reference, got.AsSpan((m * rows + r) * width, width), ReferenceNoiseTolerance, "vs BoxMuller");
            }
    }

    [BackendFact]
    public void Gaussians_of_many_blocks_stay_within_rounding_of_the_reference()
    {
        // 4,096 Gaussians: every quadrant of the exact angle reduction and the whole range of u1.
        const int width = 4096;
        using var z = Accelerator.Allocate1D<float>(width);
        Checks.GaussianRows(new Index3D(width / 4, 1, 1), z.View, width, 1, Seed, (uint)NoiseStream.TrainingNoise, 0);
        var reference = new float[width];
        ReferenceNoise.Gaussians(reference, Seed, NoiseStream.TrainingNoise, 0, 0);
        AssertClose(reference, z.GetAsArray1D(), ReferenceNoiseTolerance, "vs BoxMuller");
    }

    [BackendFact]
    public void Extreme_uniform_words_map_like_the_cpu_engine_tail_cut_at_x0_0_and_zero_at_x0_max()
    {
        uint[] first = CpuKernelTests.EdgeWords, angles = [0u, 0x40000000u, 0x5A5A5A5Au, 0xFFFFFFFFu];
        var words = new uint[2 * first.Length * angles.Length];
        for (int i = 0; i < first.Length; i++)
            for (int j = 0; j < angles.Length; j++)
                (words[2 * (i * angles.Length + j)], words[2 * (i * angles.Length + j) + 1]) = (first[i], angles[j]);
        var kernel = Checks.TransformWords;
        using var w = Accelerator.Allocate1D(words);
        using var z = Accelerator.Allocate1D<float>(words.Length);
        kernel(new Index1D(words.Length / 2), w.View, z.View);
        var got = z.GetAsArray1D();
        var engine = new float[words.Length];
        CpuNoise.TransformPairs(engine, words, IsaLevel.Scalar);
        AssertClose(engine, got, EngineNoiseTolerance, "vs CpuNoise");
        for (int p = 0; p < words.Length / 2; p++)
        {
            double radius = Math.Sqrt((double)got[2 * p] * got[2 * p] + (double)got[2 * p + 1] * got[2 * p + 1]);
            if (words[2 * p] == 0)
                Assert.True(Math.Abs(radius - CpuKernelTests.TailCut) <= 1e-5, $"x0 = 0: |z| = {radius}, want √(64 ln 2) = {CpuKernelTests.TailCut}");
            if (words[2 * p] == uint.MaxValue)
                Assert.True(got[2 * p] == 0f && got[2 * p + 1] == 0f, $"x0 = 2³²−1: ({got[2 * p]}, {got[2 * p + 1]}), want 0");
        }
    }

    [BackendFact]
    public void Noisy_training_batch_is_gathered_through_the_permutation_with_per_example_noise()
    {
        const int n = 9, d = 7, models = 2, batchCapacity = 4, batchStart = 3, rows = 4;
        const float sigma = 0.5f;
        var features = EngineTestData.RandomArray(n * d, 1);
        var perm = new int[models * n];
        for (int m = 0; m < models; m++) ReferenceNoise.ShufflePermutation(perm.AsSpan(m * n, n), Seed, (uint)m, 0);
        using var x = Accelerator.Allocate1D<float>(models * batchCapacity * d);
        using var f = Accelerator.Allocate1D(features);
        using var p = Accelerator.Allocate1D(perm);
        K.GatherNoisyTrainingRows(new Index1D(models * rows * ((d + 3) / 4)), x.View, f.View, p.View, batchStart, n, d, batchCapacity, rows, sigma, Seed, 5);
        var got = x.GetAsArray1D();
        var engine = new float[d];
        var reference = new float[d];
        for (int m = 0; m < models; m++)
            for (int r = 0; r < rows; r++)
            {
                int j = perm[m * n + batchStart + r];
                CpuNoise.NoisyRow(engine, features.AsSpan(j * d, d), sigma, Seed, NoiseStream.TrainingNoise, 5 + (uint)m, (uint)j, IsaLevel.Scalar);
                ReferenceNoise.NoisyRow(reference, features.AsSpan(j * d, d), sigma, Seed, NoiseStream.TrainingNoise, 5 + (uint)m, (uint)j);
                AssertClose(engine, got.AsSpan((m * batchCapacity + r) * d, d), EngineNoiseTolerance, "vs CpuNoise");
                AssertClose(reference, got.AsSpan((m * batchCapacity + r) * d, d), ReferenceNoiseTolerance, "vs reference");
            }
    }

    [BackendFact]
    public void Noisy_test_rows_draw_once_per_model_and_input()
    {
        const int t = 5, d = 6, models = 3, batchCapacity = 3, start = 2, rows = 3;
        const float sigma = 0.25f;
        var inputs = EngineTestData.RandomArray(t * d, 2);
        using var x = Accelerator.Allocate1D<float>(models * batchCapacity * d);
        using var i = Accelerator.Allocate1D(inputs);
        K.NoisyTestRows(new Index1D(models * rows * ((d + 3) / 4)), x.View, i.View, start, d, batchCapacity, rows, sigma, Seed, 11);
        var got = x.GetAsArray1D();
        var engine = new float[d];
        var reference = new float[d];
        for (int m = 0; m < models; m++)
            for (int r = 0; r < rows; r++)
            {
                CpuNoise.NoisyRow(engine, inputs.AsSpan((start + r) * d, d), sigma, Seed, NoiseStream.TestNoise, 11 + (uint)m, (uint)(start + r), IsaLevel.Scalar);
                ReferenceNoise.NoisyRow(reference, inputs.AsSpan((start + r) * d, d), sigma, Seed, NoiseStream.TestNoise, 11 + (uint)m, (uint)(start + r));
                AssertClose(engine, got.AsSpan((m * batchCapacity + r) * d, d), EngineNoiseTolerance, "vs CpuNoise");
                AssertClose(reference, got.AsSpan((m * batchCapacity + r) * d, d), ReferenceNoiseTolerance, "vs reference");
            }
    }

    [BackendFact]
    public void He_init_matches_reference()
    {
        var layout = new ParameterLayout(ModelArchitecture.Mlp(5, [3], 2));
        const int models = 2;
        using var w = Accelerator.Allocate1D<float>(models * layout.Count);
        using var scale = Accelerator.Allocate1D(layout.HeScale());
        K.HeInit(new Index2D((layout.Count + 3) / 4, models), w.View, scale.View, layout.Count, Seed, 4);
        var got = w.GetAsArray1D();
        var engine = new float[layout.Count];
        var reference = new float[layout.Count];
        for (int m = 0; m < models; m++)
        {
            CpuNoise.HeInit(engine, layout, Seed, 4 + (uint)m, IsaLevel.Scalar);
            ReferenceNoise.HeInit(reference, layout, Seed, 4 + (uint)m);
            AssertClose(engine, got.AsSpan(m * layout.Count, layout.Count), EngineNoiseTolerance, "vs CpuNoise");
            AssertClose(reference, got.AsSpan(m * layout.Count, layout.Count), ReferenceNoiseTolerance, "vs reference");
        }
    }

    [BackendFact]
    public void Shuffle_matches_reference_fisher_yates()
    {
        const int n = 23, models = 3, epoch = 2;
        using var p = Accelerator.Allocate1D<int>(models * n);
        K.Shuffle(new Index1D(models), p.View, n, epoch, Seed, 9);
        var got = p.GetAsArray1D();
        var want = new int[n];
        for (int m = 0; m < models; m++)
        {
            ReferenceNoise.ShufflePermutation(want, Seed, 9 + (uint)m, epoch);
            Assert.Equal(want, got[(m * n)..((m + 1) * n)]);
        }
    }

    // Sizes cross the 64×64 output tiles and the 16-deep inner tiles, with ragged edges on every axis.
    private const int GemmModels = 2, GemmRows = 70, GemmInner = 19, GemmCols = 67;

    internal static readonly GemmKernels.Variant[] GemmVariants = Enum.GetValues<GemmKernels.Variant>();

    [BackendFact]
    public void Gemm_forward_with_bias_and_relu_matches_reference_on_every_variant()
    {
        int b = GemmRows, inW = GemmInner, outW = GemmCols, models = GemmModels;
        var x = EngineTestData.RandomArray(models * b * inW, 3);
        var layout = new ParameterLayout(ModelArchitecture.Mlp(inW, [], outW));
        var parameters = EngineTestData.RandomArray(models * layout.Count, 4);
        using var xd = Accelerator.Allocate1D(x);
        using var pd = Accelerator.Allocate1D(parameters);
        var want = new float[models * b * outW];
        for (int m = 0; m < models; m++)
        {
            var pm = parameters.AsSpan(m * layout.Count, layout.Count);
            var wm = want.AsSpan(m * b * outW, b * outW);
            ReferenceMlp.MatmulForward(wm, x.AsSpan(m * b * inW, b * inW), layout.Weight(pm, 0), layout.Bias(pm, 0), b, inW, outW);
            ReferenceMlp.ReluForward(wm, wm, wm.Length);
        }
        foreach (var variant in GemmVariants)
        {
            using var yd = Accelerator.Allocate1D<float>(models * b * outW);
            yd.MemSetToZero();
            var size = new GemmSize(b, inW, outW);
            K.BatchedGemm(models, yd.View, MatrixLayout.RowMajor(0, b * outW, outW),
                          xd.View, MatrixLayout.RowMajor(0, b * inW, inW), pd.View, MatrixLayout.RowMajor(layout.WeightOffset(0), layout.Count, outW),
                          size, new GemmEpilogue(GemmEpilogue.BiasRelu, layout.BiasOffset(0), layout.Count), pd.View, variant);
            AssertClose(want, yd.GetAsArray1D(), 1e-5f, variant.ToString());
        }
    }

    [BackendFact]
    public void Gemm_backward_products_match_reference_on_every_variant()
    {
        // dW = Xᵀ dY into the flat gradients; dX = dY Wᵀ.
        int b = GemmRows, inW = GemmCols, outW = GemmInner, models = GemmModels;
        var layout = new ParameterLayout(ModelArchitecture.Mlp(inW, [], outW));
        var x = EngineTestData.RandomArray(models * b * inW, 5);
        var dy = EngineTestData.RandomArray(models * b * outW, 6);
        var parameters = EngineTestData.RandomArray(models * layout.Count, 7);
        using var xd = Accelerator.Allocate1D(x);
        using var dyd = Accelerator.Allocate1D(dy);
        using var pd = Accelerator.Allocate1D(parameters);
        var wantGrad = new float[models * layout.Count];
        var wantDx = new float[models * b * inW];
        for (int m = 0; m < models; m++)
        {
            var pm = parameters.AsSpan(m * layout.Count, layout.Count);
            var gm = wantGrad.AsSpan(m * layout.Count, layout.Count);
            ReferenceMlp.MatmulBackward(wantDx.AsSpan(m * b * inW, b * inW), layout.Weight(gm, 0), layout.Bias(gm, 0),
                                        dy.AsSpan(m * b * outW, b * outW), x.AsSpan(m * b * inW, b * inW), layout.Weight(pm, 0), b, inW, outW);
        }
        var none = new GemmEpilogue(GemmEpilogue.None, 0, 0);
        foreach (var variant in GemmVariants)
        {
            using var gd = Accelerator.Allocate1D<float>(models * layout.Count);
            using var dxd = Accelerator.Allocate1D<float>(models * b * inW);
            gd.MemSetToZero();
            dxd.MemSetToZero();
            var dwSize = new GemmSize(inW, b, outW);
            K.BatchedGemm(models, gd.View, MatrixLayout.RowMajor(layout.WeightOffset(0), layout.Count, outW),
                          xd.View, MatrixLayout.Transposed(0, b * inW, inW), dyd.View, MatrixLayout.RowMajor(0, b * outW, outW), dwSize, none, gd.View, variant);
            K.BiasGradient(new Index1D(models * outW), gd.View, layout.BiasOffset(0), layout.Count, dyd.View, b, outW, b);
            var dxSize = new GemmSize(b, outW, inW);
            K.BatchedGemm(models, dxd.View, MatrixLayout.RowMajor(0, b * inW, inW),
                          dyd.View, MatrixLayout.RowMajor(0, b * outW, outW), pd.View, MatrixLayout.Transposed(layout.WeightOffset(0), layout.Count, outW),
                          dxSize, none, pd.View, variant);
            AssertClose(wantGrad, gd.GetAsArray1D(), 1e-5f, variant + " dW");
            AssertClose(wantDx, dxd.GetAsArray1D(), 1e-5f, variant + " dX");
        }
    }

    [BackendFact]
    public void Gemm_128x128_with_16_byte_loads_matches_reference_on_all_three_products()
    {
        // Sizes that are multiples of 4 (every quad 16-byte aligned: the vector path) but ragged against the 128-wide
        // tiles and the 8-deep k-steps; the model stride (P) is a multiple of 4 too, as a padded parameter buffer's would be.
        const int models = 2, b = 132, inW = 20, outW = 136;
        var layout = new ParameterLayout(ModelArchitecture.Mlp(inW, [], outW));
        int p = (layout.Count + 3) / 4 * 4;
        var x = EngineTestData.RandomArray(models * b * inW, 21);
        var dy = EngineTestData.RandomArray(models * b * outW, 22);
        var parameters = EngineTestData.RandomArray(models * p, 23);
        using var xd = Accelerator.Allocate1D(x);
        using var dyd = Accelerator.Allocate1D(dy);
        using var pd = Accelerator.Allocate1D(parameters);
        using var yd = Accelerator.Allocate1D<float>(models * b * outW);
        using var gd = Accelerator.Allocate1D<float>(models * p);
        using var dxd = Accelerator.Allocate1D<float>(models * b * inW);
        var v = GemmKernels.Variant.Tile128x128;
        K.BatchedGemm(models, yd.View, MatrixLayout.RowMajor(0, b * outW, outW), xd.View, MatrixLayout.RowMajor(0, b * inW, inW),
                      pd.View, MatrixLayout.RowMajor(layout.WeightOffset(0), p, outW), new GemmSize(b, inW, outW),
                      new GemmEpilogue(GemmEpilogue.BiasRelu, layout.BiasOffset(0), p), pd.View, v);
        K.BatchedGemm(models, gd.View, MatrixLayout.RowMajor(layout.WeightOffset(0), p, outW), xd.View, MatrixLayout.Transposed(0, b * inW, inW),
                      dyd.View, MatrixLayout.RowMajor(0, b * outW, outW), new GemmSize(inW, b, outW), new GemmEpilogue(GemmEpilogue.None, 0, 0), gd.View, v);
        K.BatchedGemm(models, dxd.View, MatrixLayout.RowMajor(0, b * inW, inW), dyd.View, MatrixLayout.RowMajor(0, b * outW, outW),
                      pd.View, MatrixLayout.Transposed(layout.WeightOffset(0), p, outW), new GemmSize(b, outW, inW), new GemmEpilogue(GemmEpilogue.None, 0, 0), pd.View, v);
        var y = yd.GetAsArray1D();
        var g = gd.GetAsArray1D();
        var dx = dxd.GetAsArray1D();
        for (int m = 0; m < models; m++)
        {
            var pm = parameters.AsSpan(m * p, layout.Count);
            var wantY = new float[b * outW];
            ReferenceMlp.MatmulForward(wantY, x.AsSpan(m * b * inW, b * inW), layout.Weight(pm, 0), layout.Bias(pm, 0), b, inW, outW);
            ReferenceMlp.ReluForward(wantY, wantY, wantY.Length);
            AssertClose(wantY, y.AsSpan(m * b * outW, b * outW), 1e-5f, "forward");
            var wantG = new float[layout.Count];
            var wantDx = new float[b * inW];
            ReferenceMlp.MatmulBackward(wantDx, layout.Weight(wantG, 0), layout.Bias(wantG, 0), dy.AsSpan(m * b * outW, b * outW),
                                        x.AsSpan(m * b * inW, b * inW), layout.Weight(pm, 0), b, inW, outW);
            AssertClose(layout.Weight(wantG, 0), g.AsSpan(m * p + layout.WeightOffset(0), inW * outW), 1e-5f, "dW");
            AssertClose(wantDx, dx.AsSpan(m * b * inW, b * inW), 1e-5f, "dX");
        }
    }

    [BackendFact]
    public void Fused_weight_gradient_and_sgd_equals_the_separate_launches()
    {
        // dW = Xᵀ·dZ, db = Σ dZ, then SGD, in one kernel, against the 128×128 dW + BiasGradient + SgdMomentum it
        // replaces: bit for bit where the arithmetic is .NET's (same sums in the same order), and against the reference.
        // Two shapes: aligned (16-byte path) and ragged against the 128-wide tiles and 8-deep k-steps.
        foreach (var (inW, rows, outW, models) in new[] { (20, 132, 136, 2), (70, 19, 67, 3) })
        {
            var layout = new ParameterLayout(ModelArchitecture.Mlp(inW, [], outW));
            int p = layout.Count;
            var x = EngineTestData.RandomArray(models * rows * inW, 31);
            var dz = EngineTestData.RandomArray(models * rows * outW, 32);
            var w = EngineTestData.RandomArray(models * p, 33);
            var v = EngineTestData.RandomArray(models * p, 34);
            const float learningRate = 0.05f;
            var step = new SgdStep(0.9f, 5e-4f);
            using var xd = Accelerator.Allocate1D(x);
            using var dzd = Accelerator.Allocate1D(dz);
            using var fusedW = Accelerator.Allocate1D(w);
            using var fusedV = Accelerator.Allocate1D(v);
            using var plainW = Accelerator.Allocate1D(w);
            using var plainV = Accelerator.Allocate1D(v);
            using var grads = Accelerator.Allocate1D<float>(models * p);
            var size = new GemmSize(inW, rows, outW);
            var xT = MatrixLayout.Transposed(0, rows * inW, inW);
            var dzLayout = MatrixLayout.RowMajor(0, rows * outW, outW);
            var wLayout = MatrixLayout.RowMajor(layout.WeightOffset(0), p, outW);
            // Every model steps except the last, which the mask leaves untouched (a training view whose epoch has ended).
            using var rowCounts = Accelerator.Allocate1D(Enumerable.Range(0, models).Select(m => m < models - 1 ? rows : 0).ToArray());
            using var rates = Accelerator.Allocate1D(Enumerable.Repeat(learningRate, models).ToArray());
            K.WeightGradientSgd(Gemm128Kernels.Config(size, models), fusedW.View, fusedV.View, wLayout, layout.BiasOffset(0), xd.View, xT, dzd.View, dzLayout, size, step,
                                new StepMask(rowCounts.View, 0, rates.View));
            // The separate launches, over the same W and b only (the fused kernel touches nothing else).
            K.BatchedGemm(models, grads.View, wLayout, xd.View, xT, dzd.View, dzLayout, size, new GemmEpilogue(GemmEpilogue.None, 0, 0), grads.View, GemmKernels.Variant.Tile128x128);
            K.BiasGradient(new Index1D(models * outW), grads.View, layout.BiasOffset(0), p, dzd.View, rows, outW, rows);
            K.SgdMomentum(new Index1D(models * p), plainW.View, plainV.View, grads.View, learningRate, step.Momentum, step.WeightDecay);
            var gotW = fusedW.GetAsArray1D();
            var gotV = fusedV.GetAsArray1D();
            int stepped = (models - 1) * p;
            if (ExactTranscendentals)
            {
                Assert.Equal(plainW.GetAsArray1D().AsSpan(0, stepped).ToArray(), gotW.AsSpan(0, stepped).ToArray());
                Assert.Equal(plainV.GetAsArray1D().AsSpan(0, stepped).ToArray(), gotV.AsSpan(0, stepped).ToArray());
            }
            Assert.Equal(w.AsSpan(stepped).ToArray(), gotW.AsSpan(stepped).ToArray());
            Assert.Equal(v.AsSpan(stepped).ToArray(), gotV.AsSpan(stepped).ToArray());
            for (int m = 0; m < models - 1; m++)
            {
                var wantW = w.AsSpan(m * p, p).ToArray();
                var wantV = v.AsSpan(m * p, p).ToArray();
                var g = new float[p];
                ReferenceMlp.MatmulBackward([], layout.Weight(g, 0), layout.Bias(g, 0), dz.AsSpan(m * rows * outW, rows * outW),
                                            x.AsSpan(m * rows * inW, rows * inW), layout.Weight(wantW, 0), rows, inW, outW);
                ReferenceMlp.SgdMomentumUpdate(wantW, wantV, g, learningRate, step.Momentum, step.WeightDecay);
                AssertClose(wantW, gotW.AsSpan(m * p, p), 1e-5f, $"W {inW}x{rows}x{outW}");
                AssertClose(wantV, gotV.AsSpan(m * p, p), 1e-5f, $"V {inW}x{rows}x{outW}");
            }
        }
    }

    [BackendFact]
    public void Fused_tail_equals_the_seven_separate_launches()
    {
        // logits, softmax-CE gradient, dH through the ReLU mask, dW1, db1 and their SGD step in one kernel, against the
        // thin GEMM + softmax + thin dW GEMM + bias gradient + 64×128 dX GEMM + ReLU backward + SGD it replaces.
        const int models = 2, n = 30, d = 5, h = 67, c = 3, capacity = 12, rows = 9, start = 14;
        var layout = new ParameterLayout(ModelArchitecture.Mlp(d, [h], c));
        int p = layout.Count, w1 = layout.WeightOffset(1), b1 = layout.BiasOffset(1);
        var hidden = EngineTestData.RandomArray(models * capacity * h, 41).Select(v => Math.Max(v, 0f)).ToArray(); // ReLU outputs, with zeros
        var parameters = EngineTestData.RandomArray(models * p, 42);
        var velocity = EngineTestData.RandomArray(models * p, 43);
        var labels = Enumerable.Range(0, n).Select(i => (i * 7) % c).ToArray();
        var perm = new int[models * n];
        for (int m = 0; m < models; m++) ReferenceNoise.ShufflePermutation(perm.AsSpan(m * n, n), Seed, (uint)m, 0);
        const float learningRate = 0.1f;
        var step = new SgdStep(0.9f, 5e-4f);
        using var yd = Accelerator.Allocate1D(hidden);
        using var labelsD = Accelerator.Allocate1D(labels);
        using var permD = Accelerator.Allocate1D(perm);
        // Fused.
        using var fLogits = Accelerator.Allocate1D<float>(models * capacity * c);
        using var fLoss = Accelerator.Allocate1D<float>(models * capacity);
        using var fDh = Accelerator.Allocate1D<float>(models * capacity * h);
        using var fP = Accelerator.Allocate1D(parameters);
        using var fV = Accelerator.Allocate1D(velocity);
        var shape = new TailShape { Hidden = h, Classes = c, Rows = rows, Capacity = capacity, BatchStart = start, TrainCount = n, ParameterCount = p, WeightOffset = w1, BiasOffset = b1 };
        using var rowCounts = Accelerator.Allocate1D(Enumerable.Repeat(n, models).ToArray());
        using var rates = Accelerator.Allocate1D(Enumerable.Repeat(learningRate, models).ToArray());
        K.FusedTail(TailKernels.Config(models), yd.View, fLogits.View, fLoss.View, fDh.View, fP.View, fV.View, labelsD.View, permD.View, shape, step,
                    new StepMask(rowCounts.View, start, rates.View));
        // Separate launches.
        using var logits = Accelerator.Allocate1D<float>(models * capacity * c);
        using var loss = Accelerator.Allocate1D<float>(models * capacity);
        using var dh = Accelerator.Allocate1D<float>(models * capacity * h);
        using var pd = Accelerator.Allocate1D(parameters);
        using var vd = Accelerator.Allocate1D(velocity);
        using var grads = Accelerator.Allocate1D<float>(models * p);
        grads.MemSetToZero();
        var none = new GemmEpilogue(GemmEpilogue.None, 0, 0);
        K.BatchedGemm(models, logits.View, MatrixLayout.RowMajor(0, capacity * c, c), yd.View, MatrixLayout.RowMajor(0, capacity * h, h),
                      pd.View, MatrixLayout.RowMajor(w1, p, c), new GemmSize(rows, h, c), new GemmEpilogue(GemmEpilogue.Bias, b1, p), pd.View);
        K.SoftmaxCrossEntropy(new Index1D(models * rows), logits.View, loss.View, labelsD.View, permD.View, start, n, rows, c, capacity);
        K.BatchedGemm(models, grads.View, MatrixLayout.RowMajor(w1, p, c), yd.View, MatrixLayout.Transposed(0, capacity * h, h),
                      logits.View, MatrixLayout.RowMajor(0, capacity * c, c), new GemmSize(h, rows, c), none, grads.View);
        K.BiasGradient(new Index1D(models * c), grads.View, b1, p, logits.View, rows, c, capacity);
        K.BatchedGemm(models, dh.View, MatrixLayout.RowMajor(0, capacity * h, h), logits.View, MatrixLayout.RowMajor(0, capacity * c, c),
                      pd.View, MatrixLayout.Transposed(w1, p, c), new GemmSize(rows, c, h), none, pd.View);
        K.ReluBackward(new Index1D(models * capacity * h), dh.View, yd.View);
        K.SgdMomentum(new Index1D(models * p), pd.View, vd.View, grads.View, learningRate, step.Momentum, step.WeightDecay);
        var (wantL, gotL) = (logits.GetAsArray1D(), fLogits.GetAsArray1D());
        var (wantLoss, gotLoss) = (loss.GetAsArray1D(), fLoss.GetAsArray1D());
        var (wantDh, gotDh) = (dh.GetAsArray1D(), fDh.GetAsArray1D());
        var (wantP, gotP, wantV, gotV) = (pd.GetAsArray1D(), fP.GetAsArray1D(), vd.GetAsArray1D(), fV.GetAsArray1D());
        float tolerance = ExactTranscendentals ? 0f : 1e-6f;
        for (int m = 0; m < models; m++)
        {
            AssertClose(wantL.AsSpan(m * capacity * c, rows * c), gotL.AsSpan(m * capacity * c, rows * c), tolerance, "dL");
            AssertClose(wantLoss.AsSpan(m * capacity, rows), gotLoss.AsSpan(m * capacity, rows), tolerance, "loss");
            AssertClose(wantDh.AsSpan(m * capacity * h, rows * h), gotDh.AsSpan(m * capacity * h, rows * h), tolerance, "dH");
            AssertClose(wantP.AsSpan(m * p + w1, h * c + c), gotP.AsSpan(m * p + w1, h * c + c), tolerance, "W1, b1");
            AssertClose(wantV.AsSpan(m * p + w1, h * c + c), gotV.AsSpan(m * p + w1, h * c + c), tolerance, "velocity");
            AssertClose(parameters.AsSpan(m * p, w1), gotP.AsSpan(m * p, w1), 0f, "layer 0 untouched");
        }
    }

    [BackendFact]
    public void Relu_backward_masks_where_the_output_was_not_positive()
    {
        var a = EngineTestData.RandomArray(50, 8);
        a[3] = 0f;
        var da = EngineTestData.RandomArray(50, 9);
        using var ad = Accelerator.Allocate1D(a);
        using var dad = Accelerator.Allocate1D(da);
        K.ReluBackward(new Index1D(a.Length), dad.View, ad.View);
        var want = new float[a.Length];
        ReferenceMlp.ReluBackward(want, da, a, a.Length);
        Assert.Equal(want, dad.GetAsArray1D());
    }

    [BackendFact]
    public void Softmax_cross_entropy_gradient_matches_reference()
    {
        const int n = 10, c = 4, models = 2, capacity = 6, rows = 5, start = 4;
        var logits = EngineTestData.RandomArray(models * capacity * c, 10, 3f);
        var labels = Enumerable.Range(0, n).Select(i => (i * 7) % c).ToArray();
        var perm = new int[models * n];
        for (int m = 0; m < models; m++) ReferenceNoise.ShufflePermutation(perm.AsSpan(m * n, n), Seed, (uint)m, 1);
        using var ld = Accelerator.Allocate1D(logits);
        using var lossd = Accelerator.Allocate1D<float>(models * capacity);
        using var yd = Accelerator.Allocate1D(labels);
        using var pd = Accelerator.Allocate1D(perm);
        K.SoftmaxCrossEntropy(new Index1D(models * rows), ld.View, lossd.View, yd.View, pd.View, start, n, rows, c, capacity);
        var gotD = ld.GetAsArray1D();
        var gotLoss = lossd.GetAsArray1D();
        var wantD = new float[rows * c];
        var wantLoss = new float[rows];
        var y = new int[rows];
        for (int m = 0; m < models; m++)
        {
            for (int r = 0; r < rows; r++) y[r] = labels[perm[m * n + start + r]];
            ReferenceMlp.SoftmaxCrossEntropyBackward(wantD, wantLoss, logits.AsSpan(m * capacity * c, rows * c), y, rows, c);
            AssertClose(wantD, gotD.AsSpan(m * capacity * c, rows * c), 1e-6f);
            AssertClose(wantLoss, gotLoss.AsSpan(m * capacity, rows), 1e-5f);
        }
    }

    [BackendFact]
    public void Sgd_momentum_update_matches_reference()
    {
        var w = EngineTestData.RandomArray(37, 11);
        var v = EngineTestData.RandomArray(37, 12);
        var g = EngineTestData.RandomArray(37, 13);
        using var wd = Accelerator.Allocate1D(w);
        using var vd = Accelerator.Allocate1D(v);
        using var gd = Accelerator.Allocate1D(g);
        K.SgdMomentum(new Index1D(w.Length), wd.View, vd.View, gd.View, 0.05f, 0.9f, 5e-4f);
        ReferenceMlp.SgdMomentumUpdate(w, v, g, 0.05f, 0.9f, 5e-4f);
        AssertClose(w, wd.GetAsArray1D(), UpdateTolerance);
        AssertClose(v, vd.GetAsArray1D(), UpdateTolerance);
    }

    [BackendFact]
    public void Votes_count_each_models_argmax_with_ties_to_the_lowest_class()
    {
        const int t = 4, c = 3, models = 3, capacity = 3, start = 1, rows = 3;
        var logits = EngineTestData.RandomArray(models * capacity * c, 14);
        logits[(1 * capacity + 2) * c + 1] = logits[(1 * capacity + 2) * c + 2] = 9f; // tie on model 1, row 2
        using var ld = Accelerator.Allocate1D(logits);
        using var vd = Accelerator.Allocate1D<uint>(t * c);
        vd.MemSetToZero();
        K.ArgmaxVote(new Index1D(models * rows), vd.View, ld.View, start, rows, c, capacity);
        var want = new VoteCounts(t, c);
        for (int m = 0; m < models; m++)
            for (int r = 0; r < rows; r++)
                want[start + r, ReferenceMlp.Argmax(logits.AsSpan((m * capacity + r) * c, c))]++;
        Assert.Equal(want.Counts, vd.GetAsArray1D());
    }

    [BackendFact]
    public void Lockstep_training_gives_each_model_the_reference_weights()
    {
        var train = EngineTestData.Blobs(n: 21, d: 5, classes: 3, seed: 1); // 21 rows, batch 8: a ragged last batch
        var inputs = EngineTestData.Blobs(n: 4, d: 5, classes: 3, seed: 2);
        var config = EngineTestData.Config(5, [6], 3, epochs: 2, batch: 8);
        const int models = 2, modelBase = 3;
        using var trainer = new LockstepTrainer(Accelerator, K, config, train, inputs, capacity: models);
        trainer.Initialize(modelBase, models);
        for (int e = 0; e < config.Training.Epochs; e++) trainer.TrainEpoch(modelBase, models, e);
        var got = trainer.DownloadParameters(models);
        var layout = new ParameterLayout(config.Model);
        for (int m = 0; m < models; m++)
        {
            var want = ReferenceTrainer.Train(config, train, modelBase + m);
            AssertClose(want, got.AsSpan(m * layout.Count, layout.Count), TrainingTolerance);
        }
    }

    [BackendFact]
    public void Lockstep_training_of_a_deep_net_crossing_tile_edges_matches_reference()
    {
        // Two hidden layers (the backward ping-pong buffers), widths past one 64-wide tile, a ragged last batch.
        var train = EngineTestData.Blobs(n: 13, d: 66, classes: 3, seed: 5);
        var inputs = EngineTestData.Blobs(n: 2, d: 66, classes: 3, seed: 6);
        var config = EngineTestData.Config(66, [65, 4], 3, epochs: 1, batch: 5);
        using var trainer = new LockstepTrainer(Accelerator, K, config, train, inputs, capacity: 1);
        trainer.Initialize(0, 1);
        trainer.TrainEpoch(0, 1, 0);
        var want = ReferenceTrainer.Train(config, train, 0);
        AssertClose(want, trainer.DownloadParameters(1), TrainingTolerance);
    }

    [BackendFact]
    public void Ensemble_votes_equal_the_reference_votes_across_chunks()
    {
        // Well separated 2-class task; 4 models in chunks of 3 (a full and a partial chunk), starting at model 2.
        // The ILGPU votes must equal both the scalar reference's and the SIMD cpu backend's.
        var train = EngineTestData.Blobs(n: 40, d: 6, classes: 2, seed: 3, spread: 0.3f);
        var inputs = EngineTestData.Blobs(n: 6, d: 6, classes: 2, seed: 4, spread: 0.3f);
        var config = EngineTestData.Config(6, [8], 2, epochs: 2, batch: 16, sigma: 0.1f);
        var want = new VoteCounts(inputs.Count, 2);
        ReferenceTrainer.Run(config, train, inputs, 2, 6, want);
        using var backend = CreateBackend(maxModelsPerChunk: 3);
        var got = new VoteCounts(inputs.Count, 2);
        var reports = new List<EnsembleProgress>();
        backend.Run(config, train, inputs, 2, 6, got, new SynchronousProgress(reports));
        Assert.Equal(want.Counts, got.Counts);
        Assert.Equal([new EnsembleProgress(3, 4), new EnsembleProgress(4, 4)], reports);
        using var cpu = new NativeCert.Engine.Cpu.CpuEnsembleBackend(threads: 2);
        var cpuVotes = new VoteCounts(inputs.Count, 2);
        cpu.Run(config, train, inputs, 2, 6, cpuVotes);
        Assert.Equal(cpuVotes.Counts, got.Counts);
        for (int t = 0; t < inputs.Count; t++) Assert.Equal(4, got.Total(t));
    }

    private sealed class SynchronousProgress(List<EnsembleProgress> reports) : IProgress<EnsembleProgress>
    {
        public void Report(EnsembleProgress value) => reports.Add(value);
    }

    internal static void AssertClose(ReadOnlySpan<float> want, ReadOnlySpan<float> got, float tolerance, string what = "")
    {
        Assert.Equal(want.Length, got.Length);
        float worst = 0;
        int at = -1;
        for (int i = 0; i < want.Length; i++)
        {
            float diff = MathF.Abs(want[i] - got[i]) / MathF.Max(1f, MathF.Abs(want[i]));
            if (!(diff <= worst) ) { worst = diff; at = i; }
        }
        Assert.True(worst <= tolerance, $"{what}: largest difference {worst:G3} at {at}: want {(at >= 0 ? want[at] : 0)}, got {(at >= 0 ? got[at] : 0)} (tolerance {tolerance:G3})");
    }
}

/// <summary>The kernel tests on ILGPU's CPU accelerator (256-thread groups): runs everywhere, including CI.</summary>
public sealed class IlgpuCpuKernelTests : IlgpuKernelTests
{
    protected override bool ExactTranscendentals => true;
    protected override Context CreateContext() => IlgpuDevices.CreateCpuContext();
    protected override Accelerator CreateAccelerator(Context context) => IlgpuDevices.CpuDevice.CreateAccelerator(context);
    private protected override IEnsembleBackend CreateBackend(int? maxModelsPerChunk) => IlgpuEnsembleBackend.CreateCpuAccelerator(maxModelsPerChunk);
}

/// <summary>The kernel tests on the first CUDA GPU; each reports itself skipped where there is none.</summary>
public sealed class IlgpuCudaKernelTests : IlgpuKernelTests, IRequiresCudaDevice
{
    protected override bool ExactTranscendentals => false; // PTX uses lg2/sin/cos.approx
    protected override Context CreateContext() => IlgpuDevices.CreateCudaContext();
    protected override Accelerator CreateAccelerator(Context context) => context.GetCudaDevices()[0].CreateAccelerator(context);
    private protected override IEnsembleBackend CreateBackend(int? maxModelsPerChunk) => IlgpuEnsembleBackend.CreateCuda(maxModelsPerChunk);
}

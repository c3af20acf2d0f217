using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NativeCert.Engine;
using NativeCert.Engine.Reference;
using NativeCert.Kernels.Device;
using NativeCert.Kernels.Engine;
using NativeCert.Tests.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// The image-layer kernels (<see cref="ConvKernels"/>) and CNN lockstep training at tiny sizes against
/// <see cref="ReferenceConv"/> and <see cref="ReferenceTrainer"/>, two models per launch with their own parameters and a
/// batch capacity larger than the live rows. Written once, one subclass per ILGPU backend, a fresh Context per test.
/// </summary>
public abstract class IlgpuConvKernelTests : IDisposable
{
    private readonly Context _context;
    protected Accelerator Accelerator { get; }
    private protected KernelSet K { get; }
    protected abstract Context CreateContext();
    protected abstract Accelerator CreateAccelerator(Context context);
    private protected abstract IEnsembleBackend CreateBackend(int? maxModelsPerChunk);

    protected IlgpuConvKernelTests()
    {
        _context = CreateContext();
        Accelerator = CreateAccelerator(_context);
        K = new KernelSet(Accelerator);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
        GC.SuppressFinalize(this);
    }

    private const int Models = 2, Rows = 2, Capacity = 3; // row 2 of each model is dead space the kernels must skip
    private const int CI = 2, H = 6, W = 5, CO = 3, Kernel = 3, Pad = 1, OH = 6, OW = 5;

    [BackendFact]
    public void Conv_forward_and_backward_match_the_reference_for_each_model()
    {
        int inSize = CI * H * W, outSize = CO * OH * OW, weights = CO * CI * Kernel * Kernel, p = weights + CO + 4; // + 4: other layers' parameters
        var x = EngineTestData.RandomArray(Models * Capacity * inSize, 1);
        var parameters = EngineTestData.RandomArray(Models * p, 2);
        var dy = EngineTestData.RandomArray(Models * Capacity * outSize, 3);
        const long weightOffset = 4, biasOffset = 4 + CO * CI * Kernel * Kernel;
        var shape = new ConvShape(CI, H, W, CO, OH, OW, Kernel, Pad);
        using var xd = Accelerator.Allocate1D(x);
        using var pd = Accelerator.Allocate1D(parameters);
        using var dyd = Accelerator.Allocate1D(dy);
        using var yd = Accelerator.Allocate1D<float>(Models * Capacity * outSize);
        using var dxd = Accelerator.Allocate1D<float>(Models * Capacity * inSize);
        using var gd = Accelerator.Allocate1D<float>(Models * p);
        yd.MemSetToZero(); dxd.MemSetToZero(); gd.MemSetToZero();
        K.Conv2dForward(new Index1D(Models * Rows * outSize), yd.View, xd.View, pd.View, shape, weightOffset, biasOffset, p, Rows, Capacity, 1);
        K.Conv2dBackwardWeight(new Index1D(Models * weights), gd.View, dyd.View, xd.View, shape, weightOffset, p, Rows, Capacity);
        K.Conv2dBackwardBias(new Index1D(Models * CO), gd.View, dyd.View, shape, biasOffset, p, Rows, Capacity);
        K.Conv2dBackwardInput(new Index1D(Models * Rows * inSize), dxd.View, dyd.View, pd.View, shape, weightOffset, p, Rows, Capacity);
        var (y, dx, g) = (yd.GetAsArray1D(), dxd.GetAsArray1D(), gd.GetAsArray1D());
        for (int m = 0; m < Models; m++)
        {
            var xm = x.AsSpan(m * Capacity * inSize, Rows * inSize);
            var dym = dy.AsSpan(m * Capacity * outSize, Rows * outSize);
            var wm = parameters.AsSpan(m * p + (int)weightOffset, weights);
            var bm = parameters.AsSpan(m * p + (int)biasOffset, CO);
            var (wantY, wantDx, wantDw, wantDb) = (new float[Rows * outSize], new float[Rows * inSize], new float[weights], new float[CO]);
            ReferenceConv.Conv2dForward(wantY, xm, wm, bm, Rows, CI, H, W, CO, Kernel, Pad);
            ReferenceMlp.ReluForward(wantY, wantY, wantY.Length);
            ReferenceConv.Conv2dBackward(wantDx, wantDw, wantDb, dym, xm, wm, Rows, CI, H, W, CO, Kernel, Pad);
            IlgpuKernelTests.AssertClose(wantY, y.AsSpan(m * Capacity * outSize, Rows * outSize), 1e-5f, $"model {m} forward");
            IlgpuKernelTests.AssertClose(wantDx, dx.AsSpan(m * Capacity * inSize, Rows * inSize), 1e-5f, $"model {m} dx");
            IlgpuKernelTests.AssertClose(wantDw, g.AsSpan(m * p + (int)weightOffset, weights), 1e-5f, $"model {m} dw");
            IlgpuKernelTests.AssertClose(wantDb, g.AsSpan(m * p + (int)biasOffset, CO), 1e-5f, $"model {m} db");
            Assert.All(g.AsSpan(m * p, 4).ToArray(), v => Assert.Equal(0f, v)); // other layers' gradients untouched
        }
    }

    [BackendFact]
    public void Maxpool_forward_and_backward_match_the_reference_including_the_odd_edge()
    {
        const int C = 3, PH = 5, PW = 7, POH = 2, POW = 3;
        int inSize = C * PH * PW, outSize = C * POH * POW;
        var x = EngineTestData.RandomArray(Models * Capacity * inSize, 4);
        var dy = EngineTestData.RandomArray(Models * Capacity * outSize, 5);
        var shape = new ConvShape(C, PH, PW, C, POH, POW, 2, 0);
        using var xd = Accelerator.Allocate1D(x);
        using var dyd = Accelerator.Allocate1D(dy);
        using var yd = Accelerator.Allocate1D<float>(Models * Capacity * outSize);
        using var dxd = Accelerator.Allocate1D<float>(Models * Capacity * inSize);
        K.MaxPool2dForward(new Index1D(Models * Rows * outSize), yd.View, xd.View, shape, Rows, Capacity);
        K.MaxPool2dBackward(new Index1D(Models * Rows * inSize), dxd.View, dyd.View, xd.View, shape, Rows, Capacity);
        var (y, dx) = (yd.GetAsArray1D(), dxd.GetAsArray1D());
        for (int m = 0; m < Models; m++)
        {
            var (wantY, wantDx) = (new float[Rows * outSize], new float[Rows * inSize]);
            ReferenceConv.MaxPool2dForward(wantY, x.AsSpan(m * Capacity * inSize, Rows * inSize), Rows, C, PH, PW);
            ReferenceConv.MaxPool2dBackward(wantDx, dy.AsSpan(m * Capacity * outSize, Rows * outSize), x.AsSpan(m * Capacity * inSize, Rows * inSize), Rows, C, PH, PW);
            Assert.Equal(wantY, y.AsSpan(m * Capacity * outSize, Rows * outSize).ToArray());
            Assert.Equal(wantDx, dx.AsSpan(m * Capacity * inSize, Rows * inSize).ToArray());
        }
    }

    [BackendFact]
    public void Cnn_lockstep_training_gives_each_model_the_reference_weights()
    {
        var train = ModelArchitectureTests.Images(11, 1, channels: 1, height: 6, width: 5); // batch 4: a ragged last batch
        var inputs = ModelArchitectureTests.Images(3, 2, channels: 1, height: 6, width: 5);
        // Every kind of layer, a standalone ReLU after the pool, and a conv after a pool (the input gradient of a pool).
        var model = ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 5), ModelArchitecture.Parse("conv:3:3:1,relu,maxpool,relu,conv:2:2,flatten,dense:4,relu"), 2);
        var config = new EnsembleConfig(model, new TrainingOptions(1, 4, 0.05f, 0.9f, 5e-4f), 0.2f, 9);
        const int modelBase = 1;
        using var trainer = new LockstepTrainer(Accelerator, K, config, train, inputs, capacity: Models);
        trainer.Initialize(modelBase, Models);
        trainer.TrainEpoch(modelBase, Models, 0);
        var got = trainer.DownloadParameters(Models);
        int p = new ParameterLayout(model).Count;
        for (int m = 0; m < Models; m++)
            IlgpuKernelTests.AssertClose(ReferenceTrainer.Train(config, train, modelBase + m), got.AsSpan(m * p, p), 1e-4f, $"model {m}");
    }

    [BackendFact]
    public void Cnn_ensemble_votes_equal_the_cpu_engines_across_chunks()
    {
        var train = ModelArchitectureTests.Images(16, 3, channels: 1, height: 6, width: 6);
        var inputs = ModelArchitectureTests.Images(4, 4, channels: 1, height: 6, width: 6);
        var model = ModelArchitecture.Resolve(FeatureShape.Image(1, 6, 6), ModelArchitecture.Parse("conv:2:3,relu,maxpool,flatten"), 2);
        var config = new EnsembleConfig(model, new TrainingOptions(2, 8, 0.05f, 0.9f, 5e-4f), 0.1f, 3);
        using var backend = CreateBackend(maxModelsPerChunk: 2);
        var got = new VoteCounts(inputs.Count, 2);
        backend.Run(config, train, inputs, 1, 4, got);
        using var cpu = new NativeCert.Engine.Cpu.CpuEnsembleBackend(threads: 1);
        var want = new VoteCounts(inputs.Count, 2);
        cpu.Run(config, train, inputs, 1, 4, want);
        Assert.Equal(want.Counts, got.Counts);
    }
}

/// <summary>The image-layer kernel tests on ILGPU's CPU accelerator: runs everywhere, including CI.</summary>
public sealed class IlgpuCpuConvKernelTests : IlgpuConvKernelTests
{
    protected override Context CreateContext() => IlgpuDevices.CreateCpuContext();
    protected override Accelerator CreateAccelerator(Context context) => IlgpuDevices.CpuDevice.CreateAccelerator(context);
    private protected override IEnsembleBackend CreateBackend(int? maxModelsPerChunk) => IlgpuEnsembleBackend.CreateCpuAccelerator(maxModelsPerChunk);
}

/// <summary>The image-layer kernel tests on the first CUDA GPU; each reports itself skipped where there is none.</summary>
public sealed class IlgpuCudaConvKernelTests : IlgpuConvKernelTests, IRequiresCudaDevice
{
    protected override Context CreateContext() => IlgpuDevices.CreateCudaContext();
    protected override Accelerator CreateAccelerator(Context context) => context.GetCudaDevices()[0].CreateAccelerator(context);
    private protected override IEnsembleBackend CreateBackend(int? maxModelsPerChunk) => IlgpuEnsembleBackend.CreateCuda(maxModelsPerChunk);
}

using ILGPU;
using ILGPU.Runtime;
using NativeCert.Kernels.Device;
using NativeCert.Noise;
using GemmLauncher = System.Action<ILGPU.KernelConfig, ILGPU.ArrayView<float>, NativeCert.Kernels.Device.MatrixLayout, ILGPU.ArrayView<float>, NativeCert.Kernels.Device.MatrixLayout, ILGPU.ArrayView<float>, NativeCert.Kernels.Device.MatrixLayout, NativeCert.Kernels.Device.GemmSize, NativeCert.Kernels.Device.GemmEpilogue, ILGPU.ArrayView<float>>;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// Every device kernel of the ensemble, loaded (compiled) once per accelerator. Auto-grouped kernels take their
/// thread extent first; the GEMM takes an explicit <see cref="KernelConfig"/> (see <see cref="GemmKernels.Config"/>).
/// </summary>
internal sealed class KernelSet
{
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int, int, int, float, ulong, uint> GatherNoisyTrainingRows { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float, ulong, uint> NoisyTestRows { get; }
    public Action<Index2D, ArrayView<float>, ArrayView<float>, int, ulong, uint> HeInit { get; }
    public Action<Index1D, ArrayView<int>, int, int, ulong, uint> Shuffle { get; }
    // Per-model training views (DPA partitions, bags): the gather, shuffle and loss of lockstep view training.
    internal Action<Index1D, ArrayView<float>, ArrayView<float>, ViewBatch, int, int, int, float, ulong, uint> GatherNoisyViewRows { get; }
    internal Action<Index1D, ArrayView<int>, ArrayView<int>, int, int, ulong, uint> ShuffleView { get; }
    internal Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, int, int, int> SoftmaxCrossEntropyView { get; }
    public Action<KernelConfig, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>> Gemm { get; }
    public Action<KernelConfig, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>> Gemm64x128 { get; }
    public Action<Index1D, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>> GemmThin { get; }
    // The 128×128 kernel per operand layout (A along k or along rows × B along k or along columns), compiled on first use.
    private readonly Lazy<GemmLauncher>[] _gemm128 = new Lazy<GemmLauncher>[4];
    /// <summary>dW = Xᵀ·dZ, db = Σ dZ and their SGD step in one launch (<see cref="Gemm128Kernels.BatchedWeightGradientSgdKernel"/>): the dense layers' backward.</summary>
    public Action<KernelConfig, ArrayView<float>, ArrayView<float>, MatrixLayout, long, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, SgdStep, StepMask> WeightGradientSgd => _weightGradientSgd.Value;
    private readonly Lazy<Action<KernelConfig, ArrayView<float>, ArrayView<float>, MatrixLayout, long, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, SgdStep, StepMask>> _weightGradientSgd;
    /// <summary>The fused 10-wide tail (<see cref="TailKernels.FusedTailKernel"/>): a model ending in ReLU → dense(≤ 32).</summary>
    public Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TailShape, SgdStep, StepMask> FusedTail => _fusedTail.Value;
    private readonly Lazy<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TailShape, SgdStep, StepMask>> _fusedTail;
    /// <summary>The fused tail over per-model training views (<see cref="TailKernels.FusedTailViewKernel"/>).</summary>
    internal Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, TailShape, SgdStep, StepMask> FusedTailView => _fusedTailView.Value;
    private readonly Lazy<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, TailShape, SgdStep, StepMask>> _fusedTailView;
    public Action<Index1D, ArrayView<float>, ArrayView<float>> ReluBackward { get; }
    public Action<Index1D, ArrayView<float>, long, int, ArrayView<float>, int, int, int> BiasGradient { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int, int, int, int> SoftmaxCrossEntropy { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float> SgdMomentum { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, SgdStep, StepMask> SgdMomentumRange { get; }
    public Action<Index1D, ArrayView<uint>, ArrayView<float>, int, int, int, int> ArgmaxVote { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, long, int, int, int, int> Conv2dForward { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int> Conv2dBackwardInput { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int> Conv2dBackwardWeight { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int> Conv2dBackwardBias { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ConvShape, int, int> MaxPool2dForward { get; }
    public Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int, int> MaxPool2dBackward { get; }
    public Action<Index1D, ArrayView<float>> ReluForward { get; }

    public KernelSet(Accelerator accelerator)
    {
        // Noise kernels need an FMA: inline PTX on CUDA, .NET's elsewhere (see IFusedMultiplyAdd).
        bool cuda = accelerator.AcceleratorType == AcceleratorType.Cuda;
        GatherNoisyTrainingRows = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int, int, int, float, ulong, uint>(
            cuda ? NoiseKernels.GatherNoisyTrainingRowsKernel<PtxFma> : NoiseKernels.GatherNoisyTrainingRowsKernel<DotNetFma>);
        NoisyTestRows = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int, float, ulong, uint>(
            cuda ? NoiseKernels.NoisyTestRowsKernel<PtxFma> : NoiseKernels.NoisyTestRowsKernel<DotNetFma>);
        HeInit = accelerator.LoadAutoGroupedStreamKernel<Index2D, ArrayView<float>, ArrayView<float>, int, ulong, uint>(
            cuda ? NoiseKernels.HeInitKernel<PtxFma> : NoiseKernels.HeInitKernel<DotNetFma>);
        Shuffle = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, int, int, ulong, uint>(NoiseKernels.ShuffleKernel);
        GatherNoisyViewRows = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ViewBatch, int, int, int, float, ulong, uint>(
            cuda ? NoiseKernels.GatherNoisyViewRowsKernel<PtxFma> : NoiseKernels.GatherNoisyViewRowsKernel<DotNetFma>);
        ShuffleView = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, int, int, ulong, uint>(NoiseKernels.ShuffleViewKernel);
        SoftmaxCrossEntropyView = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, int, int, int>(
            LossKernels.SoftmaxCrossEntropyViewKernel);
        Gemm = accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(GemmKernels.BatchedGemmKernel);
        Gemm64x128 = accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(GemmKernels.BatchedGemm64x128Kernel);
        _gemm128[0] = new(() => accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(Gemm128Kernels.BatchedGemm128x128Kernel<AlongK, AlongK>));
        _gemm128[1] = new(() => accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(Gemm128Kernels.BatchedGemm128x128Kernel<AlongK, AlongOutput>));
        _gemm128[2] = new(() => accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(Gemm128Kernels.BatchedGemm128x128Kernel<AlongOutput, AlongK>));
        _gemm128[3] = new(() => accelerator.LoadStreamKernel<ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(Gemm128Kernels.BatchedGemm128x128Kernel<AlongOutput, AlongOutput>));
        _weightGradientSgd = new(() => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, MatrixLayout, long, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, SgdStep, StepMask>(
            Gemm128Kernels.BatchedWeightGradientSgdKernel));
        _fusedTail = new(() => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TailShape, SgdStep, StepMask>(
            TailKernels.FusedTailKernel));
        _fusedTailView = new(() => accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, TailShape, SgdStep, StepMask>(
            TailKernels.FusedTailViewKernel));
        GemmThin = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, GemmEpilogue, ArrayView<float>>(GemmKernels.BatchedGemmThinKernel);
        ReluBackward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(ActivationKernels.ReluBackwardKernel);
        BiasGradient = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, long, int, ArrayView<float>, int, int, int>(ActivationKernels.BiasGradientKernel);
        SoftmaxCrossEntropy = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, int, int, int, int, int>(LossKernels.SoftmaxCrossEntropyKernel);
        SgdMomentum = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, float, float, float>(OptimizerKernels.SgdMomentumKernel);
        SgdMomentumRange = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, SgdStep, StepMask>(
            OptimizerKernels.SgdMomentumRangeKernel);
        ArgmaxVote = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<uint>, ArrayView<float>, int, int, int, int>(VoteKernels.ArgmaxVoteKernel);
        Conv2dForward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, long, int, int, int, int>(ConvKernels.Conv2dForwardKernel);
        Conv2dBackwardInput = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int>(ConvKernels.Conv2dBackwardInputKernel);
        Conv2dBackwardWeight = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int>(ConvKernels.Conv2dBackwardWeightKernel);
        Conv2dBackwardBias = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape, long, int, int, int>(ConvKernels.Conv2dBackwardBiasKernel);
        MaxPool2dForward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ConvShape, int, int>(ConvKernels.MaxPool2dForwardKernel);
        MaxPool2dBackward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ConvShape, int, int>(ConvKernels.MaxPool2dBackwardKernel);
        ReluForward = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(ConvKernels.ReluForwardKernel);
    }

    /// <summary>
    /// C_m = epilogue(A_m · B_m) for models 0 … models−1 on <paramref name="variant"/> (default: the one
    /// <see cref="GemmKernels.Choose"/> picks for the size).
    /// </summary>
    public void BatchedGemm(int models, ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a, MatrixLayout aLayout,
                            ArrayView<float> b, MatrixLayout bLayout, GemmSize size, GemmEpilogue epilogue, ArrayView<float> bias,
                            GemmKernels.Variant? variant = null)
    {
        switch (variant ?? GemmKernels.Choose(size))
        {
            case GemmKernels.Variant.Thin:
                GemmThin(new Index1D(checked(models * size.Rows * size.Cols)), c, cLayout, a, aLayout, b, bLayout, size, epilogue, bias);
                break;
            case GemmKernels.Variant.Tile64x64:
                Gemm(GemmKernels.Config(size, models), c, cLayout, a, aLayout, b, bLayout, size, epilogue, bias);
                break;
            case GemmKernels.Variant.Tile128x128:
            {
                // Which axis of each operand has unit stride picks the instantiation.
                bool aAlongK = aLayout.ColStride == 1, bAlongK = bLayout.RowStride == 1;
                if (!aAlongK && aLayout.RowStride != 1 || !bAlongK && bLayout.ColStride != 1)
                    throw new ArgumentException("the 128x128 GEMM needs a unit stride on one axis of each operand");
                _gemm128[(aAlongK ? 0 : 2) + (bAlongK ? 0 : 1)].Value(Gemm128Kernels.Config(size, models), c, cLayout, a, aLayout, b, bLayout, size, epilogue, bias);
                break;
            }
            default:
                Gemm64x128(GemmKernels.Config(GemmKernels.Variant.Tile64x128, size, models), c, cLayout, a, aLayout, b, bLayout, size, epilogue, bias);
                break;
        }
    }

    /// <summary>
    /// Every kernel method training launches, as CUDA loads it (generic noise kernels with <see cref="PtxFma"/>) and whether it is
    /// explicitly grouped, for PTX compilation checks.
    /// </summary>
    public static IReadOnlyList<(System.Reflection.MethodInfo Method, bool ExplicitlyGrouped)> AllKernels { get; } =
    [
        (Cuda(nameof(NoiseKernels.GatherNoisyTrainingRowsKernel)), false),
        (Cuda(nameof(NoiseKernels.NoisyTestRowsKernel)), false),
        (Cuda(nameof(NoiseKernels.HeInitKernel)), false),
        (Of(NoiseKernels.ShuffleKernel), false),
        (Cuda(nameof(NoiseKernels.GatherNoisyViewRowsKernel)), false),
        (Of(NoiseKernels.ShuffleViewKernel), false),
        (Of(LossKernels.SoftmaxCrossEntropyViewKernel), false),
        (Of(GemmKernels.BatchedGemmKernel), true),
        (Of(GemmKernels.BatchedGemm64x128Kernel), true),
        (Of(GemmKernels.BatchedGemmThinKernel), false),
        // The 128×128 instantiations a training step uses: forward X·W, dW = Xᵀ·dY, dX = dY·Wᵀ.
        (Of((GemmKernel)Gemm128Kernels.BatchedGemm128x128Kernel<AlongK, AlongOutput>), true),
        (Of((GemmKernel)Gemm128Kernels.BatchedGemm128x128Kernel<AlongOutput, AlongOutput>), true),
        (Of((GemmKernel)Gemm128Kernels.BatchedGemm128x128Kernel<AlongK, AlongK>), true),
        (((Action<ArrayView<float>, ArrayView<float>, MatrixLayout, long, ArrayView<float>, MatrixLayout, ArrayView<float>, MatrixLayout, GemmSize, SgdStep, StepMask>)
            Gemm128Kernels.BatchedWeightGradientSgdKernel).Method, true),
        (((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, TailShape, SgdStep, StepMask>)
            TailKernels.FusedTailKernel).Method, true),
        (((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ViewBatch, TailShape, SgdStep, StepMask>)
            TailKernels.FusedTailViewKernel).Method, true),
        (Of(ActivationKernels.ReluBackwardKernel), false),
        (Of(ActivationKernels.BiasGradientKernel), false),
        (Of(LossKernels.SoftmaxCrossEntropyKernel), false),
        (Of(OptimizerKernels.SgdMomentumKernel), false),
        (Of(OptimizerKernels.SgdMomentumRangeKernel), false),
        (Of(VoteKernels.ArgmaxVoteKernel), false),
        (Of(ConvKernels.Conv2dForwardKernel), false),
        (Of(ConvKernels.Conv2dBackwardInputKernel), false),
        (Of(ConvKernels.Conv2dBackwardWeightKernel), false),
        (Of(ConvKernels.Conv2dBackwardBiasKernel), false),
        (Of(ConvKernels.MaxPool2dForwardKernel), false),
        (Of(ConvKernels.MaxPool2dBackwardKernel), false),
        (Of(ConvKernels.ReluForwardKernel), false),
    ];

    private static System.Reflection.MethodInfo Of(Delegate d) => d.Method;

    /// <summary>An explicitly grouped GEMM kernel's signature.</summary>
    private delegate void GemmKernel(ArrayView<float> c, MatrixLayout cLayout, ArrayView<float> a, MatrixLayout aLayout, ArrayView<float> b,
                                     MatrixLayout bLayout, GemmSize size, GemmEpilogue epilogue, ArrayView<float> bias);

    private static System.Reflection.MethodInfo Cuda(string genericNoiseKernel) =>
        typeof(NoiseKernels).GetMethod(genericNoiseKernel, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(typeof(PtxFma));
}

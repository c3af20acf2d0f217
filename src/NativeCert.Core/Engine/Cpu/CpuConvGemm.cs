using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Convolution products fused with their im2col / col2im, for the shapes LeNet runs, where the general
/// <see cref="CpuGemm"/> path spends its time on the column buffer rather than on FMAs. Every kernel keeps the general
/// path's accumulation orders (docs/engine.md), so it computes the same bits; ConvLayerTests compares each with the
/// scalar branch and with the SIMD im2col path (<see cref="Disabled"/>). One file a direction:
/// <list type="bullet">
/// <item>CpuConvGemm.Forward.cs: the forward pass of 24-wide output rows (conv1: two rows are three vectors, the middle
/// one joining them) and of 8×8 outputs (conv2: 32 channels in the vector lanes, inputs broadcast from a packed image),
/// bias + ReLU in the epilogue;</item>
/// <item>CpuConvGemm.WeightGradient.cs: the weight gradient of 16 or 32 output channels, dWᵀ rows in registers, the
/// images read directly (im2col folded into the broadcasts), each element one FMA chain over (b, oy, ox);</item>
/// <item>CpuConvGemm.InputGradient.cs: the input gradient of 8×8 outputs, one image's column gradients in registers,
/// added into dX in (ci, ky, kx) order (col2im folded into the epilogue);</item>
/// <item>CpuConvGemm.PoolBackward.cs: dYᵀ of the first conv (through its 2×2 max pool and ReLU) from the pool's window
/// codes, window by window from register transposes, with its bias lane sums, on AVX-512 and AVX2;</item>
/// <item>CpuConvGemm.Avx2.cs: the forward, weight and input gradients on AVX2 (16 YMM registers).</item>
/// </list>
/// This file holds what they share and the dispatch (<see cref="TryForward"/>, <see cref="TryInputGradient"/>,
/// <see cref="WeightGradient"/>): which kernel takes which shape at which level; other shapes and levels run the
/// general path.
/// </summary>
[SkipLocalsInit]
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// When set, every conv this thread runs takes the general im2col + <see cref="CpuGemm"/> path (same bits): the
    /// 'before' side of `ab conv` and a cross-check in the tests. Per thread: a trainer plans its passes by which fused
    /// kernels exist (the pooled forward leaves out the conv's own output), so a switch flipped by another thread
    /// between its plan and its step would break the plan (a test flipping it beside an engine run did, now and then).
    /// </summary>
    [ThreadStatic] internal static bool Disabled;

    /// <summary>
    /// offsets[(ci·K + ky)·K + kx] = where column row (ci, ky, kx) reads, from the image pixel of output (oy, ox) (no
    /// padding): what im2col would have copied there.
    /// </summary>
    private static void ColumnOffsets(int* offsets, ImageStrides s, int CI, int W, int K)
    {
        for (int ci = 0; ci < CI; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) offsets[(ci * K + ky) * K + kx] = ci * s.Channel + ky * W + kx;
    }

    /// <summary>
    /// The level whose fused kernels run at <paramref name="isa"/>: AVX-512, AVX2 (with FMA), or Scalar when neither is
    /// there or <see cref="Disabled"/> is set (the general path then runs every conv).
    /// </summary>
    internal static IsaLevel FusedLevel(IsaLevel isa)
    {
        if (Disabled) return IsaLevel.Scalar;
        var level = CpuIsa.Clamp(isa);
        if (level >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated) return IsaLevel.Avx512;
        if (level >= IsaLevel.Avx2 && Vector256.IsHardwareAccelerated && Fma.IsSupported) return IsaLevel.Avx2;
        return IsaLevel.Scalar;
    }

    /// <summary>
    /// The forward pass of a conv with no padding by a fused kernel when one takes the shape at this level (8×8 outputs;
    /// 24-wide output rows with K = 5); false when none does and the caller runs the general path.
    /// </summary>
    public static bool TryForward(float* output, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W,
        int OH, int OW, int CO, int K, int P, bool relu, IsaLevel isa)
    {
        var level = FusedLevel(isa);
        if (level == IsaLevel.Scalar || P != 0) return false;
        bool avx512 = level == IsaLevel.Avx512;
        if (OH == 8 && OW == 8 && (avx512 || K == 5))
        {
            if (avx512) Forward8x8(output, input, s, weight, bias, B, CI, W, CO, K, relu);
            else Forward8x8Avx2(output, input, s, weight, bias, B, CI, CO, relu);
            return true;
        }
        if (OW == 24 && K == 5 && (!avx512 || OH % 2 == 0))
        {
            if (avx512) Forward24(output, input, s, weight, bias, B, CI, W, OH, CO, relu);
            else Forward24Avx2(output, input, s, weight, bias, B, CI, W, OH, CO, relu);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Whether <see cref="TryForwardPooled"/> takes this shape at this level: the 24-wide forward (K = 5, OH even, no
    /// padding) followed by a ReLU, on AVX-512 (pooled from the tile's registers) or AVX2 (from the row pair just stored).
    /// </summary>
    public static bool HasPooledForward(int OH, int OW, int K, int P, bool relu, IsaLevel isa) =>
        relu && FusedLevel(isa) != IsaLevel.Scalar && OW == 24 && K == 5 && P == 0 && OH % 2 == 0;

    /// <summary>
    /// <see cref="TryForward"/> and the 2×2 max pool of its output into <paramref name="pooled"/> <c>(CO, B, OH/2, OW/2)</c>
    /// in one pass, when <see cref="HasPooledForward"/>; false otherwise (the caller runs the two). <paramref name="codes"/>
    /// (or null) gets each window's <see cref="CpuConvKernels.PoolCode"/>; a null <paramref name="output"/> skips the
    /// conv's own output.
    /// </summary>
    public static bool TryForwardPooled(float* output, float* pooled, byte* codes, float* input, ImageStrides s, float* weight, float* bias, int B, int CI, int W,
        int OH, int OW, int CO, int K, int P, bool relu, IsaLevel isa)
    {
        if (!HasPooledForward(OH, OW, K, P, relu, isa)) return false;
        if (FusedLevel(isa) == IsaLevel.Avx512) Forward24(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, codes);
        else Forward24Avx2(output, input, s, weight, bias, B, CI, W, OH, CO, relu, pooled, codes);
        return true;
    }

    /// <summary>
    /// dinput = col2im(Wᵀ · dY) of a 5×5 conv with 8×8 outputs and no padding by a fused kernel when there is one at this
    /// level; false otherwise (the caller runs the general path).
    /// </summary>
    public static bool TryInputGradient(float* dinput, ImageStrides s, float* doutput, int N, float* weight, int B, int CI,
        int OH, int OW, int CO, int K, int P, IsaLevel isa)
    {
        var level = FusedLevel(isa);
        if (level == IsaLevel.Scalar || OH != 8 || OW != 8 || K != 5 || P != 0) return false;
        if (level == IsaLevel.Avx512) InputGradient8x8(dinput, s, doutput, N, weight, B, CI, CO);
        else InputGradient8x8Avx2(dinput, s, doutput, N, weight, B, CI, CO);
        return true;
    }

    /// <summary>Whether <see cref="WeightGradient"/> takes this shape at this level: AVX-512 with 16 or 32 output channels, AVX2 with a multiple of 16 and K = 5; no padding.</summary>
    public static bool HasWeightGradient(int CO, int K, int P, IsaLevel isa) => P == 0 && FusedLevel(isa) switch
    {
        IsaLevel.Avx512 => CO == 16 || CO == 32,
        IsaLevel.Avx2 => CO % 16 == 0 && K == 5,
        _ => false,
    };

    /// <summary>
    /// dWᵀ <c>(CI·K·K, CO)</c> (+)= the group's products, on the level <see cref="HasWeightGradient"/> chose: see
    /// <see cref="WeightGradient512"/> and <see cref="WeightGradientAvx2"/>.
    /// </summary>
    public static void WeightGradient(float* dwT, int CO, float* input, ImageStrides s, float* dyT, int nb, int CI, int W, int OH, int OW, int K,
        bool first, IsaLevel isa)
    {
        if (FusedLevel(isa) == IsaLevel.Avx512) WeightGradient512(dwT, CO, input, s, dyT, nb, CI, W, OH, OW, K, first);
        else WeightGradientAvx2(dwT, CO, input, s, dyT, nb, CI, W, OH, OW, first);
    }

    /// <summary><paramref name="rows"/> runs of <paramref name="n"/> floats from <paramref name="src"/> (runs <paramref name="srcStride"/> apart) to <paramref name="dst"/> (runs <paramref name="dstStride"/> apart): packing an image's planes into one block, or back.</summary>
    private static void CopyRows(float* dst, nint dstStride, float* src, nint srcStride, int rows, int n)
    {
        for (int r = 0; r < rows; r++) CpuConvKernels.Copy(dst + r * dstStride, src + r * srcStride, n);
    }

    /// <summary>
    /// A thread's scratch of at least <paramref name="floats"/> floats on a 64-byte boundary, kept in
    /// <paramref name="buffer"/> (a [ThreadStatic] field) for the thread's life: it grows, never shrinks, and goes with
    /// the thread (a pinned managed array, so the GC neither moves it nor keeps it after the worker exits; the engine
    /// starts new workers for every chunk). A vector load from a managed array as allocated, 16 bytes past a line,
    /// spans two lines.
    /// </summary>
    private static float* AlignedScratch(ref float[]? buffer, int floats)
    {
        if (buffer is null || buffer.Length < floats + 16) buffer = GC.AllocateUninitializedArray<float>(floats + 16, pinned: true);
        nint p = (nint)Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }

    /// <summary>Per-thread scratch shared by the kernels of both levels: an image's output gradient and its dX block.</summary>
    [ThreadStatic] private static float[]? t_dyImage, t_dxBlock;

    /// <summary>
    /// The weights <c>(CO, CKK)</c> packed per group of <paramref name="group"/> channels as <c>(CKK, group)</c>, into the
    /// thread's scratch <paramref name="buffer"/>: a k step's broadcasts then come from one pointer at constant offsets.
    /// A last group's channels past CO repeat channel CO − 1 (computed alongside, never stored).
    /// </summary>
    private static float* PackChannelGroups(ref float[]? buffer, float* weight, int CO, int CKK, int group)
    {
        int groups = (CO + group - 1) / group;
        float* packed = AlignedScratch(ref buffer, groups * CKK * group);
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < CKK; k++)
                for (int i = 0; i < group; i++) packed[((nint)g * CKK + k) * group + i] = weight[(nint)Math.Min(g * group + i, CO - 1) * CKK + k];
        return packed;
    }

    /// <summary>
    /// v where v &gt; 0, else +0 (−0, +0 and NaN give +0), as <c>ConditionalSelect(v &gt; 0, v, 0)</c> and
    /// CpuConvKernels.AddBias, in one instruction: vmaxps returns its second operand when the two compare equal or
    /// either is NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Relu(Vector512<float> v) => Avx512F.Max(v, Vector512<float>.Zero);
}

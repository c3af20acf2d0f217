using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// Convolution products fused with their im2col / col2im, for the shapes LeNet runs, where the general
/// <see cref="CpuGemm"/> path spends its time on the column buffer rather than on FMAs. Every kernel keeps the general
/// path's accumulation orders (docs/engine.md), so it computes the same bits; ConvLayerTests compares each with the
/// scalar branch and with the SIMD im2col path (<see cref="Enabled"/> = false). One file a direction:
/// <list type="bullet">
/// <item>CpuConvGemm.Forward.cs: the forward pass of 24-wide output rows (conv1: two rows are three vectors, the middle
/// one joining them) and of 8×8 outputs (conv2: 32 channels in the vector lanes, inputs broadcast from a packed image),
/// bias + ReLU in the epilogue;</item>
/// <item>CpuConvGemm.WeightGradient.cs: the weight gradient of 16 or 32 output channels, dWᵀ rows in registers, the
/// images read directly (im2col folded into the broadcasts), each element one FMA chain over (b, oy, ox);</item>
/// <item>CpuConvGemm.InputGradient.cs: the input gradient of 8×8 outputs, one image's column gradients in registers,
/// added into dX in (ci, ky, kx) order (col2im folded into the epilogue);</item>
/// <item>CpuConvGemm.Avx2.cs: the same four on AVX2 (16 YMM registers).</item>
/// </list>
/// This file holds what they share. The AVX-512 kernels need AVX-512; other levels and shapes run the general path.
/// </summary>
[SkipLocalsInit]
internal static unsafe partial class CpuConvGemm
{
    /// <summary>
    /// When false, every conv runs the general im2col + <see cref="CpuGemm"/> path (same bits): the 'before' side of
    /// `ab conv` and a cross-check in the tests. A knob, like <see cref="CpuConvKernels.ChunkFloats"/>.
    /// </summary>
    internal static bool Enabled = true;

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

    /// <summary>Whether <see cref="Forward8x8"/> and <see cref="InputGradient8x8"/> run this shape at this ISA level (AVX-512, 8×8 outputs, no padding).</summary>
    public static bool Has8x8(int OH, int OW, int P, IsaLevel isa) =>
        Enabled && OH == 8 && OW == 8 && P == 0 && CpuIsa.Clamp(isa) >= IsaLevel.Avx512 && Vector512.IsHardwareAccelerated;

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* dst, float* src, int n)
    {
        int i = 0;
        for (; i + 16 <= n; i += 16) Vector512.Load(src + i).Store(dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>
    /// v where v &gt; 0, else +0 (−0, +0 and NaN give +0), as <c>ConditionalSelect(v &gt; 0, v, 0)</c> and
    /// CpuConvKernels.AddBias, in one instruction: vmaxps returns its second operand when the two compare equal or
    /// either is NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Relu(Vector512<float> v) => Avx512F.Max(v, Vector512<float>.Zero);

    /// <summary>48 outputs at <paramref name="y"/> = ReLU?(v + bias) (0 unless the sum is &gt; 0, as CpuConvKernels.AddBias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store3(float* y, float bias, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, bool relu)
    {
        var b = Vector512.Create(bias);
        var z = Vector512<float>.Zero;
        v0 += b; v1 += b; v2 += b;
        if (relu)
        {
            v0 = Relu(v0);
            v1 = Relu(v1);
            v2 = Relu(v2);
        }
        v0.Store(y); v1.Store(y + 16); v2.Store(y + 32);
    }
}

using ILGPU.Runtime.Cuda;
using NativeCert.Kernels.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// Every kernel compiles to PTX with ILGPU's PTX backend configured for sm_90 (H100) and PTX ISA 8.3; no GPU needed.
/// This is what proves in CI that the kernels compile for the GPU.
/// </summary>
public sealed class PtxCompilationTests
{
    /// <summary>Training's kernels and the test-only check kernels.</summary>
    private static readonly IReadOnlyList<(System.Reflection.MethodInfo Method, bool ExplicitlyGrouped)> AllKernels =
        [.. KernelSet.AllKernels, .. NativeCert.Kernels.Checks.NoiseCheckKernelSet.AllKernels];

    public static TheoryData<string> KernelNames()
    {
        var data = new TheoryData<string>();
        foreach (var (method, _) in AllKernels) data.Add(NameOf(method));
        return data;
    }

    /// <summary>The method name, with its type arguments other than the FMA provider (the 128×128 GEMM's layouts).</summary>
    internal static string NameOf(System.Reflection.MethodInfo m) =>
        m.IsGenericMethod && m.GetGenericArguments().Any(t => t.Namespace == "NativeCert.Kernels.Device" && t.Name.StartsWith("Along", StringComparison.Ordinal))
            ? $"{m.Name}<{string.Join(",", m.GetGenericArguments().Select(t => t.Name))}>"
            : m.Name;

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_compiles_to_ptx_for_sm90(string name)
    {
        var (method, explicitlyGrouped) = AllKernels.Single(k => NameOf(k.Method) == name);
        using var context = IlgpuDevices.CreateCudaContext();
        string ptx = IlgpuDevices.CompileToPtx(context, method, explicitlyGrouped, CudaArchitecture.SM_90, CudaInstructionSet.ISA_83);
        // PTX ISA 8.3 is what CUDA 12.3+ drivers JIT for sm_90. ILGPU 1.5.3 writes ".target sm_80" even for an SM_90
        // backend; sm_80 PTX is forward compatible and the driver compiles it for the H100's sm_90.
        Assert.Contains(".version 8.3", ptx);
        Assert.Matches(@"\.target sm_[89]0", ptx);
        Assert.Contains(".visible .entry Kernel_" + method.Name, ptx);
        // Self-contained: no call to an external function the driver would fail to link (e.g. MathF.FusedMultiplyAdd,
        // which ILGPU 1.5.3 does not lower; the noise kernels use inline fma.rn.f32 instead).
        Assert.DoesNotContain(".extern", ptx);
        Assert.DoesNotContain("call", ptx);
        if (name is "GaussianRowsKernel" or "GatherNoisyTrainingRowsKernel" or "GatherNoisyViewRowsKernel" or "NoisyTestRowsKernel" or "HeInitKernel" or "TransformWordsKernel")
        {
            // The noise is the CPU engine's polynomial Box–Muller: correctly rounded fma/sqrt, no sin/cos/lg2.approx.
            Assert.Contains("fma.rn.f32", ptx);
            Assert.Contains("sqrt.rn.f32", ptx);
            // u1 = ((float)x0 + 1)·2⁻³²: C#'s (float)uint is IL conv.r.un + conv.r4, which ILGPU lowers to
            // cvt.rn.f64.u32 (exact: every uint is a double) then cvt.rn.f32.f64 (one rounding to nearest even): the
            // correctly rounded conversion, bit-identical to the CPU cast. Either that pair or one cvt.rn.f32.u32.
            Assert.True(ptx.Contains("cvt.rn.f32.u32") || (ptx.Contains("cvt.rn.f64.u32") && ptx.Contains("cvt.rn.f32.f64")),
                "the uint → float conversion of u1 is not a round-to-nearest cvt");
            Assert.DoesNotContain("cvt.rz.", ptx);
            Assert.DoesNotContain(".approx", ptx);
        }
        if (explicitlyGrouped)
        {
            if (name.Contains("Gemm", StringComparison.Ordinal)) Assert.Contains(".shared", ptx); // the tiled GEMMs stage tiles in shared memory
            Assert.Contains("bar.sync", ptx);
            Assert.DoesNotContain(".local", ptx); // the accumulators stay in registers
            Assert.DoesNotContain("brx.idx", ptx); // the epilogue picks no accumulator by a run-time index
        }
        if (name.StartsWith("BatchedGemm128x128Kernel", StringComparison.Ordinal))
        {
            Assert.Contains("ld.shared.v4.f32", ptx); // 16-byte shared loads in the inner loop
            Assert.Contains("ld.v4.f32", ptx);        // 16-byte global loads of the tiles
            Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(ptx, @"bar\.sync").Count); // one per k-step, plus the first tile's
        }
    }

    [Fact]
    public void Test_only_noise_kernels_are_compiled_into_the_check_harness_not_the_shipped_kernels()
    {
        var shipped = typeof(KernelSet).Assembly;
        Assert.NotEqual(shipped, typeof(NativeCert.Kernels.Checks.NoiseCheckKernelSet).Assembly);
        Assert.DoesNotContain(shipped.GetTypes(), t => t.Namespace == "NativeCert.Kernels.Checks");
        Assert.DoesNotContain(KernelSet.AllKernels, k => k.Method.Name is "UniformBitsKernel" or "GaussianRowsKernel" or "TransformWordsKernel");
        Assert.Contains(NativeCert.Kernels.Checks.NoiseCheckKernelSet.AllKernels, k => k.Method.Name == "UniformBitsKernel");
    }
}

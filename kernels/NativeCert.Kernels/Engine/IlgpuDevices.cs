using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace NativeCert.Kernels.Engine;

/// <summary>Creates ILGPU contexts and accelerators for the ensemble backends.</summary>
internal static class IlgpuDevices
{
    /// <summary>
    /// A CPU accelerator whose groups hold 256 threads (8 warps of 32), the size of a GEMM group; ILGPU's default
    /// CPU device allows only 16 threads per group. It runs kernels correctly but about 1000× slower than plain C#.
    /// </summary>
    public static CPUDevice CpuDevice { get; } = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    /// <summary>A context holding only the 256-thread CPU device.</summary>
    public static Context CreateCpuContext() => Context.Create(b => b.CPU(CpuDevice).EnableAlgorithms().Math(MathMode.Default));

    /// <summary>
    /// A context with every CUDA device ILGPU finds (none when there is no driver: ask <see cref="CudaDriver.Probe()"/>
    /// why). Installs the <c>libcuda.so.1</c> resolver first (see <see cref="CudaDriver"/>).
    /// </summary>
    public static Context CreateCudaContext()
    {
        CudaDriver.EnsureResolver();
        return Context.Create(b => b.Cuda().EnableAlgorithms().Math(MathMode.Default));
    }

    /// <summary>Bytes a chunk of models may use on <paramref name="accelerator"/>: 90% of free device memory.</summary>
    public static long UsableMemoryBytes(Accelerator accelerator)
    {
        long free = accelerator switch
        {
            CudaAccelerator cuda => cuda.GetFreeMemory(),
            _ => Math.Min(accelerator.MemorySize, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes),
        };
        return (long)(free * 0.9);
    }

    /// <summary>
    /// FP32 (non-tensor) peak in GFLOP/s: SMs × FP32 lanes per SM × 2 (FMA) × clock; 0 for a non-CUDA accelerator.
    /// Lanes: 64 on sm_60, sm_7x and sm_80; 128 on sm_61/62, sm_86/89, sm_90 and later.
    /// </summary>
    public static double PeakFp32Gflops(Accelerator accelerator)
    {
        if (accelerator is not CudaAccelerator cuda) return 0;
        int major = cuda.Architecture.Major, minor = cuda.Architecture.Minor;
        int lanes = (major, minor) switch
        {
            (8, 0) or (7, _) or (6, 0) => 64,
            _ => 128,
        };
        return cuda.NumMultiprocessors * (double)lanes * 2.0 * cuda.ClockRate * 1e3 / 1e9; // ClockRate in kHz
    }

    /// <summary>
    /// Compiles <paramref name="kernel"/> to PTX for <paramref name="architecture"/> without any GPU present and
    /// returns the PTX assembly. Throws when ILGPU cannot compile the kernel for that target.
    /// </summary>
    public static string CompileToPtx(Context context, System.Reflection.MethodInfo kernel, bool explicitlyGrouped,
                                      CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
        var entry = explicitlyGrouped
            ? ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(kernel)
            : ILGPU.Backends.EntryPoints.EntryPointDescription.FromImplicitlyGroupedKernel(kernel);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
        return compiled.PTXAssembly;
    }
}

using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace NativeCert.Kernels.Engine;

/// <summary>Creates ILGPU contexts and accelerators for the ensemble backends.</summary>
public static class IlgpuDevices
{
    /// <summary>
    /// A CPU accelerator whose groups hold 256 threads (8 warps of 32), the size of a GEMM group; ILGPU's default
    /// CPU device allows only 16 threads per group. It runs kernels correctly but about 1000× slower than plain C#.
    /// </summary>
    public static CPUDevice CpuDevice { get; } = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    /// <summary>A context holding only the 256-thread CPU device.</summary>
    public static Context CreateCpuContext() => Context.Create(b => b.CPU(CpuDevice).EnableAlgorithms().Math(MathMode.Default));

    /// <summary>A context with every CUDA device ILGPU finds (none when there is no driver).</summary>
    public static Context CreateCudaContext() => Context.Create(b => b.Cuda().EnableAlgorithms().Math(MathMode.Default));

    /// <summary>Number of CUDA devices visible, 0 when there is no driver or no device (never throws).</summary>
    public static int CudaDeviceCount()
    {
        try
        {
            using var context = CreateCudaContext();
            return context.GetCudaDevices().Count;
        }
        catch (Exception)
        {
            return 0;
        }
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

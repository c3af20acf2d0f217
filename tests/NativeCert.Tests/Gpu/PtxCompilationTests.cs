using ILGPU.Runtime.Cuda;
using NativeCert.Kernels.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>Every kernel compiles to PTX for sm_90 (H100) with ILGPU's PTX backend; no GPU needed.</summary>
public sealed class PtxCompilationTests
{
    public static TheoryData<string> KernelNames()
    {
        var data = new TheoryData<string>();
        foreach (var (method, _) in KernelSet.AllKernels) data.Add(method.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelNames))]
    public void Kernel_compiles_to_ptx_for_sm90(string name)
    {
        var (method, explicitlyGrouped) = KernelSet.AllKernels.Single(k => k.Method.Name == name);
        using var context = IlgpuDevices.CreateCudaContext();
        string ptx = IlgpuDevices.CompileToPtx(context, method, explicitlyGrouped, CudaArchitecture.SM_90, CudaInstructionSet.ISA_83);
        File.WriteAllText(Path.Combine(Path.GetTempPath(), "nc-" + name + ".ptx"), ptx);
        Assert.Contains(".target sm_90", ptx);
        Assert.Contains(".entry", ptx);
        if (explicitlyGrouped)
        {
            Assert.Contains(".shared", ptx);
            Assert.Contains("bar.sync", ptx);
        }
    }
}

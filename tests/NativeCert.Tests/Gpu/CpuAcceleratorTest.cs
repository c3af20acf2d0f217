using ILGPU;
using ILGPU.Runtime;
using NativeCert.Kernels.Engine;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// A test class on ILGPU's CPU accelerator: xunit makes a new instance per test, hence a fresh Context (a failed compile
/// poisons a Context) with the kernels loaded once.
/// </summary>
public abstract class CpuAcceleratorTest : IDisposable
{
    private readonly Context _context = IlgpuDevices.CreateCpuContext();
    protected Accelerator Accelerator { get; }
    private protected KernelSet Kernels { get; }

    protected CpuAcceleratorTest()
    {
        Accelerator = IlgpuDevices.CpuDevice.CreateAccelerator(_context);
        Kernels = new KernelSet(Accelerator);
    }

    public void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
        GC.SuppressFinalize(this);
    }
}

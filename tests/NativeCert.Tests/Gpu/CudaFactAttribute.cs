using NativeCert.Kernels.Engine;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NativeCert.Tests.Gpu;

/// <summary>Whether this machine has a CUDA device, asked once per test run.</summary>
internal static class CudaAvailability
{
    private static readonly Lazy<CudaProbe> Probe = new(CudaDriver.Probe);
    public static bool HasDevice => Probe.Value.Usable;
    public static string SkipReason => "no CUDA device on this machine: " + Probe.Value.Failure;
}

/// <summary>A fact that runs only where a CUDA device is present and otherwise reports itself skipped.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaAvailability.HasDevice) Skip = CudaAvailability.SkipReason;
    }
}

/// <summary>Marks a test class whose tests need a CUDA device (the CUDA subclass of a backend-generic test class).</summary>
public interface IRequiresCudaDevice;

/// <summary>
/// A fact written once in an abstract backend test class and run by every subclass; in a subclass marked
/// <see cref="IRequiresCudaDevice"/> it reports itself skipped when there is no CUDA device.
/// </summary>
[XunitTestCaseDiscoverer("NativeCert.Tests.Gpu.BackendFactDiscoverer", "NativeCert.Tests")]
public sealed class BackendFactAttribute : FactAttribute;

public sealed class BackendFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        yield return new BackendTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
                                         discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod);
    }
}

public sealed class BackendTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public BackendTestCase() { }

    public BackendTestCase(IMessageSink sink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod method)
        : base(sink, display, options, method) { }

    protected override string GetSkipReason(IAttributeInfo factAttribute)
    {
        var type = TestMethod.TestClass.Class.ToRuntimeType();
        if (type is not null && typeof(IRequiresCudaDevice).IsAssignableFrom(type) && !CudaAvailability.HasDevice)
            return CudaAvailability.SkipReason;
        return base.GetSkipReason(factAttribute);
    }
}

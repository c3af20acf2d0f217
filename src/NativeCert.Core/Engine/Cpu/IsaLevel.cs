using System.Runtime.Intrinsics.X86;

namespace NativeCert.Engine.Cpu;

/// <summary>
/// The widest SIMD path a CPU kernel may take. Kernels take it as an argument (never a global switch), so tests
/// can run the AVX2 and scalar branches on an AVX-512 machine, in parallel, to exercise every branch and tail.
/// </summary>
internal enum IsaLevel
{
    /// <summary>Plain C# loops (float accumulation): the fallback on any CPU.</summary>
    Scalar = 0,
    /// <summary>Vector256 with FMA (AVX2 + FMA3).</summary>
    Avx2 = 1,
    /// <summary>Vector512 with FMA (AVX-512 F, VL and BW: the fused conv kernels load and store bytes under masks).</summary>
    Avx512 = 2,
}

/// <summary>What this CPU supports, detected once.</summary>
internal static class CpuIsa
{
    /// <summary>The widest level this process can run.</summary>
    public static readonly IsaLevel Best =
        Avx512F.IsSupported && Avx512F.VL.IsSupported && Avx512BW.VL.IsSupported ? IsaLevel.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? IsaLevel.Avx2
        : IsaLevel.Scalar;

    /// <summary>Clamps a requested level to what the CPU supports.</summary>
    public static IsaLevel Clamp(IsaLevel requested) => requested <= Best ? requested : Best;

    public static string Name(IsaLevel level) => level switch
    {
        IsaLevel.Avx512 => "AVX-512",
        IsaLevel.Avx2 => "AVX2",
        _ => "scalar",
    };

    /// <summary>CPU model name from /proc/cpuinfo (Linux), else the processor architecture.</summary>
    public static string ModelName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal))
                        return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}

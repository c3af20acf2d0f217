using System.Runtime.InteropServices;
using ILGPU.Runtime.Cuda;

namespace NativeCert.Kernels.Engine;

/// <summary>
/// What the CUDA driver says before ILGPU is asked: where <c>libcuda</c> was loaded from, its version, how many
/// devices it reports, and, when it is not usable, one line saying why.
/// </summary>
/// <param name="LibraryPath">The file the driver library was loaded from (null when none loaded).</param>
/// <param name="DriverVersion">CUDA driver API version, e.g. 13000 for CUDA 13.0; 0 when unknown.</param>
/// <param name="DeviceCount">Devices the driver reports; 0 when it could not be asked.</param>
/// <param name="Failure">Why CUDA is not usable (one line), or null when it is.</param>
internal sealed record CudaProbe(string? LibraryPath, int DriverVersion, int DeviceCount, string? Failure)
{
    public bool Usable => Failure is null && DeviceCount > 0;
}

/// <summary>The few driver calls the probe makes; an interface so that tests can fake a machine's driver.</summary>
internal interface ICudaDriverLibrary
{
    /// <summary>Loads the library file <paramref name="name"/>; false when it is not there or not loadable.</summary>
    bool TryLoad(string name, out nint handle);
    /// <summary>The path the loaded library came from, when the OS says.</summary>
    string? PathOf(nint handle, string name);
    /// <summary>cuInit(0); a CUresult.</summary>
    int Init(nint handle);
    /// <summary>cuDriverGetVersion; a CUresult.</summary>
    int DriverVersion(nint handle, out int version);
    /// <summary>cuDeviceGetCount; a CUresult.</summary>
    int DeviceCount(nint handle, out int count);
}

/// <summary>
/// Finds and asks the CUDA driver. ILGPU binds the driver as <c>[DllImport("cuda")]</c>, which the runtime resolves
/// only to the unversioned <c>libcuda.so</c> (a symlink that ships with the driver's development files, absent on a
/// bare machine where only <c>libcuda.so.1</c> exists); and when loading fails ILGPU quietly reports no devices.
/// So we install a resolver that falls back to <c>libcuda.so.1</c>, and probe the driver ourselves to say why CUDA
/// is unusable.
/// </summary>
internal static class CudaDriver
{
    /// <summary>The names tried, in order, for ILGPU's <c>cuda</c> import on Linux.</summary>
    public static IReadOnlyList<string> LinuxLibraryNames { get; } = ["libcuda.so", "libcuda.so.1"];

    private static readonly Lazy<bool> ResolverInstalled = new(InstallResolver);

    /// <summary>Makes ILGPU's <c>cuda</c> import load <c>libcuda.so.1</c> when <c>libcuda.so</c> is absent. Idempotent.</summary>
    public static void EnsureResolver() => _ = ResolverInstalled.Value;

    private static bool InstallResolver()
    {
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(CudaAccelerator).Assembly,
                (name, _, _) => Resolve(name, static n => NativeLibrary.TryLoad(n, out var h) ? h : 0));
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // someone in this process installed a resolver for ILGPU already; theirs stands
        }
    }

    /// <summary>
    /// The handle for ILGPU's import <paramref name="libraryName"/>: for <c>cuda</c> on Linux the first of
    /// <see cref="LinuxLibraryNames"/> that <paramref name="tryLoad"/> loads (0: not found, the runtime's default
    /// search follows); 0 for every other library.
    /// </summary>
    internal static nint Resolve(string libraryName, Func<string, nint> tryLoad)
    {
        if (libraryName != CudaAPI.LibNameLinux || !OperatingSystem.IsLinux()) return 0;
        foreach (string name in LinuxLibraryNames)
        {
            nint handle = tryLoad(name);
            if (handle != 0) return handle;
        }
        return 0;
    }

    /// <summary>Asks this machine's driver (see <see cref="CudaProbe"/>). Never throws.</summary>
    public static CudaProbe Probe() => Probe(new NativeCudaDriverLibrary(), OperatingSystem.IsWindows() ? ["nvcuda.dll"] : LinuxLibraryNames);

    internal static CudaProbe Probe(ICudaDriverLibrary driver, IReadOnlyList<string> names)
    {
        try
        {
            nint handle = 0;
            string? loaded = null;
            foreach (string name in names)
                if (driver.TryLoad(name, out handle)) { loaded = name; break; }
            if (loaded is null)
                return new CudaProbe(null, 0, 0,
                    $"no CUDA driver library: none of {string.Join(", ", names)} could be loaded (no NVIDIA driver on this machine, or not on the loader path)");
            string path = driver.PathOf(handle, loaded) ?? loaded;
            int version = driver.DriverVersion(handle, out int v) == 0 ? v : 0;
            int result = driver.Init(handle);
            if (result != 0)
                return new CudaProbe(path, version, 0, $"the CUDA driver ({path}) failed to initialise: cuInit returned {ErrorName(result)}");
            result = driver.DeviceCount(handle, out int count);
            if (result != 0)
                return new CudaProbe(path, version, 0, $"the CUDA driver ({path}) could not count devices: cuDeviceGetCount returned {ErrorName(result)}");
            if (count == 0)
                return new CudaProbe(path, version, 0, $"no CUDA device: the driver ({path}, version {FormatVersion(version)}) reports 0 devices");
            return new CudaProbe(path, version, count, null);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return new CudaProbe(null, 0, 0, $"the CUDA driver library is not usable: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}");
        }
    }

    /// <summary>13000 → "13.0".</summary>
    public static string FormatVersion(int version) => version <= 0 ? "unknown" : $"{version / 1000}.{version % 1000 / 10}";

    /// <summary>A CUresult as its name and number, for the codes a probe meets.</summary>
    internal static string ErrorName(int result) => result switch
    {
        1 => "CUDA_ERROR_INVALID_VALUE (1)",
        2 => "CUDA_ERROR_OUT_OF_MEMORY (2)",
        3 => "CUDA_ERROR_NOT_INITIALIZED (3)",
        4 => "CUDA_ERROR_DEINITIALIZED (4)",
        34 => "CUDA_ERROR_STUB_LIBRARY (34: the driver stub from the toolkit, not the real driver)",
        35 => "CUDA_ERROR_INSUFFICIENT_DRIVER (35)",
        46 => "CUDA_ERROR_DEVICES_UNAVAILABLE (46)",
        100 => "CUDA_ERROR_NO_DEVICE (100)",
        101 => "CUDA_ERROR_INVALID_DEVICE (101)",
        304 => "CUDA_ERROR_OPERATING_SYSTEM (304)",
        999 => "CUDA_ERROR_UNKNOWN (999)",
        _ => $"CUresult {result}",
    };

    /// <summary>The real driver through <see cref="NativeLibrary"/> and unmanaged function pointers.</summary>
    private sealed unsafe class NativeCudaDriverLibrary : ICudaDriverLibrary
    {
        public bool TryLoad(string name, out nint handle) => NativeLibrary.TryLoad(name, out handle);

        public string? PathOf(nint handle, string name)
        {
            // Linux: the mapping of the loaded library in this process.
            try
            {
                if (!File.Exists("/proc/self/maps")) return null;
                string stem = name.Split(".so")[0];
                foreach (string line in File.ReadLines("/proc/self/maps"))
                {
                    int at = line.IndexOf('/');
                    if (at < 0) continue;
                    string path = line[at..];
                    if (Path.GetFileName(path).StartsWith(stem + ".so", StringComparison.Ordinal)) return path;
                }
            }
            catch (IOException) { }
            return null;
        }

        public int Init(nint handle) => ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(handle, "cuInit"))(0);

        public int DriverVersion(nint handle, out int version)
        {
            int v = 0;
            int r = ((delegate* unmanaged<int*, int>)NativeLibrary.GetExport(handle, "cuDriverGetVersion"))(&v);
            version = v;
            return r;
        }

        public int DeviceCount(nint handle, out int count)
        {
            int n = 0;
            int r = ((delegate* unmanaged<int*, int>)NativeLibrary.GetExport(handle, "cuDeviceGetCount"))(&n);
            count = n;
            return r;
        }
    }
}

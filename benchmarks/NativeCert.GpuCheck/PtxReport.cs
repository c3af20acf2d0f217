using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ILGPU.Runtime.Cuda;
using NativeCert.Kernels.Checks;
using NativeCert.Kernels.Engine;

namespace NativeCert.GpuCheck;

/// <summary>
/// The PTX of every kernel (training's and the check kernels), compiled by ILGPU's PTX backend for sm_90 / ISA 8.3
/// with no GPU, written as DIR/NAME.ptx for <c>ptxas -arch=sm_90 -v</c>, with instruction counts from the text:
/// what a read of the PTX shows before any device time is spent (local-memory traffic, shared and global loads and
/// their width, FMAs, barriers, indirect branches, 64-bit multiplies, remainders).
/// </summary>
internal static partial class PtxReport
{
    public static JsonObject Write(string directory, TextWriter log)
    {
        Directory.CreateDirectory(directory);
        var kernels = new JsonObject();
        using var context = IlgpuDevices.CreateCudaContext();
        foreach (var (method, explicitlyGrouped) in KernelSet.AllKernels.Concat(NoiseCheckKernelSet.AllKernels))
        {
            string ptx = IlgpuDevices.CompileToPtx(context, method, explicitlyGrouped, CudaArchitecture.SM_90, CudaInstructionSet.ISA_83);
            string name = FileName(method);
            File.WriteAllText(Path.Combine(directory, name + ".ptx"), ptx);
            kernels[name] = Count(ptx);
            log.WriteLine($"ptx: {name} ({kernels[name]!["instructions"]} instructions)");
        }
        return new JsonObject { ["target"] = "sm_90 (ILGPU writes .target sm_80), PTX ISA 8.3", ["directory"] = directory, ["kernels"] = kernels };
    }

    /// <summary>The kernel's name, with the layout type arguments of the 128×128 GEMM (e.g. BatchedGemm128x128Kernel_AlongK_AlongOutput).</summary>
    public static string FileName(System.Reflection.MethodInfo m) =>
        m.IsGenericMethod && m.GetGenericArguments().All(t => t.Name.StartsWith("Along", StringComparison.Ordinal))
            ? m.Name + "_" + string.Join("_", m.GetGenericArguments().Select(t => t.Name))
            : m.Name;

    /// <summary>Instruction counts of one kernel's PTX text.</summary>
    public static JsonObject Count(string ptx)
    {
        var lines = ptx.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith("//", StringComparison.Ordinal)).ToArray();
        var instructions = lines.Where(l => !l.StartsWith('.') && !l.EndsWith(':') && l != "{" && l != "}" && !l.StartsWith(")", StringComparison.Ordinal)).ToArray();
        int Op(string prefix) => instructions.Count(l => Opcode(l).StartsWith(prefix, StringComparison.Ordinal));
        return new JsonObject
        {
            ["instructions"] = instructions.Length,
            ["local_depot_bytes"] = LocalDepot().Matches(ptx).Sum(m => int.Parse(m.Groups[1].Value)),
            ["ld_local"] = Op("ld.local"), ["st_local"] = Op("st.local"),
            ["ld_shared"] = Op("ld.shared"), ["ld_shared_v4"] = Op("ld.shared.v4"), ["st_shared"] = Op("st.shared"),
            ["ld_global"] = Op("ld.global") + instructions.Count(l => Opcode(l) is "ld.f32" or "ld.b32" or "ld.u32" or "ld.s32"),
            ["ld_global_v4"] = Op("ld.global.v4") + Op("ld.v4"),
            ["fma_f32"] = Op("fma.rn.f32"), ["mul_f32"] = Op("mul.f32") + Op("mul.rn.f32"), ["add_f32"] = Op("add.f32") + Op("add.rn.f32"),
            ["bar_sync"] = Op("bar.sync") + Op("barrier.sync"), ["brx_idx"] = Op("brx.idx"), ["branches"] = Op("bra"),
            ["mul_wide_or_64"] = Op("mul.wide") + Op("mul.lo.s64") + Op("mul.lo.u64"), ["rem"] = Op("rem."), ["div_int"] = Op("div.s") + Op("div.u"),
        };
    }

    private static string Opcode(string instruction)
    {
        string s = instruction.StartsWith('@') ? instruction[(instruction.IndexOf(' ') + 1)..].TrimStart() : instruction;
        int end = s.IndexOfAny([' ', '\t']);
        return end < 0 ? s.TrimEnd(';') : s[..end];
    }

    [GeneratedRegex(@"\.local\s+\.align\s+\d+\s+\.b8\s+\w+\[(\d+)\]")]
    private static partial Regex LocalDepot();
}

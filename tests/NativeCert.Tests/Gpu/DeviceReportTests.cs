using System.Text.Json.Nodes;
using NativeCert.GpuCheck;

namespace NativeCert.Tests.Gpu;

/// <summary>
/// The device check's report reads tool output that only a GPU machine produces; these pin its parsing on text in
/// the tools' formats (ptxas -v, cuobjdump -sass), so a device run's minutes are not lost to a parser bug.
/// </summary>
public sealed class DeviceReportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-report-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Ptxas = """
        ptxas info    : 0 bytes gmem
        ptxas info    : Compiling entry function 'Kernel_BatchedGemm64x128Kernel' for 'sm_90'
        ptxas info    : Function properties for Kernel_BatchedGemm64x128Kernel
            16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
        ptxas info    : Used 168 registers, used 1 barriers, 12416 bytes smem, 496 bytes cmem[0]
        """;

    private const string Sass = """
                code for sm_90
                        Function : Kernel_BatchedGemm64x128Kernel
                /*0000*/                   LDC R1, c[0x0][0x28] ;                          /* 0x00000a00ff017b82 */
                /*0010*/                   LDS.128 R8, [R2] ;                              /* 0x000fe20000000f00 */
                /*0020*/                   FFMA R4, R8, R12, R4 ;                          /* 0x000fe20000000004 */
                /*0030*/                   FFMA R5, R9, R12, R5 ;                          /* 0x000fe20000000005 */
                /*0040*/              @!P0 BRA 0x200 ;                                     /* 0x0000000000008947 */
                /*0050*/                   LDG.E.128 R16, desc[UR4][R6.64] ;               /* 0x000ea20008000000 */
                /*0060*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;                   /* 0x0000000000007b1d */
                /*0070*/                   STL [R1], R4 ;                                  /* 0x0000000401007387 */
        """;

    [Fact]
    public void Ptxas_report_gives_registers_stack_spills_and_shared_memory()
    {
        var o = DeviceReport.ParsePtxas(Ptxas);
        Assert.Equal(168, o["registers"]!.GetValue<int>());
        Assert.Equal(16, o["stack_frame_bytes"]!.GetValue<int>());
        Assert.Equal(8, o["spill_store_bytes"]!.GetValue<int>());
        Assert.Equal(12, o["spill_load_bytes"]!.GetValue<int>());
        Assert.Equal(12416, o["shared_bytes"]!.GetValue<int>());
        Assert.Null(o["error"]);
    }

    [Fact]
    public void Sass_mix_counts_ffma_share_vector_loads_and_local_traffic()
    {
        var o = DeviceReport.ParseSass(Sass);
        Assert.Equal(8, o["instructions"]!.GetValue<int>());
        Assert.Equal(2, o["ffma"]!.GetValue<int>());
        Assert.Equal(0.25, o["ffma_share"]!.GetValue<double>());
        Assert.Equal(1, o["lds_128"]!.GetValue<int>());
        Assert.Equal(1, o["ldg_128"]!.GetValue<int>());
        Assert.Equal(1, o["stl"]!.GetValue<int>());
        Assert.Equal(1, o["bar"]!.GetValue<int>());
    }

    [Fact]
    public void Report_gathers_stages_results_and_tool_output_and_fails_on_a_failed_or_timed_out_stage()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "parts"));
        Directory.CreateDirectory(Path.Combine(_dir, "static"));
        File.WriteAllText(Path.Combine(_dir, "stages.tsv"),
            "info\t0\t1.50\t\nptxas\t0\t0\tskipped: ptxas not found\ngemm\t124\t90.00\t\n");
        File.WriteAllText(Path.Combine(_dir, "parts", "info.json"), """{ "device": { "name": "NVIDIA H200" } }""");
        File.WriteAllText(Path.Combine(_dir, "parts", "bench-mlp.json"), "backend: cuda on NVIDIA H200\n{\"model_epochs_per_s\": 5000.5}\n");
        File.WriteAllText(Path.Combine(_dir, "parts", "nvidia-smi.txt"), "NVIDIA-SMI 580.00");
        File.WriteAllText(Path.Combine(_dir, "static", "BatchedGemm64x128Kernel.ptxas.txt"), Ptxas);
        File.WriteAllText(Path.Combine(_dir, "static", "BatchedGemm64x128Kernel.sass"), Sass);
        var report = DeviceReport.Build(_dir, new Options(["--mode", "device", "--elapsed", "312"]));
        Assert.Equal("device", report["mode"]!.GetValue<string>());
        Assert.Equal(312, report["elapsed_s"]!.GetValue<int>());
        var stages = report["stages"]!.AsArray().Select(s => (s!["stage"]!.GetValue<string>(), s["status"]!.GetValue<string>())).ToArray();
        Assert.Equal([("info", "ok"), ("ptxas", "skipped"), ("gemm", "timed out")], stages);
        Assert.False(report["all_stages_passed"]!.GetValue<bool>());
        Assert.Equal("NVIDIA H200", report["results"]!["info"]!["device"]!["name"]!.GetValue<string>());
        Assert.Equal(5000.5, report["results"]!["bench-mlp"]!["model_epochs_per_s"]!.GetValue<double>()); // progress line before the JSON
        Assert.Equal("NVIDIA-SMI 580.00", report["results"]!["nvidia-smi"]!.GetValue<string>());
        Assert.Equal(168, report["ptxas"]!["BatchedGemm64x128Kernel"]!["registers"]!.GetValue<int>());
        Assert.Equal(0.25, report["sass"]!["BatchedGemm64x128Kernel"]!["ffma_share"]!.GetValue<double>());
    }
}

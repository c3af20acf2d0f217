using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace NativeCert.GpuCheck;

/// <summary>
/// <c>report OUTDIR</c>: the one JSON of benchmarks/gpu/device-check.sh, from what its stages left in OUTDIR:
/// <c>stages.tsv</c> (name, exit code, seconds, note), <c>parts/NAME.json</c> (a stage's JSON) or
/// <c>parts/NAME.txt</c> (a tool's text), <c>static/*.ptxas.txt</c> (ptxas -v: registers, stack frame, spills,
/// shared memory) and <c>static/*.sass</c> (cuobjdump -sass: the instruction mix, FFMA share).
/// </summary>
internal static partial class DeviceReport
{
    public static JsonObject Build(string outDir, Options options)
    {
        var report = new JsonObject
        {
            ["mode"] = options.Value("--mode"),
            ["elapsed_s"] = int.TryParse(options.Value("--elapsed"), out int elapsed) ? elapsed : null,
            ["bundle"] = options.Value("--bundle"),
        };
        var stages = new JsonArray();
        string stagesFile = Path.Combine(outDir, "stages.tsv");
        bool allPassed = true;
        if (File.Exists(stagesFile))
            foreach (string line in File.ReadAllLines(stagesFile))
            {
                var f = line.Split('\t');
                if (f.Length < 3) continue;
                int rc = int.TryParse(f[1], out int r) ? r : -1;
                var stage = new JsonObject
                {
                    ["stage"] = f[0], ["exit_code"] = rc, ["seconds"] = double.TryParse(f[2], System.Globalization.CultureInfo.InvariantCulture, out double sec) ? Math.Round(sec, 2) : null,
                    ["status"] = f.Length > 3 && f[3].StartsWith("skipped", StringComparison.Ordinal) ? "skipped" : rc == 0 ? "ok" : rc == 124 ? "timed out" : "failed",
                    ["note"] = f.Length > 3 && f[3].Length > 0 ? f[3] : null,
                };
                if (stage["status"]!.GetValue<string>() is "failed" or "timed out") allPassed = false;
                stages.Add(stage);
            }
        report["stages"] = stages;

        var parts = new JsonObject();
        string partsDir = Path.Combine(outDir, "parts");
        if (Directory.Exists(partsDir))
            foreach (string file in Directory.GetFiles(partsDir).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileNameWithoutExtension(file);
                string text = File.ReadAllText(file);
                JsonNode? node = null;
                if (file.EndsWith(".json", StringComparison.Ordinal))
                {
                    try { node = JsonNode.Parse(LastJsonObject(text)); }
                    catch (JsonException) { node = null; }
                }
                parts[name] = node ?? JsonValue.Create(text.Length > 20000 ? text[..20000] + "\n[truncated]" : text);
            }
        report["results"] = parts;

        string staticDir = Path.Combine(outDir, "static");
        var ptxas = new JsonObject();
        var sass = new JsonObject();
        if (Directory.Exists(staticDir))
        {
            foreach (string file in Directory.GetFiles(staticDir, "*.ptxas.txt").Order(StringComparer.Ordinal))
                ptxas[Path.GetFileName(file)[..^".ptxas.txt".Length]] = ParsePtxas(File.ReadAllText(file));
            foreach (string file in Directory.GetFiles(staticDir, "*.sass").Order(StringComparer.Ordinal))
                sass[Path.GetFileNameWithoutExtension(file)] = ParseSass(File.ReadAllText(file));
        }
        report["ptxas"] = ptxas;
        report["sass"] = sass;
        report["all_stages_passed"] = allPassed;
        return report;
    }

    /// <summary>A stage may print progress before its JSON; take the text from the first '{' on a line of its own.</summary>
    private static string LastJsonObject(string text)
    {
        int at = text.StartsWith('{') ? 0 : text.IndexOf("\n{", StringComparison.Ordinal) + 1;
        return at >= 0 ? text[at..] : text;
    }

    /// <summary>ptxas -v: "Used N registers", "N bytes stack frame, N bytes spill stores, N bytes spill loads", "N bytes smem".</summary>
    public static JsonObject ParsePtxas(string text)
    {
        int? Num(Regex r) => r.Match(text) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;
        return new JsonObject
        {
            ["registers"] = Num(Registers()), ["stack_frame_bytes"] = Num(StackFrame()),
            ["spill_store_bytes"] = Num(SpillStores()), ["spill_load_bytes"] = Num(SpillLoads()),
            ["shared_bytes"] = Num(Smem()), ["error"] = text.Contains("error", StringComparison.OrdinalIgnoreCase) ? text.Trim() : null,
        };
    }

    /// <summary>cuobjdump -sass: instructions are the lines "/*0080*/  OPCODE ...;"; FFMA share of them, and of the float math.</summary>
    public static JsonObject ParseSass(string text)
    {
        var ops = SassInstruction().Matches(text).Select(m => m.Groups[1].Value).ToArray();
        int Count(string prefix) => ops.Count(o => o.StartsWith(prefix, StringComparison.Ordinal));
        int ffma = Count("FFMA"), lds = Count("LDS"), ldg = Count("LDG"), ldl = Count("LDL"), stl = Count("STL");
        return new JsonObject
        {
            ["instructions"] = ops.Length, ["ffma"] = ffma, ["ffma_share"] = ops.Length > 0 ? Math.Round((double)ffma / ops.Length, 4) : null,
            ["lds"] = lds, ["lds_128"] = ops.Count(o => o.StartsWith("LDS.128", StringComparison.Ordinal)), ["ldg"] = ldg,
            ["ldg_128"] = ops.Count(o => o.StartsWith("LDG.E.128", StringComparison.Ordinal)), ["ldl"] = ldl, ["stl"] = stl,
            ["bar"] = Count("BAR"), ["brx"] = Count("BRX"),
        };
    }

    [GeneratedRegex(@"Used (\d+) registers")] private static partial Regex Registers();
    [GeneratedRegex(@"(\d+) bytes stack frame")] private static partial Regex StackFrame();
    [GeneratedRegex(@"(\d+) bytes spill stores")] private static partial Regex SpillStores();
    [GeneratedRegex(@"(\d+) bytes spill loads")] private static partial Regex SpillLoads();
    [GeneratedRegex(@"(\d+) bytes smem")] private static partial Regex Smem();
    [GeneratedRegex(@"/\*[0-9a-f]{4,}\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)")] private static partial Regex SassInstruction();
}

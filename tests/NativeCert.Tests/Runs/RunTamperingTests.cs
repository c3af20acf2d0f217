using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Tests.Runs;

/// <summary>
/// Property: random byte flips, truncations and field edits of votes.bin and config.json of a small finished attack
/// run (Cohen, so every part of both files is in play). Every tampered run is refused by report (exit 2, one line,
/// no file changed) or reported identically; the one exception is an edit of the certification settings (α,
/// simultaneous, radii, trigger norms), which report honours and then shows: no reported number changes silently.
/// </summary>
public sealed class RunTamperingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nativecert-tamper-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (int Code, string Out, string Err) Cli(params string[] args) => ConfigIntegrityTests.Cli(args);

    /// <summary>The files report writes, compared byte for byte with the untampered run's.</summary>
    private static readonly string[] ReportFiles = ["summary.json", "summary.txt", "certificates.tsv", RunReport.TriggeredCertificatesFile, "votes.tsv"];

    private sealed record Pristine(Dictionary<string, byte[]> Files, byte[] Config, byte[] Votes);

    [Fact]
    public void TamperedRunsAreRefusedOrReportedIdentically()
    {
        string source = Path.Combine(_dir, "source");
        var (code, _, err) = Cli(["certify", .. ConfigIntegrityTests.Tiny, "--out", source, "--method", "cohen", "--n0", "4",
                                  "--attack", "patch", "--poison", "10", "--target", "1"]);
        Assert.True(code == 0, err);
        var run = new RunDirectory(source);
        var pristine = new Pristine(Directory.GetFiles(source).ToDictionary(f => Path.GetFileName(f)!, File.ReadAllBytes),
                                    File.ReadAllBytes(run.ConfigPath), File.ReadAllBytes(run.VotesPath));
        RunConfig originalConfig = RunConfig.Read(run.ConfigPath);
        var leaves = SpecJson.Leaves(JsonNode.Parse(pristine.Config)).Keys.ToArray();
        // Half the field edits hit what the hash leaves out (certification, execution, versions, backend), where an
        // edit may be accepted: that is where a silent change would hide.
        string[] unhashed = leaves.Where(l => !(l.StartsWith("spec.", StringComparison.Ordinal) && !l.StartsWith("spec.certification.", StringComparison.Ordinal))
                                              && !l.StartsWith("data.", StringComparison.Ordinal) && !l.StartsWith("attack.", StringComparison.Ordinal)
                                              && !l.StartsWith("vote_field_digests.", StringComparison.Ordinal)
                                              && l is not ("config_hash" or "format")).ToArray();

        var random = new Random(20261201);
        int refused = 0, identical = 0, honoured = 0;
        // First the edits report must accept, then random ones.
        (string Path, JsonNode? Value)[] accepted =
        [
            ("spec.certification.alpha", 0.01), ("spec.certification.simultaneous", true), ("spec.certification.radii", new JsonArray(0, 0.1)),
            ("spec.certification.trigger_norms", new JsonArray(0.3)), ("execution.threads", 7), ("execution.backend", "cpu"),
            ("created_utc", "yesterday"), ("backend.device", "elsewhere"),
        ];
        for (int trial = 0; trial < accepted.Length + 160; trial++)
        {
            Restore(run, pristine);
            string what;
            bool onConfig = trial < accepted.Length || trial % 2 == 0;
            byte[] bytes = onConfig ? pristine.Config : pristine.Votes;
            switch (trial < accepted.Length ? -1 : random.Next(onConfig ? 4 : 3))
            {
                case -1:
                    var (path, value) = accepted[trial];
                    (bytes, what) = SetField(pristine.Config, path, value);
                    break;
                case 0:
                    bytes = (byte[])bytes.Clone();
                    int flips = 1 + random.Next(3);
                    for (int k = 0; k < flips; k++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    what = $"{flips} bit flips";
                    break;
                case 1:
                    bytes = bytes[..random.Next(bytes.Length)];
                    what = $"truncated to {bytes.Length} bytes";
                    break;
                case 2:
                    bytes = [.. bytes, (byte)random.Next(256)];
                    what = "one byte appended";
                    break;
                default:
                    string[] pool = random.Next(2) == 0 ? leaves : unhashed;
                    (bytes, what) = EditField(pristine.Config, pool[random.Next(pool.Length)], random);
                    break;
            }
            File.WriteAllBytes(onConfig ? run.ConfigPath : run.VotesPath, bytes);
            string context = $"trial {trial}: {(onConfig ? "config.json" : "votes.bin")} {what}";
            var before = ConfigIntegrityTests.Snapshot(run);

            (code, _, err) = Cli("report", "--run", source);
            if (code != 0)
            {
                Assert.True(code == 2, $"{context}: exit {code}: {err}");
                Assert.True(err.Trim().Split('\n').Length == 1, $"{context}: {err}");
                Assert.Equal(before, ConfigIntegrityTests.Snapshot(run));
                refused++;
                continue;
            }
            RunConfig edited = RunConfig.Read(run.ConfigPath);
            if (JsonSerializer.Serialize(edited.Spec.Certification) == JsonSerializer.Serialize(originalConfig.Spec.Certification))
            {
                foreach (string f in ReportFiles)
                    Assert.True(pristine.Files[f].AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(source, f))), $"{context}: {f} changed");
                identical++;
            }
            else
            {
                // Honoured: the summary states the certification settings it used.
                using var summary = JsonDocument.Parse(File.ReadAllText(run.SummaryPath));
                var root = summary.RootElement;
                var c = edited.Spec.Certification;
                Assert.Equal(c.Alpha, root.GetProperty("alpha").GetDouble());
                Assert.Equal(c.Simultaneous, root.GetProperty("simultaneous").GetBoolean());
                Assert.Equal(c.Radii.Count == 0 ? [0, 0.25, 0.5, 0.75, 1] : c.Radii.ToArray(),
                             root.GetProperty("certified_accuracy").EnumerateArray().Select(r => r.GetProperty("radius").GetDouble()).ToArray());
                var norms = root.GetProperty("poison_curves").EnumerateArray().Select(p => p.GetProperty("trigger_norm").GetDouble()).ToHashSet();
                Assert.True(c.TriggerNorms.All(norms.Contains), $"{context}: trigger norms");
                Assert.Contains(SpecJson.Text(c.Alpha), File.ReadAllText(run.SummaryTextPath));
                honoured++;
            }
        }
        // The trials must exercise both outcomes, or the property says little.
        Assert.True(refused > 40 && identical >= 5 && honoured >= 4, $"refused {refused}, identical {identical}, honoured {honoured}");
    }

    private static void Restore(RunDirectory run, Pristine pristine)
    {
        foreach (string f in Directory.GetFiles(run.Root)) if (Path.GetFileName(f) != ".lock") File.Delete(f);
        foreach (var (name, bytes) in pristine.Files) File.WriteAllBytes(Path.Combine(run.Root, name), bytes);
    }

    private static (byte[], string) SetField(byte[] config, string path, JsonNode? value)
    {
        JsonNode root = JsonNode.Parse(config)!;
        string[] parts = path.Split('.');
        JsonNode parent = root;
        foreach (string part in parts[..^1]) parent = parent[part]!;
        parent[parts[^1]] = value;
        return (System.Text.Encoding.UTF8.GetBytes(root.ToJsonString()), $"{path} = {value?.ToJsonString() ?? "null"}");
    }

    /// <summary>config.json with the field at <paramref name="path"/> removed, nulled or changed to another value of its kind.</summary>
    private static (byte[], string) EditField(byte[] config, string path, Random random)
    {
        JsonNode root = JsonNode.Parse(config)!;
        string[] parts = path.Split('.');
        // vote_field_digests keys hold dots themselves: edit the map's entry by its whole key.
        JsonObject parent = root.AsObject();
        int i = 0;
        for (; i < parts.Length - 1; i++)
        {
            if (parent[parts[i]] is not JsonObject child) break;
            if (parts[i] == "vote_field_digests") { i++; break; }
            parent = child;
        }
        string key = string.Join('.', parts[i..]);
        if (parent[key] is null && !parent.ContainsKey(key)) { parent = root.AsObject(); key = parts[0]; }
        JsonNode? value = parent[key];
        string what;
        switch (random.Next(5))
        {
            case 0:
                parent.Remove(key);
                what = $"{path} removed";
                break;
            case 1:
                parent[key] = null;
                what = $"{path} = null";
                break;
            default:
                JsonNode? changed = Changed(value, random);
                what = $"{path} = {changed?.ToJsonString() ?? "null"} (was {value?.ToJsonString() ?? "null"})";
                parent[key] = changed;
                break;
        }
        return (System.Text.Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true })), what);
    }

    private static JsonNode? Changed(JsonNode? value, Random random)
    {
        switch (value)
        {
            case JsonArray array when array.Count > 0:
                var copy = JsonNode.Parse(array.ToJsonString())!.AsArray();
                int k = random.Next(copy.Count);
                copy[k] = Changed(copy[k], random);
                return copy;
            case JsonArray:
                return new JsonArray(1);
            case JsonValue v when v.GetValueKind() == JsonValueKind.Number:
                double d = double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture);
                double[] candidates = [d + 1, d - 1, d * 2, d / 3, 0.001, -d, 1e9];
                double pick = candidates[random.Next(candidates.Length)];
                return pick == Math.Floor(pick) && Math.Abs(pick) < 1e15 ? JsonValue.Create((long)pick) : JsonValue.Create(pick);
            case JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False:
                return JsonValue.Create(v.GetValueKind() == JsonValueKind.False);
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                string s = v.GetValue<string>();
                string[] options = [s + "x", s.Length > 1 ? s[1..] : "y", "fashion-mnist", "clean", "cohen", "0:5", ""];
                return JsonValue.Create(options[random.Next(options.Length)]);
            default:
                return JsonValue.Create(random.Next(10));
        }
    }
}

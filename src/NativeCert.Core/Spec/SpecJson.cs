using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace NativeCert.Spec;

/// <summary>
/// The canonical JSON of specs and run files: snake_case names in declaration order, every field written (nulls
/// too), floats as their shortest round-trip text. Reading is strict: unknown fields are refused.
/// </summary>
internal static class SpecJson
{
    /// <summary>Indented, for files people read (config.json, summary.json).</summary>
    public static readonly JsonSerializerOptions Options = Create(indented: true);
    /// <summary>One line, for hashing.</summary>
    public static readonly JsonSerializerOptions Compact = Create(indented: false);
    /// <summary>For reading: unknown fields pass here and are named by <see cref="ReadExact"/>'s comparison.</summary>
    private static readonly JsonSerializerOptions Reading = new(Create(indented: false)) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip };

    private static JsonSerializerOptions Create(bool indented) => new()
    {
        WriteIndented = indented,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Canonical invariant text of a value, as messages show it (shortest round-trip floats, lists comma-separated).</summary>
    public static string Text(object? value) => value switch
    {
        null => "(unset)",
        string s => s.Length == 0 ? "(empty)" : s,
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable e => string.Join(",", e.Cast<object?>().Select(Text)),
        _ => value.ToString() ?? "",
    };

    /// <summary>
    /// Every leaf of a JSON tree as dotted path → canonical text (arrays are one leaf, their items joined by commas),
    /// numbers compared by value: 0.25 and 2.5e-1 are the same leaf.
    /// </summary>
    public static SortedDictionary<string, string> Leaves(JsonNode? node, string prefix = "")
    {
        var leaves = new SortedDictionary<string, string>(StringComparer.Ordinal);
        AddLeaves(node, prefix, leaves);
        return leaves;
    }

    private static void AddLeaves(JsonNode? node, string path, SortedDictionary<string, string> leaves)
    {
        if (node is JsonObject obj)
        {
            if (obj.Count == 0) leaves[path] = "{}";
            foreach (var (name, child) in obj) AddLeaves(child, path.Length == 0 ? name : $"{path}.{name}", leaves);
        }
        else
        {
            leaves[path] = LeafText(node);
        }
    }

    private static string LeafText(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray a => "[" + string.Join(",", a.Select(LeafText)) + "]",
        JsonObject o => o.ToJsonString(Compact),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => NumberText(v.ToJsonString()),
        _ => node.ToJsonString(),
    };

    /// <summary>A JSON number's value as text: integers exactly, other numbers by their double value.</summary>
    private static string NumberText(string raw)
    {
        if (ulong.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u)) return u.ToString(CultureInfo.InvariantCulture);
        if (long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l.ToString(CultureInfo.InvariantCulture);
        return double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Reads <paramref name="node"/> as a <typeparamref name="T"/> and insists that it was exactly what
    /// <typeparamref name="T"/> writes back (no field missing, none extra, no value that does not round-trip, such as
    /// a float with more digits than a float holds): a default must never stand in silently for an edited or deleted
    /// field. Errors are <see cref="UserInputException"/>s naming <paramref name="source"/> and the field's path.
    /// </summary>
    public static T ReadExact<T>(JsonNode? node, string source, string prefix = "") where T : class
    {
        T? value;
        try { value = node.Deserialize<T>(Reading); }
        catch (JsonException e)
        {
            string at = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {Join(prefix, e.Path.TrimStart('$', '.'))}";
            throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix + " " : "")}does not read{at} ({FirstLine(e.Message)})", e);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or FormatException or OverflowException)
        {
            throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix + " " : "")}does not read ({FirstLine(e.Message)})", e);
        }
        if (value is null) throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix : "the file")} is null");
        var given = Leaves(node, prefix);
        var canonical = Leaves(JsonSerializer.SerializeToNode(value, Options), prefix);
        foreach (string path in given.Keys)
            if (!canonical.ContainsKey(path) && !canonical.Keys.Any(c => path.StartsWith(c + ".", StringComparison.Ordinal) || c.StartsWith(path + ".", StringComparison.Ordinal)))
                throw new UserInputException($"{source}: unknown field {path}");
        foreach (var (path, text) in canonical)
        {
            if (!given.TryGetValue(path, out string? was))
                throw new UserInputException($"{source}: field {path} is missing");
            if (was != text)
                throw new UserInputException($"{source}: field {path} = {Short(was)} does not read back as itself (reads as {Short(text)})");
        }
        foreach (string path in given.Keys)
            if (!canonical.ContainsKey(path)) throw new UserInputException($"{source}: field {path} does not read back as itself");
        return value;
    }

    private static string Join(string prefix, string path) => prefix.Length == 0 ? path : $"{prefix}.{path}";
    private static string Short(string text) => text.Length <= 40 ? text : text[..37] + "...";
    private static string FirstLine(string message) => message.ReplaceLineEndings(" ");
}

using System.CommandLine;
using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using NativeCert.Attacks;
using NativeCert.Cli.Options;
using NativeCert.Data;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert data info</c>: what a dataset spec loads to (source, sizes, shape, class counts, value range) and,
/// with <c>--attack</c>, what the backdoor attack does to it (poisoned rows, triggered inputs, exact norms).
/// </summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var data = new Command("data", "Inspect datasets");
        data.Subcommands.Add(CreateInfo());
        return data;
    }

    private static Command CreateInfo()
    {
        var info = new Command("info", "Show a dataset's source, split sizes, shape, class counts and value range, and what --attack does to it");
        var dataOptions = new DataOptions();
        dataOptions.AddTo(info);
        var attackOptions = new AttackOptions();
        attackOptions.AddTo(info);
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text" };
        info.Options.Add(json);
        info.SetAction(parse =>
        {
            DataSplit split = dataOptions.Load(parse);
            AttackResult? attack = attackOptions.Apply(parse, split);
            TextWriter output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json)) WriteJson(output, split, attack);
            else WriteText(output, split, attack);
            return ExitCodes.Success;
        });
        return info;
    }

    private static void WriteText(TextWriter o, DataSplit split, AttackResult? attack)
    {
        var inv = CultureInfo.InvariantCulture;
        Dataset train = split.Train, test = split.Test;
        o.WriteLine($"dataset:   {split.Name}");
        o.WriteLine($"source:    {split.Location}");
        o.WriteLine($"classes:   {train.ClassCount} ({string.Join(", ", split.ClassIds.Select((id, k) => split.ClassNames[k] == id.ToString(inv) ? $"{id}" : $"{id} {split.ClassNames[k]}"))})");
        o.WriteLine($"shape:     {(train.Shape is { } s ? $"{s} ({train.Dimension} features)" : $"{train.Dimension} features")}");
        o.WriteLine($"rows:      train {train.Count}, test {test.Count}, total {train.Count + test.Count}");
        var (trMin, trMax, trMean) = Range(train);
        var (teMin, teMax, teMean) = Range(test);
        o.WriteLine(string.Create(inv, $"values:    train [{trMin:G6}, {trMax:G6}] mean {trMean:G6}; test [{teMin:G6}, {teMax:G6}] mean {teMean:G6}"));
        o.WriteLine("class counts:");
        int width = Math.Max(5, split.ClassNames.Max(n => n.Length) + (split.ClassIds.Max() >= 10 ? 3 : 2));
        o.WriteLine($"  {"label".PadRight(6)}{"class".PadRight(width)}{"train",8}{"test",8}");
        int[] trainCounts = train.ClassCounts(), testCounts = test.ClassCounts();
        for (int k = 0; k < train.ClassCount; k++)
        {
            string cls = split.ClassNames[k] == split.ClassIds[k].ToString(inv) ? split.ClassNames[k] : $"{split.ClassIds[k]} {split.ClassNames[k]}";
            o.WriteLine($"  {k.ToString(inv).PadRight(6)}{cls.PadRight(width)}{trainCounts[k],8}{testCounts[k],8}");
        }
        o.WriteLine($"  {"".PadRight(6)}{"total".PadRight(width)}{train.Count,8}{test.Count,8}");
        if (attack is null) return;
        var a = attack;
        o.WriteLine($"attack:    {a.Attack.Trigger.Describe()}; target class {split.ClassIds[a.Target]} (label {a.Target}), {(a.Mode == LabelMode.Dirty ? "dirty" : "clean")}-label");
        o.WriteLine($"poisoned:  {a.Poisoned.PoisonedRows.Length} training rows; perturbation l2 {a.Poisoned.Norms}");
        o.WriteLine($"triggered: {a.Triggered.Data.Count} test inputs (true class not the target); perturbation l2 {a.Triggered.Norms}");
        o.WriteLine(string.Create(inv, $"joint:     l2 norm of all poisoned rows plus one triggered input: at most {JointNorm(a):G6} (certified when below the radius)"));
    }

    /// <summary>The worst case over triggered inputs of √(Σᵢ‖δᵢ‖² + ‖δₓ‖²).</summary>
    private static double JointNorm(AttackResult a) => BackdoorAttack.JointNorm(a.Poisoned.Norms, a.Triggered.Norms.Max);

    private static void WriteJson(TextWriter o, DataSplit split, AttackResult? attack)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("dataset", split.Name);
            w.WriteString("source", split.Location);
            w.WriteNumber("classCount", split.Train.ClassCount);
            w.WriteStartArray("classIds");
            foreach (int id in split.ClassIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("classNames");
            foreach (string n in split.ClassNames) w.WriteStringValue(n);
            w.WriteEndArray();
            if (split.Train.Shape is { } s)
            {
                w.WriteStartArray("shape");
                w.WriteNumberValue(s.Channels); w.WriteNumberValue(s.Height); w.WriteNumberValue(s.Width);
                w.WriteEndArray();
            }
            else
            {
                w.WriteNull("shape");
            }
            w.WriteNumber("dimension", split.Train.Dimension);
            WritePart(w, "train", split.Train);
            WritePart(w, "test", split.Test);
            if (attack is { } a)
            {
                w.WriteStartObject("attack");
                w.WriteString("trigger", a.Attack.Trigger.Describe());
                w.WriteNumber("targetClassId", split.ClassIds[a.Target]);
                w.WriteNumber("targetLabel", a.Target);
                w.WriteString("labelMode", a.Mode == LabelMode.Dirty ? "dirty" : "clean");
                WriteNorms(w, "poisoned", a.Poisoned.Norms);
                WriteNorms(w, "triggered", a.Triggered.Norms);
                w.WriteNumber("jointNormMax", JointNorm(a));
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        o.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteNorms(Utf8JsonWriter w, string name, NormStats n)
    {
        w.WriteStartObject(name);
        w.WriteNumber("count", n.Count);
        w.WriteNumber("normMax", n.Max);
        w.WriteNumber("normMean", n.Mean);
        w.WriteNumber("normSumSquares", n.SumSquares);
        w.WriteEndObject();
    }

    private static void WritePart(Utf8JsonWriter w, string name, Dataset d)
    {
        var (min, max, mean) = Range(d);
        w.WriteStartObject(name);
        w.WriteNumber("count", d.Count);
        w.WriteStartArray("classCounts");
        foreach (int c in d.ClassCounts()) w.WriteNumberValue(c);
        w.WriteEndArray();
        w.WriteNumber("min", min);
        w.WriteNumber("max", max);
        w.WriteNumber("mean", mean);
        w.WriteEndObject();
    }

    /// <summary>Smallest, largest and mean feature value (mean accumulated in double per row).</summary>
    private static (float Min, float Max, double Mean) Range(Dataset d)
    {
        if (d.Features.Length == 0) return (0, 0, 0);
        double sum = 0;
        for (int i = 0; i < d.Count; i++) sum += TensorPrimitives.Sum(d.Row(i));
        return (TensorPrimitives.Min(d.Features), TensorPrimitives.Max(d.Features), sum / d.Features.Length);
    }
}

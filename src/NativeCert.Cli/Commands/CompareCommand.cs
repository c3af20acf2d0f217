using System.CommandLine;
using System.Globalization;
using NativeCert.Defenses;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert compare RUN_DIR...</c>: runs on the same data (smoothing, DPA, bagging; clean or attacked) side by side:
/// one table and one plot of certified accuracy against the number m of poisoned training examples, and for attack runs
/// the triggered inputs' certified accuracy and attack success rate. See <see cref="RunComparison"/>.
/// </summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var cmd = new Command("compare", "Compare runs on the same data: certified accuracy against the number of poisoned training examples (table and plot), attack success per defense");
        var runs = new Argument<string[]>("runs") { Description = "Run directories written by certify (complete runs)", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<string?>("--out") { Description = "Directory for compare.txt, compare.json and the plot (default runs/compare-<UTC timestamp>Z)" };
        var norms = new Option<string?>("--trigger-norms") { Description = "Trigger l2 norms of the smoothing curves, comma-separated (default: each run's own)" };
        cmd.Arguments.Add(runs);
        cmd.Options.Add(outDir);
        cmd.Options.Add(norms);
        cmd.SetAction(parse =>
        {
            string[] dirs = parse.GetValue(runs) ?? [];
            double[]? t = null;
            if (parse.GetValue(norms) is { Length: > 0 } text)
            {
                t = text.Split(',').Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v)
                    ? v : throw new UserInputException($"--trigger-norms {text}: '{s}' is not a positive number")).ToArray();
            }
            string output = parse.GetValue(outDir) ?? Path.Combine("runs", "compare-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "Z");
            string table = RunComparison.Write(output, dirs, t);
            parse.InvocationConfiguration.Output.Write(table);
            parse.InvocationConfiguration.Output.WriteLine($"comparison: {output}");
            return ExitCodes.Success;
        });
        return cmd;
    }
}

using System.CommandLine;
using System.Globalization;
using NativeCert.Certification;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert bound --k K --n N --alpha A [--json]</c>: one-sided Clopper–Pearson lower and upper bounds
/// (each at level 1 − α) on a binomial probability from K successes in N trials.
/// </summary>
internal static class BoundCommand
{
    /// <summary>The range in which <see cref="ClopperPearson"/> guarantees its bounds (docs/certification.md); the
    /// command refuses the rest rather than print a number it does not vouch for.</summary>
    public const long MaxTrials = 1_000_000_000;
    public const double MinAlpha = 1e-300, MaxAlpha = 0.5;

    /// <summary>True for a literal whose mantissa is zero ("0", "0.0", "0e5"): it means 0, it did not underflow.</summary>
    private static bool IsZeroLiteral(string text)
    {
        string mantissa = text.Split('e', 'E')[0];
        return !mantissa.Any(ch => ch is >= '1' and <= '9');
    }

    public static Command Create()
    {
        var cmd = new Command("bound", "Exact one-sided Clopper-Pearson lower and upper bounds, each at level 1 - alpha");
        var k = new Option<long>("--k") { Description = "Number of successes (votes for the class)", Required = true };
        var n = new Option<long>("--n") { Description = "Number of trials (models)", Required = true };
        var alpha = new Option<double>("--alpha") { Description = "One-sided failure probability, in [1e-300, 0.5] (the range where the bounds are guaranteed exact)", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"k\",\"n\",\"alpha\",\"lower\",\"upper\"} as JSON" };
        cmd.Options.Add(k);
        cmd.Options.Add(n);
        cmd.Options.Add(alpha);
        cmd.Options.Add(json);
        cmd.SetAction(parse =>
        {
            long kv = parse.GetValue(k), nv = parse.GetValue(n);
            double a = parse.GetValue(alpha);
            string alphaText = parse.GetResult(alpha)?.Tokens.FirstOrDefault()?.Value ?? "";
            if (nv < 0) throw new UserInputException($"--n: {nv} is negative");
            if (nv > MaxTrials) throw new UserInputException($"--n {nv}: above 10^9, the largest n whose bounds are guaranteed exact (docs/certification.md)");
            if (kv < 0 || kv > nv) throw new UserInputException($"--k: {kv} is outside [0, --n={nv}]");
            // double.Parse rounds 1e-400 to 0 silently: say so rather than report "0 is not in range".
            if (a == 0 && !IsZeroLiteral(alphaText))
                throw new UserInputException($"--alpha {alphaText}: underflows to 0 in double precision (the smallest supported alpha is 1e-300)");
            if (!(a > 0 && a < 1)) throw new UserInputException($"--alpha: {a.ToString("R", CultureInfo.InvariantCulture)} is not in (0, 1)");
            if (a < MinAlpha || a > MaxAlpha)
                throw new UserInputException($"--alpha {alphaText}: outside [1e-300, 0.5], the range whose bounds are guaranteed exact (docs/certification.md)");
            double lower = ClopperPearson.Lower(kv, nv, a), upper = ClopperPearson.Upper(kv, nv, a);
            string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            var output = parse.InvocationConfiguration.Output;
            if (parse.GetValue(json))
                output.WriteLine($"{{\"k\":{kv},\"n\":{nv},\"alpha\":{R(a)},\"lower\":{R(lower)},\"upper\":{R(upper)}}}");
            else
            {
                output.WriteLine($"k = {kv}, n = {nv}, alpha = {R(a)} (one-sided, each bound at level 1 - alpha)");
                output.WriteLine($"lower\t{R(lower)}");
                output.WriteLine($"upper\t{R(upper)}");
            }
            return ExitCodes.Success;
        });
        return cmd;
    }
}

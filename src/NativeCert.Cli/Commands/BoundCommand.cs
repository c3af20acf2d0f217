using System.CommandLine;
using System.Globalization;
using NativeCert.Certification;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert bound --k K --n N --alpha A [--json]</c>: one-sided Clopper–Pearson lower and upper bounds
/// (each at level 1 − α) on a binomial probability from K successes in N trials.
/// </summary>
public static class BoundCommand
{
    public static Command Create()
    {
        var cmd = new Command("bound", "Exact one-sided Clopper-Pearson lower and upper bounds, each at level 1 - alpha");
        var k = new Option<long>("--k") { Description = "Number of successes (votes for the class)", Required = true };
        var n = new Option<long>("--n") { Description = "Number of trials (models)", Required = true };
        var alpha = new Option<double>("--alpha") { Description = "One-sided failure probability, in (0, 1); exact for 1e-300..0.5", Required = true };
        var json = new Option<bool>("--json") { Description = "Print {\"k\",\"n\",\"alpha\",\"lower\",\"upper\"} as JSON" };
        cmd.Options.Add(k);
        cmd.Options.Add(n);
        cmd.Options.Add(alpha);
        cmd.Options.Add(json);
        cmd.SetAction(parse =>
        {
            long kv = parse.GetValue(k), nv = parse.GetValue(n);
            double a = parse.GetValue(alpha);
            if (nv < 0) throw new UserInputException($"--n: {nv} is negative");
            if (kv < 0 || kv > nv) throw new UserInputException($"--k: {kv} is outside [0, --n={nv}]");
            if (!(a > 0 && a < 1)) throw new UserInputException($"--alpha: {a.ToString("R", CultureInfo.InvariantCulture)} is not in (0, 1)");
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

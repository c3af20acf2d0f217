using System.CommandLine;
using NativeCert.Runs;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert merge --out DIR SHARD...</c>: combines shard runs (<c>certify --models-range a:b</c>) of one
/// configuration whose model ranges tile the whole run into a complete run directory with its report.
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var cmd = new Command("merge", "Combine shard runs (certify --models-range) of one configuration into a complete run with certificates, summary and plots");
        var outDir = new Option<string>("--out") { Description = "New run directory for the merged run", Required = true };
        var shards = new Argument<string[]>("shards") { Description = "Shard run directories", Arity = ArgumentArity.OneOrMore };
        cmd.Options.Add(outDir);
        cmd.Arguments.Add(shards);
        cmd.SetAction(parse =>
        {
            string dir = parse.GetValue(outDir)!;
            if (string.IsNullOrWhiteSpace(dir)) throw new UserInputException("merge: --out: the run directory path is empty");
            RunReport report = ShardMerge.Merge(dir, parse.GetValue(shards) ?? []);
            parse.InvocationConfiguration.Output.Write(report.Text);
            parse.InvocationConfiguration.Output.WriteLine($"run directory: {dir}");
            return ExitCodes.Success;
        });
        return cmd;
    }
}

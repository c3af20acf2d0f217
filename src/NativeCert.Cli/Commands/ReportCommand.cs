using System.CommandLine;
using NativeCert.Runs;

namespace NativeCert.Cli.Commands;

/// <summary>
/// <c>nativecert report --run DIR</c>: regenerates certificates, summary and plots of a finished run from its
/// config.json and votes.bin alone (byte-identical to what certify wrote), and prints the summary.
/// </summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var cmd = new Command("report", "Regenerate certificates.tsv, summary and plots of a run from its config.json and votes.bin");
        var run = new Option<string>("--run") { Description = "Run directory written by certify", Required = true };
        cmd.Options.Add(run);
        cmd.SetAction(parse =>
        {
            string dir = parse.GetValue(run)!;
            RunReport report;
            try { report = RunReport.Regenerate(dir); }
            catch (UserInputException e) when (e is not RunIncompleteException and not NativeCert.Spec.SpecException)
            {
                throw new UserInputException($"--run: {e.Message}", e);
            }
            catch (RunIncompleteException e)
            {
                // Say with which command.
                throw new UserInputException(e.IsShard
                    ? $"--run: {e.Message} (nativecert merge --out DIR {e.Root} OTHER_SHARDS...)"
                    : $"--run: {e.Message} (nativecert certify --resume --out {e.Root})", e);
            }
            parse.InvocationConfiguration.Output.Write(report.Text);
            return ExitCodes.Success;
        });
        return cmd;
    }
}

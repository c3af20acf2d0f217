using System.CommandLine;
using NativeCert.Cli.Commands;

namespace NativeCert.Cli;

internal static class Program
{
    public static int Main(string[] args) => CliApp.Run(BuildRoot(), args, Console.Out, Console.Error);

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("NativeCert: certified robustness against backdoor (training-data poisoning) attacks by randomized smoothing.");
        // One line per command group; each lives in Commands/.
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(CertifyCommand.Create());
        root.Subcommands.Add(ReportCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(SlurmCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(EnsembleCommands.CreateTrain());
        root.Subcommands.Add(EnsembleCommands.CreateVote());
        root.Subcommands.Add(BoundCommand.Create());
        root.Subcommands.Add(CertifyCountsCommand.Create());
        return root;
    }
}

using System.CommandLine;

namespace NativeCert.Cli;

/// <summary>Exit codes: 0 success, 1 internal failure, 2 user error (bad option, file or data).</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int InternalError = 1;
    public const int UserError = 2;
}

/// <summary>Runs a parsed command line with the one error policy every command shares.</summary>
internal static class CliApp
{
    public static int Run(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, as every error: System.CommandLine lists allowed values on lines of their own.
            string message = MissingOrUnknownCommand(parse) ?? parse.Errors[0].Message;
            message = string.Join(" ", message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            stderr.WriteLine($"nativecert: error: {message}");
            return ExitCodes.UserError;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Unwrap(e) is UserInputException u)
        {
            // Core names spec fields; the user typed flags.
            string message = u is Spec.SpecException s ? Options.SpecFlags.Translate(s) : u.Message;
            stderr.WriteLine($"nativecert: error: {message.ReplaceLineEndings(" ")}");
            return ExitCodes.UserError;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
        {
            stderr.WriteLine("nativecert: cancelled");
            return 130;
        }
        catch (Exception e)
        {
            var inner = Unwrap(e);
            stderr.WriteLine($"nativecert: internal error: {inner.GetType().Name}: {inner.Message}");
            if (Environment.GetEnvironmentVariable("NATIVECERT_DEBUG") == "1") stderr.WriteLine(inner);
            return ExitCodes.InternalError;
        }
    }

    /// <summary>
    /// For a command that needs a subcommand (the root, <c>data</c>): names the unknown one and suggests the nearest
    /// by edit distance (System.CommandLine only says "Required command was not provided"); null for other errors.
    /// </summary>
    internal static string? MissingOrUnknownCommand(ParseResult parse)
    {
        Command command = parse.CommandResult.Command;
        string[] names = command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).ToArray();
        if (names.Length == 0) return null;
        string where = command is RootCommand ? "" : command.Name + " ";
        string list = string.Join(", ", names);
        string? token = parse.UnmatchedTokens.FirstOrDefault();
        if (token is null) return $"{where}no command given (commands: {list})";
        if (token.StartsWith('-')) return null;
        string nearest = names.MinBy(name => EditDistance(token.ToLowerInvariant(), name))!;
        // Suggest only a plausible typo: a few edits, fewer than half the word.
        bool close = EditDistance(token.ToLowerInvariant(), nearest) <= Math.Min(3, Math.Max(1, token.Length / 2));
        return close
            ? $"'{token}' is not a {where}command; did you mean '{nearest}'? (commands: {list})"
            : $"'{token}' is not a {where}command (commands: {list})";
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }

    private static Exception Unwrap(Exception e)
    {
        while (e is AggregateException { InnerExceptions.Count: 1 } a) e = a.InnerExceptions[0];
        while (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) e = inner;
        return e;
    }

    /// <summary>Parses a comma-separated list of integers such as "256,128" for the named option.</summary>
    public static int[] ParseIntList(string? text, string option, int min = int.MinValue)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out values[i]))
                throw new UserInputException($"{option}: '{parts[i]}' is not an integer (expected a comma-separated list such as 256,128)");
            if (values[i] < min)
                throw new UserInputException($"{option}: {values[i]} is below the minimum {min}");
        }
        return values;
    }
}

using System.CommandLine;

namespace NativeCert.Cli;

/// <summary>Exit codes: 0 success, 1 internal failure, 2 user error (bad option, file or data).</summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int InternalError = 1;
    public const int UserError = 2;
}

/// <summary>Runs a parsed command line with the one error policy every command shares.</summary>
public static class CliApp
{
    public static int Run(RootCommand root, string[] args, TextWriter stdout, TextWriter stderr)
    {
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line, as every error: System.CommandLine lists allowed values on lines of their own.
            string message = string.Join(" ", parse.Errors[0].Message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
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

namespace NativeCert;

/// <summary>
/// A problem with what the user gave us (an option, a file, a dataset): reported as one line on stderr
/// with exit code 2 and no stack trace. The message must name the option or file and the problem.
/// </summary>
public class UserInputException : Exception
{
    public UserInputException(string message) : base(message) { }
    public UserInputException(string message, Exception inner) : base(message, inner) { }
}

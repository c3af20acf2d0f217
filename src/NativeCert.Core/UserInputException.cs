namespace NativeCert;

/// <summary>
/// A problem with what the user gave (a spec field, a file, a dataset, a backend): the message is one line that names
/// it and says what is wrong. The CLI prints it on stderr and exits with code 2; library callers can show it as it is.
/// </summary>
public class UserInputException : Exception
{
    /// <summary>A one-line message naming the input and the problem.</summary>
    public UserInputException(string message) : base(message) { }
    /// <summary>A one-line message naming the input and the problem, and the error behind it.</summary>
    public UserInputException(string message, Exception inner) : base(message, inner) { }
}

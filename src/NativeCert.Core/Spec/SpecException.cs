namespace NativeCert.Spec;

/// <summary>
/// A <see cref="UserInputException"/> about one or more fields of a <see cref="JobSpec"/>, named in the message by
/// their dotted paths (e.g. <c>training.batch_size</c>, as in the spec's JSON). Front ends that fill the spec
/// from something else (the CLI from flags) replace each path in <see cref="Fields"/> by their own name for it.
/// </summary>
public sealed class SpecException : UserInputException
{
    /// <summary>The dotted spec paths the message names, as they appear in it.</summary>
    public IReadOnlyList<string> Fields { get; }

    internal SpecException(string message, params string[] fields) : base(message) => Fields = fields;

    internal SpecException(string message, Exception inner, params string[] fields) : base(message, inner) => Fields = fields;

    /// <summary>"<paramref name="field"/> <paramref name="value"/>: <paramref name="problem"/>", the usual shape.</summary>
    internal static SpecException Invalid(string field, object? value, string problem) =>
        new($"{field} {SpecJson.Text(value)}: {problem}", field);
}

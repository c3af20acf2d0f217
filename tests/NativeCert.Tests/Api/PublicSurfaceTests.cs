using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace NativeCert.Tests.Api;

/// <summary>
/// Pins the public API of the two assemblies the NativeCert package ships (NativeCert.Core, NativeCert.Kernels): every
/// exported type and every public or protected member, one line each, sorted, against PublicSurface.txt. Adding,
/// removing or changing a public member must be a deliberate act: rewrite the file with
/// <c>NATIVECERT_UPDATE_PUBLIC_SURFACE=1 dotnet test NativeCert.sln -c Release --filter PublicSurfaceTests</c> and commit it.
/// </summary>
public class PublicSurfaceTests
{
    private const string UpdateVariable = "NATIVECERT_UPDATE_PUBLIC_SURFACE";

    [Fact]
    public void Public_surface_matches_the_checked_in_list()
    {
        string[] actual = Surface(typeof(SmoothedClassifier).Assembly, typeof(CertificationJob).Assembly);
        string source = SourcePath();
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(source, string.Join("\n", actual) + "\n");
            return;
        }
        string[] expected = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Api", "PublicSurface.txt"))
                                .Where(line => line.Length > 0).ToArray();
        var added = actual.Except(expected, StringComparer.Ordinal).ToArray();
        var removed = expected.Except(actual, StringComparer.Ordinal).ToArray();
        if (added.Length == 0 && removed.Length == 0) return;
        var message = new StringBuilder("The public surface of NativeCert.Core / NativeCert.Kernels changed:\n");
        foreach (var line in removed) message.Append("- ").AppendLine(line);
        foreach (var line in added) message.Append("+ ").AppendLine(line);
        message.Append($"If this is intended (every public member is API we support: document it, units included), rewrite {source} with\n" +
                       $"  {UpdateVariable}=1 dotnet test NativeCert.sln -c Release --filter PublicSurfaceTests\nand commit it; " +
                       "otherwise make the new type or member internal.");
        Assert.Fail(message.ToString());
    }

    [Fact]
    public void The_listing_sees_types_members_and_their_signatures()
    {
        // The pin is only as good as its listing: a change of kind, a parameter or a default must change a line.
        string[] lines = Surface(typeof(SmoothedClassifier).Assembly);
        Assert.Contains("sealed class NativeCert.SmoothedClassifier", lines);
        Assert.Contains("sealed record NativeCert.Spec.JobSpec : System.IEquatable<NativeCert.Spec.JobSpec>", lines);
        Assert.Contains("NativeCert.SmoothedClassifier: static NativeCert.SmoothedClassifier Load(string path, double alpha = 0.001, int threads = 0)", lines);
        Assert.Contains("NativeCert.SmoothedClassifier: const double DefaultAlpha = 0.001", lines);
        Assert.Contains("NativeCert.SmoothedClassifier: double Alpha { get; }", lines);
        Assert.Contains("NativeCert.Spec.SmoothingSpec: float Sigma { get; init; }", lines);
        Assert.DoesNotContain(lines, line => line.Contains("NativeCert.Engine.Cpu.CpuTrainer", StringComparison.Ordinal));
    }

    private static string SourcePath([CallerFilePath] string file = "") => Path.Combine(Path.GetDirectoryName(file)!, "PublicSurface.txt");

    private static string[] Surface(params Assembly[] assemblies)
    {
        var lines = new List<string>();
        foreach (var type in assemblies.SelectMany(a => a.GetExportedTypes()))
        {
            string name = TypeName(type);
            lines.Add($"{Kind(type)} {name}{Bases(type)}");
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(all))
            {
                string? signature = Member(member);
                if (signature is not null) lines.Add($"{name}: {signature}");
            }
        }
        return lines.Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    private static string Kind(Type type) =>
        type.IsEnum ? "enum"
        : type.IsInterface ? "interface"
        : type.IsSubclassOf(typeof(Delegate)) ? "delegate"
        : type.IsValueType ? (IsRecordStruct(type) ? "record struct" : "struct")
        : type.GetMethod("<Clone>$") is not null ? (type.IsSealed ? "sealed record" : "record")
        : type.IsAbstract && type.IsSealed ? "static class"
        : type.IsSealed ? "sealed class"
        : type.IsAbstract ? "abstract class"
        : "class";

    // A record struct has a compiler-generated PrintMembers; a plain struct does not.
    private static bool IsRecordStruct(Type type) =>
        type.GetMethod("PrintMembers", BindingFlags.NonPublic | BindingFlags.Instance) is { } m && m.IsDefined(typeof(CompilerGeneratedAttribute));

    private static string Bases(Type type)
    {
        var bases = new List<string>();
        if (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) && b != typeof(MulticastDelegate))
            bases.Add(TypeName(b));
        bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(TypeName).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static string? Member(MemberInfo member)
    {
        switch (member)
        {
            case ConstructorInfo c when Visible(c):
                return $"{Access(c)}{(c.IsStatic ? "static " : "")}.ctor({Parameters(c.GetParameters())})";
            case MethodInfo m when Visible(m) && !m.IsSpecialName && m.Name != "<Clone>$":   // records' clone is `with`, not API
                string generic = m.IsGenericMethod ? $"<{string.Join(", ", m.GetGenericArguments().Select(TypeName))}>" : "";
                return $"{Access(m)}{Modifiers(m)}{TypeName(m.ReturnType)} {m.Name}{generic}({Parameters(m.GetParameters())})";
            case PropertyInfo p when Visible(p.GetMethod) || Visible(p.SetMethod):
                var accessor = Visible(p.GetMethod) ? p.GetMethod! : p.SetMethod!;
                string indexer = p.GetIndexParameters() is { Length: > 0 } ip ? $"[{Parameters(ip)}]" : "";
                string set = !Visible(p.SetMethod) ? ""
                    : p.SetMethod!.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.FullName == "System.Runtime.CompilerServices.IsExternalInit") ? " init;" : " set;";
                return $"{Access(accessor)}{Modifiers(accessor)}{TypeName(p.PropertyType)} {p.Name}{indexer} {{{(Visible(p.GetMethod) ? " get;" : "")}{set} }}";
            case FieldInfo f when f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly:
                if (f.DeclaringType!.IsEnum) return f.IsStatic ? $"{f.Name} = {Convert.ChangeType(f.GetRawConstantValue(), Enum.GetUnderlyingType(f.DeclaringType))}" : null;
                string kind = f.IsLiteral ? "const " : (f.IsStatic ? "static " : "") + (f.IsInitOnly ? "readonly " : "");
                string value = f.IsLiteral ? $" = {Literal(f.GetRawConstantValue())}" : "";
                return $"{(f.IsFamily ? "protected " : "")}{kind}{TypeName(f.FieldType)} {f.Name}{value}";
            case EventInfo e when Visible(e.AddMethod):
                return $"{Access(e.AddMethod!)}event {TypeName(e.EventHandlerType!)} {e.Name}";
            case Type nested when nested.IsNestedPublic || nested.IsNestedFamily:
                return null;    // listed as a type of its own
            default:
                return null;
        }
    }

    private static string Access(MethodBase m) => m.IsFamily || m.IsFamilyOrAssembly ? "protected " : "";

    private static string Modifiers(MethodInfo m) =>
        m.IsStatic ? "static "
        : m.IsAbstract ? "abstract "
        : m.IsVirtual && !m.IsFinal ? (m.GetBaseDefinition() == m ? "virtual " : "override ")
        : m.IsVirtual && m.GetBaseDefinition() != m ? "override "
        : "";

    private static string Parameters(ParameterInfo[] parameters) => string.Join(", ", parameters.Select(p =>
    {
        string type = p.ParameterType.IsByRef ? (p.IsOut ? "out " : p.IsIn ? "in " : "ref ") + TypeName(p.ParameterType.GetElementType()!) : TypeName(p.ParameterType);
        string prefix = p.IsDefined(typeof(ParamArrayAttribute)) ? "params " : "";
        string value = !p.HasDefaultValue ? "" : p.RawDefaultValue is null && p.ParameterType.IsValueType && Nullable.GetUnderlyingType(p.ParameterType) is null ? " = default" : $" = {Literal(p.RawDefaultValue)}";
        return $"{prefix}{type} {p.Name}{value}";
    }));

    private static string Literal(object? value) => value switch
    {
        null => "null",
        DBNull => "default",
        string s => $"\"{s}\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string TypeName(Type type)
    {
        if (type.IsArray) return TypeName(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        if (type.IsPointer) return TypeName(type.GetElementType()!) + "*";
        if (type.IsGenericParameter) return type.Name;
        if (Nullable.GetUnderlyingType(type) is { } underlying) return TypeName(underlying) + "?";
        if (Keywords.TryGetValue(type, out var keyword)) return keyword;
        string name = type.IsNested ? TypeName(type.DeclaringType!) + "." + type.Name : $"{type.Namespace}.{type.Name}";
        if (!type.IsGenericType) return name;
        int tick = name.IndexOf('`');
        var arguments = type.GetGenericArguments();
        if (type.IsNested) arguments = arguments[type.DeclaringType!.GetGenericArguments().Length..];
        return (tick >= 0 ? name[..tick] : name) + "<" + string.Join(", ", arguments.Select(TypeName)) + ">";
    }

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void", [typeof(bool)] = "bool", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte", [typeof(char)] = "char",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(int)] = "int", [typeof(uint)] = "uint", [typeof(long)] = "long",
        [typeof(ulong)] = "ulong", [typeof(float)] = "float", [typeof(double)] = "double", [typeof(decimal)] = "decimal",
        [typeof(string)] = "string", [typeof(object)] = "object",
    };
}

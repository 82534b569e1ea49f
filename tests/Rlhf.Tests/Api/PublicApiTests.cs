// The public surface of Rlhf and Rlhf.Tensors as text, compared with the approved file: a change to the API is a
// visible diff in review. Regenerate after an intended change with RLHF_APPROVE_API=1 (see the failure message).
using System.Reflection;
using Xunit;

namespace Rlhf.Tests.Api;

public sealed class PublicApiTests
{
    private const string ApprovedFile = "PublicApi.approved.txt";

    [Fact]
    public void PublicApiMatchesTheApprovedFile()
    {
        string actual = PublicApi.Describe(typeof(LanguageModel).Assembly, typeof(Rlhf.Tensors.Rng).Assembly);
        string path = Path.Combine(SourceFolder(), ApprovedFile);
        if (Environment.GetEnvironmentVariable("RLHF_APPROVE_API") == "1") File.WriteAllText(path, actual);
        string approved = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : "";
        if (approved == actual) return;
        var approvedLines = approved.Split('\n').ToHashSet();
        var actualLines = actual.Split('\n').ToHashSet();
        var diff = actual.Split('\n').Where(l => !approvedLines.Contains(l)).Select(l => "+ " + l)
            .Concat(approved.Split('\n').Where(l => !actualLines.Contains(l)).Select(l => "- " + l)).ToArray();
        Assert.Fail($"The public API differs from {path} ({diff.Length} lines):\n{string.Join("\n", diff.Take(60))}\n" +
            "If the change is intended, approve it: RLHF_APPROVE_API=1 dotnet test -c Release --filter PublicApiTests, and commit the file.");
    }

    [Fact]
    public void DescriptionIsSortedAndNamesMembers()
    {
        var lines = PublicApi.Describe(typeof(LanguageModel).Assembly).Split('\n');
        Assert.Equal(lines.OrderBy(l => l, StringComparer.Ordinal), lines);
        Assert.Contains("Rlhf.LanguageModel: method static Rlhf.LanguageModel Load(System.String folder)", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("Rlhf.Training.TrainingLoop", StringComparison.Ordinal));
    }

    private static string SourceFolder([System.Runtime.CompilerServices.CallerFilePath] string file = "") => Path.GetDirectoryName(file)!;
}

/// <summary>One line per public type and per public or protected member, sorted ordinally.</summary>
internal static class PublicApi
{
    public static string Describe(params Assembly[] assemblies)
    {
        var lines = new List<string>();
        foreach (var type in assemblies.SelectMany(a => a.GetExportedTypes()))
        {
            string name = Name(type);
            lines.Add($"{name}: {Kind(type)}{BaseList(type)}");
            const BindingFlags flags = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(flags))
            {
                string? text = Member(member);
                if (text is not null) lines.Add($"{name}: {text}");
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines.Distinct());
    }

    private static string Kind(Type t) =>
        t.IsEnum ? "enum" : t.IsInterface ? "interface" : t.IsValueType ? "struct" :
        t.IsAbstract && t.IsSealed ? "static class" : (t.IsSealed ? "sealed " : t.IsAbstract ? "abstract " : "") + "class";

    private static string BaseList(Type t)
    {
        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum)) bases.Add(Name(b));
        bases.AddRange(t.GetInterfaces().Where(i => i.IsPublic || i.IsNestedPublic).Select(Name).Order(StringComparer.Ordinal));
        return bases.Count == 0 ? "" : " : " + string.Join(", ", bases);
    }

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static string? Member(MemberInfo member) => member switch
    {
        ConstructorInfo c when Visible(c) => $"ctor({Parameters(c)})",
        MethodInfo m when Visible(m) && !m.IsSpecialName => $"method {(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}{Generic(m)}({Parameters(m)})",
        PropertyInfo p when Visible(p.GetMethod) || Visible(p.SetMethod) =>
            $"property {Name(p.PropertyType)} {p.Name} {{{(Visible(p.GetMethod) ? " get;" : "")}{(Visible(p.SetMethod) ? (IsInit(p) ? " init;" : " set;") : "")} }}",
        FieldInfo f when (f.IsPublic || f.IsFamily) && !f.IsSpecialName =>
            f.DeclaringType!.IsEnum ? $"value {f.Name} = {f.GetRawConstantValue()}" : $"field {(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        EventInfo e when Visible(e.AddMethod) => $"event {Name(e.EventHandlerType!)} {e.Name}",
        _ => null,
    };

    private static bool IsInit(PropertyInfo p) =>
        p.SetMethod!.ReturnParameter.GetRequiredCustomModifiers().Any(m => m.FullName == "System.Runtime.CompilerServices.IsExternalInit");

    private static string Generic(MethodInfo m) => m.IsGenericMethod ? "<" + string.Join(", ", m.GetGenericArguments().Select(Name)) + ">" : "";

    private static string Parameters(MethodBase m) => string.Join(", ", m.GetParameters().Select(p =>
        $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : "")}"));

    private static string Name(Type t)
    {
        if (t.IsByRef) return Name(t.GetElementType()!);
        if (t.IsArray) return Name(t.GetElementType()!) + "[]";
        if (t.IsGenericParameter) return t.Name;
        if (Nullable.GetUnderlyingType(t) is { } inner) return Name(inner) + "?";
        string name = (t.IsNested ? Name(t.DeclaringType!) + "." + t.Name : t.Namespace + "." + t.Name);
        if (!t.IsGenericType) return name;
        return name[..name.IndexOf('`')] + "<" + string.Join(", ", t.GetGenericArguments().Select(Name)) + ">";
    }
}

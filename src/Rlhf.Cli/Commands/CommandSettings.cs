// Resolves a command's options in layers: the command's defaults, then a --config YAML file, then the command line;
// records every final value so the run can write it back as rlhf_config.yaml.
using System.CommandLine;
using System.Globalization;
using System.Text;
using YamlDotNet.Serialization;

namespace Rlhf.Cli.Commands;

internal sealed class CommandSettings
{
    public const string ResolvedFileName = "rlhf_config.yaml";

    private readonly ParseResult parse;
    private readonly string? path;
    private readonly Dictionary<string, object?> file = new(StringComparer.Ordinal);
    private readonly List<KeyValuePair<string, object?>> resolved = [];

    private CommandSettings(ParseResult parse, string? path)
    {
        this.parse = parse;
        this.path = path;
    }

    /// <summary>The --config option a command adds to accept a YAML file.</summary>
    public static Option<string?> CreateConfigOption() => new("--config")
    {
        Description = "YAML file setting any option of this command (snake_case or kebab-case keys); the command line wins over it.",
    };

    /// <summary>Reads the YAML file named by <paramref name="config"/> (if given) and checks its keys against the command's options.</summary>
    public static CommandSettings Load(ParseResult parse, Option<string?>? config)
    {
        string? path = config is null ? null : parse.GetValue(config);
        var settings = new CommandSettings(parse, path);
        if (path is null) return settings;
        if (!File.Exists(path)) throw new FileNotFoundException($"The config file '{path}' does not exist.");
        object? root;
        try
        {
            root = new DeserializerBuilder().Build().Deserialize<object?>(File.ReadAllText(path));
        }
        catch (YamlDotNet.Core.YamlException error)
        {
            throw new FormatException($"{path}: invalid YAML ({error.Message}).");
        }
        if (root is null) return settings;
        if (root is not IDictionary<object, object?> map) throw new FormatException($"{path}: expected a mapping of option names to values.");

        var known = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var option in parse.CommandResult.Command.Options)
        {
            string canonical = Normalize(option.Name);
            known[canonical] = canonical;
            foreach (var alias in option.Aliases) known[Normalize(alias)] = canonical;
        }
        foreach (var (rawKey, value) in map)
        {
            string key = Normalize(rawKey?.ToString() ?? "");
            if (!known.TryGetValue(key, out var canonical) || canonical is "config" or "help")
                throw new ArgumentException($"{path}: unknown key '{rawKey}' for `rlhf {CommandPath(parse)}` (see --help for its options).");
            settings.file[canonical] = value;
        }
        return settings;
    }

    /// <summary>The option's value: explicit command-line value, else the YAML file's, else the command's default.</summary>
    public T Get<T>(Option<T> option)
    {
        string key = Normalize(option.Name);
        T value;
        if (parse.GetResult(option) is { Implicit: false }) value = parse.GetValue(option)!;
        else if (file.TryGetValue(key, out var raw)) value = Convert<T>(raw, option.Name);
        else value = parse.GetValue(option)!;
        Record(key, value);
        return value;
    }

    /// <summary>Like <see cref="Get{T}"/> but the value must be given somewhere (command line or config file); an empty list counts as missing.</summary>
    public T Require<T>(Option<T?> option) where T : class =>
        Get(option) is { } value && value is not Array { Length: 0 }
            ? value
            : throw new ArgumentException($"Option '{option.Name}' is required (on the command line or in the --config file).");

    /// <summary>Records a value that did not come from an option (e.g. a derived setting) in the resolved configuration.</summary>
    public void Record(string key, object? value)
    {
        int index = resolved.FindIndex(kv => kv.Key == key);
        var entry = new KeyValuePair<string, object?>(key, value);
        if (index >= 0) resolved[index] = entry;
        else resolved.Add(entry);
    }

    /// <summary>Every value read so far, with snake_case keys, as YAML that --config reads back.</summary>
    public string ToYaml(string command)
    {
        var map = new Dictionary<string, object?>();
        foreach (var (key, value) in resolved) map[key.Replace('-', '_')] = value is Enum e ? e.ToString() : value;
        var serializer = new SerializerBuilder().Build();
        var text = new StringBuilder();
        text.AppendLine($"# rlhf {command}: the resolved configuration of this run (pass it back with --config).");
        if (path is not null) text.AppendLine($"# read from {path} and the command line");
        text.Append(serializer.Serialize(map));
        return text.ToString();
    }

    /// <summary>Writes <see cref="ResolvedFileName"/> into <paramref name="directory"/>.</summary>
    public void Save(string directory, string command)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(System.IO.Path.Combine(directory, ResolvedFileName), ToYaml(command));
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null && result.Command is not RootCommand; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, result.Command.Name);
        return string.Join(' ', names);
    }

    private static string Normalize(string name) => name.Trim().TrimStart('-').Replace('_', '-').ToLowerInvariant();

    private T Convert<T>(object? raw, string optionName)
    {
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        try
        {
            if (raw is null || (raw is string s0 && s0 is "~" or "null" && type != typeof(string)))
            {
                if (default(T) is null) return default!;
                throw new FormatException("a value is required");
            }
            if (type == typeof(string[]))
            {
                var items = raw is IEnumerable<object?> list && raw is not string ? list.Select(x => x?.ToString() ?? "").ToArray() : [raw.ToString()!];
                return (T)(object)items;
            }
            if (raw is not string text) throw new FormatException("expected a single value");
            var invariant = CultureInfo.InvariantCulture;
            object value = type switch
            {
                _ when type == typeof(string) => text,
                _ when type == typeof(bool) => text.ToLowerInvariant() switch
                {
                    "true" or "yes" or "on" => true,
                    "false" or "no" or "off" => false,
                    _ => throw new FormatException("expected true or false"),
                },
                _ when type == typeof(int) => int.Parse(text, NumberStyles.Integer, invariant),
                _ when type == typeof(long) => long.Parse(text, NumberStyles.Integer, invariant),
                _ when type == typeof(ulong) => ulong.Parse(text, NumberStyles.Integer, invariant),
                _ when type == typeof(float) => float.Parse(text, NumberStyles.Float, invariant),
                _ when type == typeof(double) => double.Parse(text, NumberStyles.Float, invariant),
                _ => throw new NotSupportedException($"options of type {type.Name} cannot be set from a config file"),
            };
            return (T)value;
        }
        catch (Exception error) when (error is FormatException or OverflowException or InvalidCastException)
        {
            throw new FormatException($"{path}: bad value '{raw}' for {optionName} ({error.Message}).");
        }
    }
}

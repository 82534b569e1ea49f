// `rlhf tokenize` (ids of a text) and `rlhf tokenizer train` (a new byte-level BPE vocabulary).
using System.CommandLine;
using System.IO.Compression;
using System.Text.Json;
using Rlhf.Text;
using Spectre.Console;

namespace Rlhf.Cli.Commands;

internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model or tokenizer folder.", Required = true };
        var text = new Option<string?>("--text") { Description = "Text to tokenize." };
        var file = new Option<string?>("--file") { Description = "File whose contents to tokenize." };
        var messages = new Option<string?>("--messages") { Description = "JSON file with a message list ([{\"role\": ..., \"content\": ...}]) to render with the folder's chat template." };
        var noGenerationPrompt = new Option<bool>("--no-generation-prompt") { Description = "With --messages: render without the opening of an assistant turn (add_generation_prompt=False)." };
        var json = new Option<bool>("--json") { Description = "Print {\"ids\": [...]} (with --messages: {\"text\": ..., \"ids\": [...]})." };
        var addSpecial = new Option<bool>("--add-special-tokens") { Description = "Add the special tokens the tokenizer puts around a sequence (e.g. Llama's BOS), as transformers' add_special_tokens=True." };
        var command = new Command("tokenize", "Show the token ids of a text, or the chat-template rendering of a conversation.") { model, text, file, messages, noGenerationPrompt, json, addSpecial };
        command.SetAction(CommandRunner.Guard(parse =>
        {
            string? inline = parse.GetValue(text), path = parse.GetValue(file), conversation = parse.GetValue(messages);
            if (new[] { inline, path, conversation }.Count(v => v is not null) != 1) throw new ArgumentException("Give exactly one of --text, --file and --messages.");
            if (parse.GetValue(noGenerationPrompt) && conversation is null) throw new ArgumentException("--no-generation-prompt applies to --messages only.");
            string folder = parse.GetValue(model)!;
            if (conversation is not null) return RenderMessages(folder, conversation, !parse.GetValue(noGenerationPrompt), parse.GetValue(json));
            string input = inline ?? File.ReadAllText(path!);
            var tokenizer = BpeTokenizer.FromFolder(folder);
            var ids = parse.GetValue(addSpecial) ? tokenizer.EncodeWithSpecialTokens(input) : tokenizer.Encode(input);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { ids }));
                return 0;
            }
            var table = new Table().AddColumns("id", "token", "text");
            foreach (int id in ids) table.AddRow($"{id}", Markup.Escape(tokenizer.IdToToken(id)), Markup.Escape(tokenizer.Decode([id])));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"{ids.Length} tokens");
            return 0;
        }));
        return command;
    }

    /// <summary>apply_chat_template(messages, tokenize=False, add_generation_prompt=...): the text exactly, or with --json
    /// the text and its ids (tokenized as apply_chat_template(tokenize=True) does: no special tokens added).</summary>
    private static int RenderMessages(string folder, string messagesPath, bool addGenerationPrompt, bool json)
    {
        if (!File.Exists(messagesPath)) throw new FileNotFoundException($"The messages file '{messagesPath}' does not exist.");
        var chat = ChatTemplate.TryLoad(folder)
            ?? throw new ArgumentException($"The folder '{folder}' has no chat template (tokenizer_config.json \"chat_template\" or {ChatTemplate.JinjaFileName}).");
        List<ChatMessage> conversation;
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(messagesPath));
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("messages", out var inner)) root = inner;
            conversation = ChatMessage.ParseList(root, messagesPath);
        }
        catch (JsonException e)
        {
            throw new FormatException($"{messagesPath}: not valid JSON ({e.Message})");
        }
        string rendered = chat.Render(conversation, addGenerationPrompt);
        if (!json)
        {
            Console.Out.Write(rendered);
            Console.Out.Flush();
            return 0;
        }
        var ids = BpeTokenizer.FromFolder(folder).Encode(rendered);
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        Console.WriteLine(JsonSerializer.Serialize(new { text = rendered, ids }, options));
        return 0;
    }

    public static Command CreateTokenizer()
    {
        var inputs = new Option<string[]>("--input") { Description = "Training text: plain text files, or JSONL(.gz) whose string fields are used.", Required = true, AllowMultipleArgumentsPerToken = true };
        var vocabSize = new Option<int>("--vocab-size") { Description = "Vocabulary size, special tokens included.", Required = true };
        var output = new Option<string>("--output") { Description = "Folder for vocab.json, merges.txt, tokenizer.json, tokenizer_config.json.", Required = true };
        var minFrequency = new Option<int>("--min-frequency") { Description = "Merge only pairs seen at least this often.", DefaultValueFactory = _ => 2 };
        var special = new Option<string[]>("--special-token") { Description = "Special tokens (default <|endoftext|>).", AllowMultipleArgumentsPerToken = true };
        var train = new Command("train", "Train a byte-level BPE tokenizer (GPT-2's algorithm and file formats).") { inputs, vocabSize, output, minFrequency, special };
        train.SetAction(CommandRunner.Guard(parse =>
        {
            var files = parse.GetValue(inputs)!;
            foreach (var path in files) if (!File.Exists(path)) throw new FileNotFoundException($"Input file '{path}' does not exist.");
            var specials = parse.GetValue(special) is { Length: > 0 } given ? given : [BpeTokenizer.EndOfText];
            var tokenizer = BpeTrainer.Train(files.SelectMany(ReadTexts), parse.GetValue(vocabSize), specials, parse.GetValue(minFrequency));
            tokenizer.Save(parse.GetValue(output)!);
            AnsiConsole.MarkupLine($"Trained a vocabulary of {tokenizer.VocabSize} tokens; wrote it to [green]{Markup.Escape(parse.GetValue(output)!)}[/].");
            return 0;
        }));
        var command = new Command("tokenizer", "Tokenizer tools.");
        command.Subcommands.Add(train);
        return command;
    }

    /// <summary>Plain text files line by line; JSONL(.gz) rows as the concatenation of their string fields.</summary>
    public static IEnumerable<string> ReadTexts(string path)
    {
        bool gzip = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        string name = gzip ? path[..^3] : path;
        using Stream raw = File.OpenRead(path);
        using Stream stream = gzip ? new GZipStream(raw, CompressionMode.Decompress) : raw;
        using var reader = new StreamReader(stream);
        bool jsonl = name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        while (reader.ReadLine() is { } line)
        {
            if (!jsonl)
            {
                yield return line + "\n";
                continue;
            }
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var row = JsonDocument.Parse(line);
            foreach (var property in row.RootElement.EnumerateObject())
                if (property.Value.ValueKind == JsonValueKind.String) yield return property.Value.GetString()!;
        }
    }
}

// Real Hub tokenizer files (tests/fixtures/hub_tokenizers: Phi-3-mini's SentencePiece-style BPE with byte_fallback,
// Phi-2's byte-level BPE with runs of spaces as added tokens; both MIT) against transformers.js's tokenizer and Jinja
// packages (tools/reference/tokenizers/hub_fixtures.mjs): ids, decodings, and the chat template's text and ids.
using System.Text.Json;
using Rlhf.Tests.Support;
using Rlhf.Text;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class HubTokenizerTests
{
    public static readonly string[] Folders = ["phi3_mini", "phi2"];

    private static readonly Dictionary<string, BpeTokenizer> Loaded = [];

    private static BpeTokenizer Load(string folder)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(folder, out var tokenizer)) Loaded[folder] = tokenizer = BpeTokenizer.FromFolder(Fixtures.Path("hub_tokenizers", folder));
            return tokenizer;
        }
    }

    private static JsonElement Expected(string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("hub_tokenizers", folder, "expected.json")));
        return doc.RootElement.Clone();
    }

    private static int[] Ids(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetInt32())];

    public static TheoryData<string, int> TextCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string folder in Folders)
            for (int i = 0; i < Expected(folder).GetProperty("cases").GetArrayLength(); i++) data.Add(folder, i);
        return data;
    }

    /// <summary>Exact ids (tolerance: none) for encode(add_special_tokens=False/True) and both decodings.</summary>
    [Theory]
    [MemberData(nameof(TextCases))]
    public void Encodes_and_decodes_as_transformers_js(string folder, int index)
    {
        var tokenizer = Load(folder);
        var expected = Expected(folder).GetProperty("cases")[index];
        string text = expected.GetProperty("text").GetString()!;
        int[] ids = Ids(expected.GetProperty("ids"));
        Assert.Equal(ids, tokenizer.Encode(text));
        Assert.Equal(Ids(expected.GetProperty("ids_with_special_tokens")), tokenizer.EncodeWithSpecialTokens(text));
        Assert.Equal(expected.GetProperty("decoded").GetString(), tokenizer.Decode(ids));
        Assert.Equal(expected.GetProperty("decoded_skip_special").GetString(), tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    public static TheoryData<int> ChatCases()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Expected("phi3_mini").GetProperty("chat").GetArrayLength(); i++) data.Add(i);
        return data;
    }

    /// <summary>Phi-3's own chat template (tokenizer_config.json) rendered and tokenized as apply_chat_template does.</summary>
    [Theory]
    [MemberData(nameof(ChatCases))]
    public void Chat_template_renders_and_tokenizes_as_transformers_js(int index)
    {
        var expected = Expected("phi3_mini").GetProperty("chat")[index];
        using var conversations = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("chat_templates", "conversations.json")));
        string name = expected.GetProperty("conversation").GetString()!;
        var messages = ChatMessage.ParseList(conversations.RootElement.GetProperty(name), name);
        var template = ChatTemplate.TryLoad(Fixtures.Path("hub_tokenizers", "phi3_mini"))!;
        string text = template.Render(messages, expected.GetProperty("add_generation_prompt").GetBoolean());
        Assert.Equal(expected.GetProperty("text").GetString(), text);
        Assert.Equal(Ids(expected.GetProperty("ids")), Load("phi3_mini").Encode(text));
    }

    /// <summary>A completion tokenized after its prompt, as TRL slices it, has no word-boundary "▁" the prompt's
    /// newline would not give it; tokenized alone, the SentencePiece normalizer prepends one.</summary>
    [Fact]
    public void Completions_are_tokenized_after_their_prompt_as_TRL_slices_them()
    {
        var phi3 = Load("phi3_mini");
        var encoder = new Rlhf.Data.DelegateTextEncoder(text => phi3.Encode(text));
        const string prompt = "Question: what is two plus two?\nAnswer:\n", completion = "Four.";
        int[] after = Rlhf.Data.TokenSequences.After(encoder, prompt, completion);
        int[] joined = [.. phi3.Encode(prompt), .. after];
        Assert.Equal(phi3.Encode(prompt + completion), joined);
        Assert.NotEqual(phi3.Encode(completion), after);
        Assert.Equal(completion, phi3.Decode(after));
    }

    [Fact]
    public void Special_tokens_come_from_the_shipped_configs()
    {
        var phi3 = Load("phi3_mini");
        Assert.Equal((1, 32000, 0, 32000), (phi3.BosTokenId, phi3.EosTokenId, phi3.UnkTokenId, phi3.PadTokenId));
        Assert.Equal(4096, phi3.ModelMaxLength);
        Assert.Empty(phi3.PrefixTokenIds); // add_bos_token false and a TemplateProcessing without BOS
        Assert.Equal(32011, phi3.VocabSize);
        Assert.True(phi3.IsSpecialToken(32010)); // <|user|>

        var phi2 = Load("phi2");
        Assert.Equal(50256, phi2.EosTokenId);
        Assert.False(phi2.IsSpecialToken(50257)); // a run of 31 spaces, an added but not special token
        Assert.Equal(50295, phi2.VocabSize);
    }
}

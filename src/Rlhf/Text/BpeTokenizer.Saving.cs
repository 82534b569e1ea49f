// Writing a BpeTokenizer as a Hugging Face tokenizer folder (GPT2Tokenizer and tokenizers formats), atomically.
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Rlhf.Models;

namespace Rlhf.Text;

internal sealed partial class BpeTokenizer
{
    private static readonly JsonWriterOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions IndentedJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    /// <summary>
    /// Writes vocab.json, merges.txt, tokenizer.json, tokenizer_config.json and special_tokens_map.json into
    /// <paramref name="directory"/> (created if needed), each file atomically. The folder loads with
    /// <see cref="FromFolder"/> and with transformers' <c>AutoTokenizer</c> (GPT2TokenizerFast) or <c>GPT2Tokenizer</c>.
    /// </summary>
    public void Save(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        // GPT2Tokenizer's vocab.json + merges.txt describe GPT-2's pipeline only; other kinds live in tokenizer.json.
        if (IsGpt2Pipeline) SaveGpt2Files(directory);
        AtomicFile.Write(Path.Combine(directory, "tokenizer.json"), stream =>
        {
            using var json = new Utf8JsonWriter(stream, IndentedJson);
            WriteTokenizerJson(json);
        });
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), stream =>
        {
            using var json = new Utf8JsonWriter(stream, IndentedJson);
            WriteTokenizerConfig(json);
        });
        AtomicFile.Write(Path.Combine(directory, "special_tokens_map.json"), stream =>
        {
            using var json = new Utf8JsonWriter(stream, IndentedJson);
            json.WriteStartObject();
            foreach (var (name, token) in Specials.Named())
            {
                if (token is not null) json.WriteString(name, token);
            }
            json.WriteEndObject();
        });
    }

    private void SaveGpt2Files(string directory)
    {
        AtomicFile.Write(Path.Combine(directory, "vocab.json"), stream =>
        {
            using var json = new Utf8JsonWriter(stream, CompactJson);
            WriteVocabulary(json);
        });
        AtomicFile.Write(Path.Combine(directory, "merges.txt"), stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            writer.WriteLine("#version: 0.2");
            foreach (var (left, right) in merges)
            {
                writer.Write(left);
                writer.Write(' ');
                writer.WriteLine(right);
            }
        });
    }

    private void WriteVocabulary(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        for (int id = 0; id < idToToken.Length; id++)
        {
            if (idToToken[id] is { } token) json.WriteNumber(token, id);
        }
        json.WriteEndObject();
    }

    private void WriteAddedToken(Utf8JsonWriter json, AddedToken token, bool withId)
    {
        json.WriteStartObject();
        if (withId) json.WriteNumber("id", token.Id);
        json.WriteString("content", token.Content);
        json.WriteBoolean("single_word", token.SingleWord);
        json.WriteBoolean("lstrip", token.LStrip);
        json.WriteBoolean("rstrip", token.RStrip);
        json.WriteBoolean("normalized", token.Normalized);
        json.WriteBoolean("special", token.Special);
        json.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter json, string propertyName, bool addPrefixSpace, bool trimOffsets)
    {
        json.WriteStartObject(propertyName);
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", addPrefixSpace);
        json.WriteBoolean("trim_offsets", trimOffsets);
        json.WriteBoolean("use_regex", true);
        json.WriteEndObject();
    }

    private void WriteTokenizerJson(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");
        json.WriteStartArray("added_tokens");
        foreach (var token in addedTokens) WriteAddedToken(json, token, withId: true);
        json.WriteEndArray();
        if (pipeline.Source is { } source)
        {
            foreach (string section in new[] { "normalizer", "pre_tokenizer", "post_processor", "decoder" })
            {
                json.WritePropertyName(section);
                if (source[section] is { } node) node.WriteTo(json);
                else json.WriteNullValue();
            }
            json.WriteStartObject("model");
            foreach (var (name, node) in source["model"]!.AsObject())
            {
                json.WritePropertyName(name);
                if (node is null) json.WriteNullValue();
                else node.WriteTo(json);
            }
        }
        else
        {
            json.WriteNull("normalizer");
            WriteByteLevel(json, "pre_tokenizer", addPrefixSpace: false, trimOffsets: true);
            WriteByteLevel(json, "post_processor", addPrefixSpace: false, trimOffsets: false);
            WriteByteLevel(json, "decoder", addPrefixSpace: false, trimOffsets: true);

            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteString("continuing_subword_prefix", "");
            json.WriteString("end_of_word_suffix", "");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
        }
        json.WritePropertyName("vocab");
        WriteVocabulary(json);
        // "left right" strings load in every tokenizers version; pairs are needed only if a token holds a space.
        bool pairs = merges.Any(m => m.Left.Contains(' ') || m.Right.Contains(' '));
        json.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            if (pairs)
            {
                json.WriteStartArray();
                json.WriteStringValue(left);
                json.WriteStringValue(right);
                json.WriteEndArray();
            }
            else
            {
                json.WriteStringValue($"{left} {right}");
            }
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private void WriteTokenizerConfig(Utf8JsonWriter json)
    {
        if (SourceConfig is not null)
        {
            WriteSourceConfig(json);
            return;
        }
        json.WriteStartObject();
        json.WriteString("tokenizer_class", "GPT2Tokenizer");
        json.WriteBoolean("add_bos_token", false);
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("clean_up_tokenization_spaces", false);
        json.WriteString("errors", "replace");
        json.WriteNumber("model_max_length", ModelMaxLength);
        foreach (var (name, token) in Specials.Named())
        {
            if (token is not null) json.WriteString(name, token);
            else if (name != "pad_token") json.WriteNull(name);
        }
        json.WriteStartObject("added_tokens_decoder");
        foreach (var token in addedTokens)
        {
            json.WritePropertyName(token.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            WriteAddedToken(json, token, withId: false);
        }
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>The tokenizer_config.json this tokenizer came from (chat_template, tokenizer_class and other keys
    /// kept), with this tokenizer's special tokens, model_max_length and added tokens.</summary>
    private void WriteSourceConfig(Utf8JsonWriter json)
    {
        var config = (System.Text.Json.Nodes.JsonObject)SourceConfig!.DeepClone();
        config["model_max_length"] = ModelMaxLength;
        foreach (var (name, token) in Specials.Named()) config[name] = token;
        var decoder = new System.Text.Json.Nodes.JsonObject();
        foreach (var token in addedTokens)
        {
            decoder[token.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new System.Text.Json.Nodes.JsonObject
            {
                ["content"] = token.Content, ["lstrip"] = token.LStrip, ["normalized"] = token.Normalized,
                ["rstrip"] = token.RStrip, ["single_word"] = token.SingleWord, ["special"] = token.Special,
            };
        }
        config["added_tokens_decoder"] = decoder;
        config.WriteTo(json);
    }
}

// Row formats (hh-rlhf, TRL explicit/conversational, SFT, ranked): detection from a row's keys and parsing into records.
using System.Text;
using System.Text.Json;
using Rlhf.Text;

namespace Rlhf.Data;

/// <summary>The layout of one row. <see cref="Auto"/> detects it from the first row's keys.</summary>
internal enum DataFormat
{
    Auto,

    /// <summary>Anthropic hh-rlhf: <c>chosen</c>/<c>rejected</c> full dialogues <c>"\n\nHuman: …\n\nAssistant: …"</c>.</summary>
    HhRlhf,

    /// <summary>TRL explicit: <c>prompt</c>/<c>chosen</c>/<c>rejected</c> strings, optional <c>margin</c> number.</summary>
    PreferenceExplicit,

    /// <summary>TRL conversational: <c>chosen</c>/<c>rejected</c> (and optional <c>prompt</c>) lists of {role, content}.</summary>
    PreferenceConversational,

    /// <summary>SFT: instruction/response, prompt/response, prompt/completion, question/answer, text (hh dialogue) or messages.</summary>
    Instruction,

    /// <summary>Ranked: <c>prompt</c> + <c>responses</c> best first, or + <c>scores</c> (higher is better).</summary>
    Ranked,
}

/// <summary>Format detection and per-row parsing. Every error is a <see cref="DataFormatException"/> at the row.</summary>
internal static class DataFormats
{
    private static readonly (string Instruction, string Response)[] InstructionFieldPairs =
    [
        ("instruction", "response"), ("prompt", "completion"), ("prompt", "response"), ("question", "answer"),
    ];

    /// <summary>The format of <paramref name="row"/> judged from its keys (and the type of <c>chosen</c>).</summary>
    public static DataFormat Detect(DataRow row)
    {
        if (row.Has("chosen") && row.Has("rejected"))
        {
            if (row.Value.GetProperty("chosen").ValueKind == JsonValueKind.Array)
                return DataFormat.PreferenceConversational;
            return row.Has("prompt") ? DataFormat.PreferenceExplicit : DataFormat.HhRlhf;
        }
        if (row.Has("responses"))
            return DataFormat.Ranked;
        if (row.Has("messages") || row.Has("text") || InstructionFieldPairs.Any(p => row.Has(p.Instruction)))
            return DataFormat.Instruction;
        throw row.Error("unknown format",
            $"cannot tell the data format from the fields {row.FieldList()}; expected chosen/rejected (hh-rlhf), " +
            "prompt/chosen/rejected (TRL), responses (ranked) or instruction/response, prompt/completion, question/answer, text, messages (SFT)");
    }

    /// <summary>
    /// A raw preference pair (no template). hh-rlhf uses the textbook's <see cref="HhDialogue.ExtractConversation"/>:
    /// prompt = the chosen text's question, responses = each text's answer. Conversational: the prompt is the
    /// optional <c>prompt</c> messages plus all but the last message of <c>chosen</c>, flattened by <see cref="FlattenPrompt"/>.
    /// </summary>
    public static PreferencePair ParsePreference(DataRow row, DataFormat format)
    {
        switch (format)
        {
            case DataFormat.HhRlhf:
            {
                var (human, chosen) = HhDialogue.ExtractConversation(row.GetString("chosen"));
                var (_, rejected) = HhDialogue.ExtractConversation(row.GetString("rejected"));
                return new PreferencePair(human, chosen, rejected);
            }
            case DataFormat.PreferenceExplicit:
                return new PreferencePair(row.GetString("prompt"), row.GetString("chosen"), row.GetString("rejected"),
                    (float?)row.GetOptionalNumber("margin"));
            case DataFormat.PreferenceConversational:
            {
                var (prompt, chosen, rejected, _) = ParseConversation(row);
                return new PreferencePair(FlattenPrompt(prompt), chosen, rejected, (float?)row.GetOptionalNumber("margin"));
            }
            default:
                throw row.Error("wrong format", $"a {format} row is not a preference pair; choose a preference format or let it be detected");
        }
    }

    /// <summary>
    /// The conversational row as prompt messages and the final chosen/rejected assistant texts: the prompt (an explicit
    /// <c>prompt</c> list, or TRL's extraction, <see cref="ChatRendering.SplitPrompt"/>) and the chosen side's messages
    /// before its answer.
    /// </summary>
    public static (IReadOnlyList<ChatMessage> Prompt, string Chosen, string Rejected, bool MultiTurn) ParseConversation(DataRow row)
    {
        var chosen = ParseMessages(row, "chosen");
        var rejected = ParseMessages(row, "rejected");
        if (chosen.Count == 0 || rejected.Count == 0)
            throw row.Error("empty conversation", $"field '{(chosen.Count == 0 ? "chosen" : "rejected")}' has no messages; it must end with the assistant's answer");
        foreach (var (name, list) in new[] { ("chosen", chosen), ("rejected", rejected) })
            if (list[^1].Role != "assistant")
                throw row.Error("last message not assistant", $"the last message of '{name}' has role '{list[^1].Role}'; it must be the assistant's answer");
        IReadOnlyList<ChatMessage> prompt, chosenRest, rejectedRest;
        try
        {
            (prompt, chosenRest, rejectedRest) = ChatRendering.SplitPrompt(ListPrompt(row), chosen, rejected);
        }
        catch (FormatException e)
        {
            throw row.Error("no prompt", e.Message);
        }
        var fullPrompt = prompt.Concat(chosenRest.Take(chosenRest.Count - 1)).ToList();
        return (fullPrompt, chosen[^1].Content, rejected[^1].Content, IsMultiTurn(prompt, chosenRest, rejectedRest));
    }

    /// <summary>The textbook's single-turn rule ("Human: " at most once in chosen and in rejected) for messages: more than
    /// one user message in prompt + chosen or in prompt + rejected is multi-turn.</summary>
    public static bool IsMultiTurn(IReadOnlyList<ChatMessage> prompt, IReadOnlyList<ChatMessage> chosen, IReadOnlyList<ChatMessage> rejected) =>
        CountUserTurns(prompt) + Math.Max(CountUserTurns(chosen), CountUserTurns(rejected)) > 1;

    /// <summary>
    /// The row's <c>prompt</c> when it is a message list, else null: TRL's maybe_extract_prompt keeps a prompt only when it
    /// is conversational like chosen and rejected, and otherwise extracts it from them (a string prompt beside message
    /// lists, as in HuggingFaceH4/ultrafeedback_binarized, is not used).
    /// </summary>
    public static IReadOnlyList<ChatMessage>? ListPrompt(DataRow row) =>
        row.Value.TryGetProperty("prompt", out var prompt) && prompt.ValueKind == JsonValueKind.Array ? ParseMessages(row, "prompt") : null;

    /// <summary>A list of {role, content} objects in field <paramref name="field"/>.</summary>
    public static IReadOnlyList<ChatMessage> ParseMessages(DataRow row, string field)
    {
        var array = row.GetArray(field);
        var list = new List<ChatMessage>();
        int i = 0;
        foreach (var m in array.EnumerateArray())
        {
            i++;
            if (m.ValueKind != JsonValueKind.Object)
                throw row.Error($"field '{field}' has a bad message", $"field '{field}' message {i} is {DataRow.Describe(m.ValueKind)}; expected {{\"role\": \"user\", \"content\": \"…\"}}");
            string Get(string key) =>
                m.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString()!
                    : throw row.Error($"field '{field}' has a bad message", $"field '{field}' message {i}: '{key}' must be a string");
            string role = Get("role");
            if (!ChatMessage.KnownRoles.Contains(role))
                throw row.Error($"field '{field}' has an unknown role", $"field '{field}' message {i} has the unknown role '{role}'; expected one of {string.Join(", ", ChatMessage.KnownRoles)}");
            list.Add(new ChatMessage(role, Get("content")));
        }
        return list;
    }

    /// <summary>
    /// Prompt messages as one instruction string: a single user message (after optional system messages, which are
    /// put first, each followed by a blank line) is its content; a longer dialogue becomes
    /// <c>Human: …\n\nAssistant: …\n\nHuman: …</c> like <see cref="HhDialogue.ExtractLastTurn"/>.
    /// </summary>
    public static string FlattenPrompt(IReadOnlyList<ChatMessage> messages)
    {
        var system = messages.Where(m => m.Role == "system").Select(m => m.Content.Trim() + "\n\n");
        var rest = messages.Where(m => m.Role != "system").ToList();
        var sb = new StringBuilder(string.Concat(system));
        if (rest.Count == 1 && rest[0].Role == "user")
            return sb.Append(rest[0].Content).ToString();
        sb.Append(string.Join("\n\n", rest.Select(m => $"{(m.Role == "assistant" ? "Assistant" : "Human")}: {m.Content.Trim()}")));
        return sb.ToString();
    }

    /// <summary>Number of user turns in prompt messages (more than one = multi-turn).</summary>
    public static int CountUserTurns(IReadOnlyList<ChatMessage> messages) => messages.Count(m => m.Role == "user");

    /// <summary>
    /// A raw SFT example. Accepts instruction/response, prompt/completion, prompt/response, question/answer,
    /// <c>text</c> or <c>chosen</c> holding an hh dialogue (seed extraction), or <c>messages</c> (last = assistant answer).
    /// </summary>
    public static InstructionExample ParseInstruction(DataRow row)
    {
        foreach (var (inst, resp) in InstructionFieldPairs)
            if (row.Has(inst) && (row.Has(resp) || !HasOtherInstructionFields(row)))
                return new InstructionExample(row.GetString(inst), row.GetString(resp));
        if (row.Has("messages"))
        {
            var messages = ParseMessages(row, "messages");
            if (messages.Count == 0 || messages[^1].Role != "assistant")
                throw row.Error("last message not assistant", "field 'messages' must end with an assistant message (the response to learn)");
            return new InstructionExample(FlattenPrompt(messages.Take(messages.Count - 1).ToList()), messages[^1].Content);
        }
        foreach (string field in new[] { "text", "chosen" })
            if (row.Has(field))
            {
                var (human, answer) = HhDialogue.ExtractConversation(row.GetString(field));
                return new InstructionExample(human, answer);
            }
        throw row.Error("no instruction fields",
            $"no SFT fields among {row.FieldList()}; expected instruction/response, prompt/completion, prompt/response, question/answer, text or messages");
    }

    private static bool HasOtherInstructionFields(DataRow row) =>
        InstructionFieldPairs.Any(p => row.Has(p.Instruction) && row.Has(p.Response)) || row.Has("messages") || row.Has("text");

    /// <summary>
    /// A ranked example: <c>prompt</c> + <c>responses</c> (strings, best first), or with <c>scores</c> (numbers, higher
    /// is better) the responses sorted by descending score (stable for ties).
    /// </summary>
    /// <summary>
    /// `rlhf label` rows carry <c>ties</c>: groups of positions judged equal. A ranking must not order them, so each
    /// group keeps only its best-placed response (the K-wise loss then compares the remaining ones).
    /// </summary>
    private static List<string> WithoutTies(DataRow row, List<string> responses)
    {
        if (!row.HasValue("ties")) return responses;
        var dropped = new HashSet<int>();
        foreach (var group in row.GetArray("ties").EnumerateArray())
        {
            if (group.ValueKind != JsonValueKind.Array)
                throw row.Error("field 'ties' is not a list of groups", "field 'ties' must hold lists of response positions, e.g. [[1, 2]]");
            var positions = group.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int v) && v >= 0 && v < responses.Count
                ? v : throw row.Error("field 'ties' has a bad position", $"tie positions must be integers in [0, {responses.Count})")).Order().ToArray();
            foreach (int position in positions.Skip(1)) dropped.Add(position);
        }
        var kept = responses.Where((_, index) => !dropped.Contains(index)).ToList();
        if (kept.Count < 2) throw row.Error("too few responses", "all responses are tied; the row holds no preference");
        return kept;
    }

    public static RankedExample ParseRanked(DataRow row)
    {
        string prompt = row.GetString("prompt");
        var responses = new List<string>();
        int i = 0;
        foreach (var r in row.GetArray("responses").EnumerateArray())
        {
            i++;
            if (r.ValueKind != JsonValueKind.String)
                throw row.Error("field 'responses' is not a list of strings", $"field 'responses' element {i} must be a string (found {DataRow.Describe(r.ValueKind)})");
            responses.Add(r.GetString()!);
        }
        if (responses.Count < 2)
            throw row.Error("too few responses", $"field 'responses' has {responses.Count} response(s); a ranking needs at least 2");
        if (!row.HasValue("scores"))
            return new RankedExample(prompt, WithoutTies(row, responses));
        var scores = new List<double>();
        i = 0;
        foreach (var s in row.GetArray("scores").EnumerateArray())
        {
            i++;
            if (s.ValueKind != JsonValueKind.Number || !double.IsFinite(s.GetDouble()))
                throw row.Error("field 'scores' is not a list of numbers", $"field 'scores' element {i} must be a finite number (found {DataRow.Describe(s.ValueKind)})");
            scores.Add(s.GetDouble());
        }
        if (scores.Count != responses.Count)
            throw row.Error("scores and responses differ in length", $"field 'scores' has {scores.Count} values but 'responses' has {responses.Count}; give one score per response");
        var order = Enumerable.Range(0, responses.Count).OrderByDescending(k => scores[k]).ToList();
        return new RankedExample(prompt, order.Select(k => responses[k]).ToList(), order.Select(k => scores[k]).ToList());
    }
}

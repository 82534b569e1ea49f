// Conversational rows whose messages have an unknown role or a non-string content are errors that name the row.
using System.Text.Json;
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class ConversationalRoleTests
{
    private static DataRow Row(string json) => new("pairs.jsonl", 12, false, JsonDocument.Parse(json).RootElement.Clone());

    [Theory]
    [InlineData("""{"chosen": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}""", "message 2 has the unknown role 'bot'")]
    [InlineData("""{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ["a"]}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}]}""", "message 2: 'content' must be a string")]
    public void Bad_messages_name_the_row(string json, string message)
    {
        var error = Assert.Throws<DataFormatException>(() => DataFormats.ParsePreference(Row(json), DataFormat.PreferenceConversational));
        Assert.StartsWith("pairs.jsonl:12: ", error.Message);
        Assert.Contains(message, error.Message);
    }
}

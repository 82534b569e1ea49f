// The labeling web server over real HTTP on 127.0.0.1: the page, the JSON API, and bad requests (400, nothing written).
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Rlhf.Cli.Labeling;
using Rlhf.Feedback;
using Rlhf.Tests.Support;
using Xunit;

namespace Rlhf.Tests.Feedback;

public sealed class LabelServerTests : IAsyncLifetime
{
    private readonly TempDirectory dir = new();
    private LabelServer server = null!;
    private LabelingSession session = null!;
    private readonly HttpClient client = new();

    private string Output => dir.Sub("feedback.jsonl");

    public async Task InitializeAsync()
    {
        session = LabelFixtures.Session(Output, prompts: 3);
        server = await LabelServer.StartAsync(session, new LabelServerOptions { GuidelinesMarkdown = "# Rules\n- be **kind** <script>alert(1)</script>\n" });
        client.BaseAddress = server.Url;
    }

    public async Task DisposeAsync()
    {
        await server.DisposeAsync();
        client.Dispose();
        dir.Dispose();
    }

    private async Task<JsonElement> GetJson(string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Post(string path, string body, string contentType = "application/json")
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await client.PostAsync(path, content);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    [Fact]
    public void ListensOnLoopbackOnly() => Assert.Equal("127.0.0.1", server.Url.Host);

    [Fact]
    public async Task ThePageIsSelfContainedAndTheGuidelinesAreEscaped()
    {
        var response = await client.GetAsync("/");
        string html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", ""));
        Assert.DoesNotContain("https://", html);
        Assert.DoesNotContain("__NONCE__", html);
        string csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'nonce-", csp);
        Assert.Contains("default-src 'none'", csp);

        var config = await GetJson("/api/config");
        string guidelines = config.GetProperty("guidelines_html").GetString()!;
        Assert.Contains("<strong>kind</strong>", guidelines);
        Assert.DoesNotContain("<script", guidelines);
        Assert.Contains("&lt;script&gt;", guidelines);
        Assert.Equal(4, config.GetProperty("k").GetInt32());
        Assert.Equal("ann", config.GetProperty("annotator").GetString());
    }

    [Fact]
    public async Task RankingATaskAppendsTheRecordAndMovesOn()
    {
        var task = await GetJson("/api/task");
        string id = task.GetProperty("prompt_id").GetString()!;
        var responses = task.GetProperty("responses").EnumerateArray().Select(r => r.GetString()!).ToArray();
        Assert.Equal(4, responses.Length);
        Assert.Equal(id, (await GetJson("/api/task")).GetProperty("prompt_id").GetString()); // same task until judged

        var (status, body) = await Post("/api/rank",
            $$"""{"prompt_id":"{{id}}","order":[3,1,0,2],"ties":[[1,0]],"flags":{"2":["harmful"]},"annotator":"ann"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("judged").GetInt32());
        var record = FeedbackRecord.Parse(File.ReadAllLines(Output).Single());
        Assert.Equal(new[] { responses[3], responses[1], responses[0], responses[2] }, record.Responses);
        Assert.Equal([[1, 2]], record.Ties.Select(t => t.ToArray()));
        Assert.Equal(["harmful"], record.Flags[3]);
        Assert.Equal("ann", record.Annotator);
        Assert.Equal("tiny", record.Model);

        var next = await GetJson("/api/task");
        Assert.NotEqual(id, next.GetProperty("prompt_id").GetString());
        Assert.Equal(1, next.GetProperty("judged").GetInt32());
    }

    [Fact]
    public async Task SkipMovesOnWithoutWriting()
    {
        string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
        var (status, _) = await Post("/api/skip", $$"""{"prompt_id":"{{id}}"}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.NotEqual(id, (await GetJson("/api/task")).GetProperty("prompt_id").GetString());
        Assert.False(File.Exists(Output));
    }

    public static TheoryData<string, string> BadRankBodies => new()
    {
        { "unknown prompt id", """{"prompt_id":"0123456789abcdef","order":[0,1,2,3]}""" },
        { "not JSON", """{"prompt_id": """ },
        { "array body", "[1,2,3]" },
        { "missing order", """{"prompt_id":"ID"}""" },
        { "order too short", """{"prompt_id":"ID","order":[0,1,2]}""" },
        { "order repeats", """{"prompt_id":"ID","order":[0,1,1,3]}""" },
        { "rank out of range", """{"prompt_id":"ID","order":[0,1,2,4]}""" },
        { "negative rank", """{"prompt_id":"ID","order":[0,1,2,-1]}""" },
        { "fractional rank", """{"prompt_id":"ID","order":[0,1,2,3.5]}""" },
        { "string rank", """{"prompt_id":"ID","order":[0,1,2,"3"]}""" },
        { "unknown flag", """{"prompt_id":"ID","order":[0,1,2,3],"flags":{"1":["spam"]}}""" },
        { "flag index out of range", """{"prompt_id":"ID","order":[0,1,2,3],"flags":{"9":["harmful"]}}""" },
        { "flag key not a number", """{"prompt_id":"ID","order":[0,1,2,3],"flags":{"x":["harmful"]}}""" },
        { "tie out of range", """{"prompt_id":"ID","order":[0,1,2,3],"ties":[[3,4]]}""" },
        { "tie not adjacent", """{"prompt_id":"ID","order":[0,1,2,3],"ties":[[0,3]]}""" },
        { "annotator too long", """{"prompt_id":"ID","order":[0,1,2,3],"annotator":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}""" },
        { "deeply nested", """{"prompt_id":"ID","order":[0,1,2,3],"x":[[[[[[[[[[[[1]]]]]]]]]]]]}""" },
    };

    [Theory]
    [MemberData(nameof(BadRankBodies))]
    public async Task BadRankRequestsGet400AndWriteNothing(string why, string body)
    {
        string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
        var (status, error) = await Post("/api/rank", body.Replace("\"ID\"", $"\"{id}\""));
        Assert.True(status == HttpStatusCode.BadRequest, $"{why}: got {status}");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("error").GetString()));
        Assert.False(File.Exists(Output), why);
        Assert.Equal(id, (await GetJson("/api/task")).GetProperty("prompt_id").GetString());
    }

    [Fact]
    public async Task OversizedBodiesWrongContentTypesAndForeignHostsGet400()
    {
        string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
        string huge = $$"""{"prompt_id":"{{id}}","order":[0,1,2,3],"annotator":"a","pad":"{{new string('x', 70_000)}}"}""";
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/api/rank", huge)).Status);

        // Without a Content-Length (chunked), the limit still holds.
        var chunked = new HttpRequestMessage(HttpMethod.Post, "/api/rank") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(huge))) };
        chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(chunked)).StatusCode);

        // A form post from another site (no CORS preflight) is refused.
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/api/rank", $$"""{"prompt_id":"{{id}}","order":[0,1,2,3]}""", "text/plain")).Status);

        var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/task");
        rebound.Headers.Host = "evil.example:80";
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(rebound)).StatusCode);

        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/api/skip", """{"prompt_id":"nope"}""")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/api/skip", "{}")).Status);
        Assert.False(File.Exists(Output));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/nothing")).StatusCode);
    }

    [Fact]
    public async Task AllJudgedReportsDone()
    {
        for (int i = 0; i < 3; i++)
        {
            string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
            Assert.Equal(HttpStatusCode.OK, (await Post("/api/rank", $$"""{"prompt_id":"{{id}}","order":[0,1,2,3]}""")).Status);
        }
        var done = await GetJson("/api/task");
        Assert.True(done.GetProperty("done").GetBoolean());
        Assert.Equal(3, File.ReadAllLines(Output).Length);
        Assert.All(File.ReadAllLines(Output), line => Assert.Equal("ann", FeedbackRecord.Parse(line).Annotator));
    }

    [Fact]
    public async Task TheAnnotatorComesFromTheSessionOnly()
    {
        string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
        var (status, error) = await Post("/api/rank", $$"""{"prompt_id":"{{id}}","order":[0,1,2,3],"annotator":"zoe"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("fixed by the session ('ann')", error.GetProperty("error").GetString());
        Assert.False(File.Exists(Output) && File.ReadAllText(Output).Length > 0);
        Assert.Equal(HttpStatusCode.OK, (await Post("/api/rank", $$"""{"prompt_id":"{{id}}","order":[0,1,2,3]}""")).Status);
        Assert.Equal("ann", FeedbackRecord.Parse(File.ReadAllLines(Output).Single()).Annotator);
    }

    [Theory]
    [InlineData("application/json", true)]
    [InlineData("Application/JSON; charset=utf-8", true)]
    [InlineData("application/jsonx", false)]
    [InlineData("application/json-patch+json", false)]
    [InlineData("application/json; charset=latin1", false)]
    [InlineData("text/json", false)]
    [InlineData(null, false)]
    public void ContentTypeMustBeExactlyJson(string? contentType, bool accepted) =>
        Assert.Equal(accepted, LabelServer.IsJsonContentType(contentType));

    [Fact]
    public async Task JsonxIsRejectedOverHttp()
    {
        string id = (await GetJson("/api/task")).GetProperty("prompt_id").GetString()!;
        Assert.Equal(HttpStatusCode.BadRequest, (await Post("/api/rank", $$"""{"prompt_id":"{{id}}","order":[0,1,2,3]}""", "application/jsonx")).Status);
    }

    [Fact]
    public async Task AnUnassignableAddressNamesHostAndPort()
    {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to this machine.
        var other = LabelFixtures.Session(dir.Sub("other.jsonl"));
        var error = await Assert.ThrowsAsync<IOException>(() => LabelServer.StartAsync(other, new LabelServerOptions { Host = "192.0.2.1", Port = 8799 }));
        Assert.Contains("192.0.2.1:8799", error.Message);
    }

    [SkippableFact]
    public async Task Ipv6LoopbackServesWithABracketedUrl()
    {
        Skip.IfNot(System.Net.Sockets.Socket.OSSupportsIPv6, "this machine has no IPv6");
        var other = LabelFixtures.Session(dir.Sub("v6.jsonl"));
        LabelServer v6;
        try
        {
            v6 = await LabelServer.StartAsync(other, new LabelServerOptions { Host = "::1" });
        }
        catch (IOException e)
        {
            Skip.If(true, $"IPv6 loopback is not available here: {e.Message}");
            throw;
        }
        await using (v6)
        {
            Assert.Equal("[::1]", v6.Url.Host);
            using var http = new HttpClient { BaseAddress = v6.Url };
            var response = await http.GetAsync("/api/config");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task ABusyPortIsAClearError()
    {
        var other = LabelFixtures.Session(dir.Sub("other.jsonl"));
        var error = await Assert.ThrowsAsync<IOException>(() => LabelServer.StartAsync(other, new LabelServerOptions { Port = server.Url.Port }));
        Assert.Contains(server.Url.Port.ToString(), error.Message);
    }
}

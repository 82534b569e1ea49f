// The local web page of `rlhf label`: a minimal-API host (Kestrel, loopback by default) over a LabelingSession.
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Rlhf.Feedback;

namespace Rlhf.Cli.Labeling;

internal sealed record LabelServerOptions
{
    /// <summary>The address to bind; anything but loopback must be asked for explicitly (--host).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 = a free port chosen by the system.</summary>
    public int Port { get; init; }

    public string GuidelinesMarkdown { get; init; } = Guidelines.Default;

    /// <summary>Larger request bodies are rejected with 400 before they are parsed.</summary>
    public int MaxBodyBytes { get; init; } = 64 * 1024;
}

/// <summary>
/// Serves the labeling page and its JSON API:
/// <c>GET /</c> the page; <c>GET /api/config</c> annotator, model, K, flag names, guidelines (HTML, escaped);
/// <c>GET /api/task</c> the current prompt and its K responses (or <c>{"done": true}</c>);
/// <c>POST /api/rank</c> <c>{prompt_id, order, ties, flags, annotator}</c> → the record is appended;
/// <c>POST /api/skip</c> <c>{prompt_id}</c>. Bad requests get 400 with <c>{"error": "..."}</c> and write nothing.
/// </summary>
internal sealed class LabelServer : IAsyncDisposable
{
    private readonly WebApplication app;

    public Uri Url { get; }

    private LabelServer(WebApplication app, Uri url)
    {
        this.app = app;
        Url = url;
    }

    public static async Task<LabelServer> StartAsync(LabelingSession session, LabelServerOptions options, CancellationToken cancel = default)
    {
        if (options.Port is < 0 or > 65535) throw new ArgumentException($"--port must lie in 0..65535 (got {options.Port}).");
        if (!IPAddress.TryParse(options.Host, out var address) && options.Host != "localhost")
            throw new ArgumentException($"--host must be an IP address or localhost (got '{options.Host}').");
        bool loopbackOnly = options.Host == "localhost" || IPAddress.IsLoopback(address!);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 4L * options.MaxBodyBytes; // a backstop; the handlers enforce MaxBodyBytes
            if (options.Host == "localhost") kestrel.ListenLocalhost(options.Port);
            else kestrel.Listen(address!, options.Port);
        });
        var app = builder.Build();
        var page = LoadPage();
        string guidelinesHtml = SimpleMarkdown.ToHtml(options.GuidelinesMarkdown);

        app.Use(async (context, next) =>
        {
            // DNS rebinding: a loopback server answers only requests addressed to a loopback name.
            if (loopbackOnly && !IsLoopbackHost(context.Request.Host.Host))
            {
                await WriteJson(context, 400, new { error = "requests must be addressed to a loopback address or localhost" });
                return;
            }
            context.Response.Headers.CacheControl = "no-store";
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            context.Response.Headers["X-Frame-Options"] = "DENY";
            try
            {
                await next(context);
            }
            catch (FeedbackValidationException error)
            {
                await WriteJson(context, 400, new { error = error.Message });
            }
            catch (Exception error) when (!context.Response.HasStarted && error is not OperationCanceledException)
            {
                await WriteJson(context, 500, new { error = error.Message });
            }
        });

        app.MapGet("/", async context =>
        {
            string nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            context.Response.Headers.ContentSecurityPolicy =
                $"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
            context.Response.ContentType = "text/html; charset=utf-8";
            await context.Response.WriteAsync(page.Replace("__NONCE__", nonce, StringComparison.Ordinal));
        });

        app.MapGet("/api/config", context => WriteJson(context, 200, new
        {
            annotator = session.Annotator,
            model = session.Model,
            k = session.ResponseCount,
            flags = RankSubmission.FlagNames,
            total = session.Total,
            guidelines_html = guidelinesHtml,
            sampling = session.Sampling,
        }));

        app.MapGet("/api/task", async context =>
        {
            var task = await Task.Run(() => session.Current());
            if (task is null)
            {
                await WriteJson(context, 200, new { done = true, judged = session.Judged, total = session.Total });
                return;
            }
            await WriteJson(context, 200, new
            {
                done = false,
                prompt_id = task.PromptId,
                prompt = task.Prompt,
                rendered_prompt = task.RenderedPrompt,
                responses = task.Responses,
                judged = task.Judged,
                total = task.Total,
            });
        });

        app.MapPost("/api/rank", async context =>
        {
            var submission = RankSubmission.Parse(await ReadBody(context.Request, options.MaxBodyBytes));
            var record = session.Submit(submission);
            await WriteJson(context, 200, new { ok = true, prompt_id = record.PromptId, judged = session.Judged, total = session.Total });
        });

        app.MapPost("/api/skip", async context =>
        {
            session.Skip(RankSubmission.ParsePromptId(await ReadBody(context.Request, options.MaxBodyBytes)));
            await WriteJson(context, 200, new { ok = true, judged = session.Judged, total = session.Total });
        });

        try
        {
            await app.StartAsync(cancel);
        }
        catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException)
        {
            await app.DisposeAsync();
            string host = address?.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{options.Host}]" : options.Host;
            string reason = (error.InnerException as System.Net.Sockets.SocketException)?.Message ?? error.Message;
            throw new IOException($"Cannot listen on {host}:{options.Port} (--host, --port): {reason}", error);
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(bound.Replace("[::]", "localhost", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
        return new LabelServer(app, url);
    }

    /// <summary>Runs until <paramref name="cancel"/> fires or the process is asked to stop (SIGINT / SIGTERM), then stops.</summary>
    public async Task RunUntilCancelledAsync(CancellationToken cancel)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel, app.Lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await app.StopAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None);
        await app.DisposeAsync();
    }

    /// <summary>True for localhost and loopback addresses; IPv6 hosts arrive bracketed ("[::1]").</summary>
    private static bool IsLoopbackHost(string host) =>
        host is "localhost" || (IPAddress.TryParse(host.TrimStart('[').TrimEnd(']'), out var ip) && IPAddress.IsLoopback(ip));

    /// <summary>True for exactly <c>application/json</c> (any case, parameters allowed), with no charset other than UTF-8.</summary>
    public static bool IsJsonContentType(string? contentType)
    {
        if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var type)) return false;
        return type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            && (!type.Charset.HasValue || type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Reads a JSON body of at most <paramref name="maxBytes"/> bytes as strict UTF-8.</summary>
    private static async Task<string> ReadBody(HttpRequest request, int maxBytes)
    {
        if (request.ContentLength > maxBytes) throw new FeedbackValidationException($"the request body exceeds {maxBytes} bytes");
        if (!IsJsonContentType(request.ContentType))
            throw new FeedbackValidationException("the request must have Content-Type: application/json");
        var buffer = new byte[maxBytes + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await request.Body.ReadAsync(buffer.AsMemory(length));
            if (read == 0) break;
            length += read;
        }
        if (length > maxBytes) throw new FeedbackValidationException($"the request body exceeds {maxBytes} bytes");
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, length);
        }
        catch (DecoderFallbackException)
        {
            throw new FeedbackValidationException("the request body is not valid UTF-8");
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static Task WriteJson(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        return context.Response.WriteAsync(JsonSerializer.Serialize(value, JsonOptions));
    }

    private static string LoadPage()
    {
        using var stream = typeof(LabelServer).Assembly.GetManifestResourceStream("Rlhf.Cli.Labeling.label.html")
            ?? throw new InvalidOperationException("the labeling page is missing from the assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

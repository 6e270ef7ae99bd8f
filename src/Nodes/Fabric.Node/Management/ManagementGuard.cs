using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Fabric.Node.Management;

/// <summary>
/// The first middleware of the management HTTP server: refuses hostile or malformed requests
/// before a handler runs, answers every refusal with <c>{"error":"one line"}</c>, and logs each
/// refused request once, on one line, without a stack trace.
/// </summary>
/// <remarks>
/// What it refuses, in this order (see docs/reliability-hostile.md):
/// <list type="bullet">
/// <item>a decoded path longer than <see cref="MaxPathLength"/> characters: 414 (a request line over
/// Kestrel's own 8 KiB limit is refused by Kestrel with 414 and no body);</item>
/// <item>a declared body larger than <see cref="MaxRequestBodyBytes"/>: 413 before reading it; a chunked
/// body that grows past it: 413 when the handler reads past the limit (Kestrel's per-request limit);</item>
/// <item>a body whose <c>Content-Type</c> is not JSON (<c>application/json</c> or <c>*/*+json</c>): 415;</item>
/// <item>no route for the path: 404; a route without the method: 405 naming the allowed methods.</item>
/// </list>
/// Missing or wrong tokens (401) are refused by <see cref="ManagementResults.RequireManagementToken{TBuilder}"/>,
/// malformed JSON (400) by the handler; both are logged here too.
/// </remarks>
public sealed partial class ManagementGuard
{
    /// <summary>Largest request body a management route accepts (1 MiB; a mirror definition is under 2 KiB).</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>Longest decoded request path accepted (route names are far shorter).</summary>
    public const int MaxPathLength = 2048;

    /// <summary>The <see cref="HttpContext.Items"/> key under which <see cref="ManagementResults.Error"/> leaves its message for the log.</summary>
    internal const string ErrorItem = "fabric.management.error";

    private const int MaxLoggedPath = 160;

    private readonly RequestDelegate _next;
    private readonly ILogger _log;

    public ManagementGuard(RequestDelegate next, ILoggerFactory loggers)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        _next = next;
        _log = loggers.CreateLogger("Fabric.Node.Management");
    }

    /// <summary>Puts the guard in front of every management route (call before the routes are mapped).</summary>
    public static void Use(IApplicationBuilder app) => app.UseMiddleware<ManagementGuard>();

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = MaxRequestBodyBytes;
        }

        if (Refusal(context.Request) is { } refusal)
        {
            await WriteErrorAsync(context, refusal.Status, refusal.Message).ConfigureAwait(false);
            LogRefusal(context);
            return;
        }

        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Kestrel's per-request body limit (413), a truncated or malformed chunked body (400).
            var message = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? $"request body exceeds the {MaxRequestBodyBytes} byte limit of management requests"
                : "bad request body: " + e.Message;
            await WriteErrorAsync(context, e.StatusCode, message).ConfigureAwait(false);
        }

        if (!context.Response.HasStarted && context.Response.ContentType is null
            && context.Response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed)
        {
            await WriteErrorAsync(context, context.Response.StatusCode, RoutingMessage(context)).ConfigureAwait(false);
        }

        if (context.Response.StatusCode is >= 400 and < 500)
        {
            LogRefusal(context);
        }
    }

    private static (int Status, string Message)? Refusal(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        if (path.Length > MaxPathLength)
        {
            return (StatusCodes.Status414UriTooLong, $"path of {path.Length} characters exceeds the {MaxPathLength} character limit of management requests");
        }

        if (request.ContentLength > MaxRequestBodyBytes)
        {
            return (StatusCodes.Status413PayloadTooLarge,
                $"request body of {request.ContentLength} bytes exceeds the {MaxRequestBodyBytes} byte limit of management requests");
        }

        var canHaveBody = request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0;
        if (canHaveBody && !IsJson(request.ContentType))
        {
            return (StatusCodes.Status415UnsupportedMediaType,
                $"content type \"{Printable(request.ContentType ?? "(none)", 80)}\" is not accepted: management requests send application/json");
        }

        return null;
    }

    private static bool IsJson(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return false;
        }

        var type = media.MediaType.Value ?? "";
        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
               || (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) && type.EndsWith("+json", StringComparison.OrdinalIgnoreCase));
    }

    private static string RoutingMessage(HttpContext context)
    {
        var request = context.Request;
        var target = $"{request.Method} {Printable(request.Path.Value ?? "/", MaxLoggedPath)}";
        if (context.Response.StatusCode == StatusCodes.Status404NotFound)
        {
            return "no management route " + target;
        }

        var allow = context.Response.Headers.Allow.ToString();
        return allow.Length > 0
            ? $"method not allowed: {target} (allowed: {allow})"
            : "method not allowed: " + target;
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string message)
    {
        context.Items[ErrorItem] = message;
        return ManagementResults.Error(status, message).ExecuteAsync(context);
    }

    private void LogRefusal(HttpContext context)
    {
        var status = context.Response.StatusCode;
        var error = context.Items.TryGetValue(ErrorItem, out var e) && e is string text ? text : "(no message)";
        var path = Printable(context.Request.Path.Value ?? "/", MaxLoggedPath);
        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "?";
        if (status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            LogUnauthorized(_log, context.Request.Method, path, remote, status, error);
        }
        else
        {
            LogRefused(_log, context.Request.Method, path, remote, status, error);
        }
    }

    /// <summary>
    /// <paramref name="text"/> safe for one log line or one error line: control characters (a
    /// decoded <c>%0A</c> in a path) become <c>?</c>, and it is cut at <paramref name="max"/> characters.
    /// </summary>
    internal static string Printable(string text, int max)
    {
        var cut = text.Length > max;
        var builder = new StringBuilder(Math.Min(text.Length, max) + 24);
        foreach (var c in cut ? text.AsSpan(0, max) : text.AsSpan())
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        if (cut)
        {
            builder.Append(CultureInfo.InvariantCulture, $"… ({text.Length} characters)");
        }

        return builder.ToString();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Management refused {Method} {Path} from {Remote}: {Status} {Error}")]
    private static partial void LogUnauthorized(ILogger logger, string method, string path, string remote, int status, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Management refused {Method} {Path} from {Remote}: {Status} {Error}")]
    private static partial void LogRefused(ILogger logger, string method, string path, string remote, int status, string error);
}

using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Node.Management;

/// <summary>Shared helpers for management routes: JSON errors and the bearer-token check.</summary>
public static class ManagementResults
{
    /// <summary>JSON options of every management response (camelCase, compact).</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// An error response <c>{"error":"one line"}</c> with <paramref name="status"/>; the line is
    /// also what <see cref="ManagementGuard"/> logs for the request.
    /// </summary>
    public static IResult Error(int status, string message) => new ErrorResult(status, OneLine(message));

    /// <summary>
    /// Requires <c>Authorization: Bearer &lt;token&gt;</c> when <c>fabric.management.token</c> (or
    /// <c>token-file</c>) is set; otherwise 401 <c>{"error":"missing or wrong bearer token"}</c>
    /// and the handler does not run. Put it on every route that changes something.
    /// </summary>
    public static TBuilder RequireManagementToken<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddEndpointFilter(async (context, next) =>
        {
            var token = context.HttpContext.RequestServices.GetRequiredService<ManagementToken>();
            if (!token.IsAuthorized(context.HttpContext.Request.Headers.Authorization.ToString()))
            {
                return Error(StatusCodes.Status401Unauthorized, "missing or wrong bearer token");
            }

            return await next(context).ConfigureAwait(false);
        });
        return builder;
    }

    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>The body of every error response.</summary>
    public sealed record ErrorBody(string Error);

    private sealed class ErrorResult(int status, string message) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            ArgumentNullException.ThrowIfNull(httpContext);
            httpContext.Items[ManagementGuard.ErrorItem] = message;
            return Results.Json(new ErrorBody(message), Json, statusCode: status).ExecuteAsync(httpContext);
        }
    }
}

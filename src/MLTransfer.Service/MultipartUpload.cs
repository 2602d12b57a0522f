using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace MLTransfer.Service;

/// <summary>
/// Reads the files of a multipart/form-data body one part at a time. Unlike <c>ReadFormAsync</c>, which
/// buffers every part and reports a bad form as exceptions whose only distinction is their message, this
/// keeps just the files it will use, counts the rest, and names what is wrong with a form the client sent.
/// </summary>
internal static class MultipartUpload
{
    /// <summary>One file part: its bytes, or null when it was over the image limit (its content is skipped).</summary>
    public sealed record FilePart(string FileName, byte[]? Bytes);

    /// <summary>The first files of a form, and how many file parts it had in all.</summary>
    public sealed record Form(IReadOnlyList<FilePart> Files, int FileCount);

    /// <summary>Why a form was not read: the status and a client-facing reason.</summary>
    public sealed record Refusal(int Status, string Title, string Detail);

    private sealed class BodyTooLargeException : Exception;

    /// <summary>
    /// Reads the form, keeping the first <paramref name="keepFiles"/> files (each up to <paramref name="maxFileBytes"/>)
    /// and reading at most <paramref name="bodyLimit"/> bytes of body.
    /// </summary>
    public static async Task<(Form? Form, Refusal? Refusal)> ReadAsync(HttpRequest request, int keepFiles, long maxFileBytes, long bodyLimit, CancellationToken cancel)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
            || HeaderUtilities.RemoveQuotes(type.Boundary).Value is not { Length: > 0 } boundary)
            return (null, Malformed("The Content-Type header names no boundary, so the parts cannot be found."));
        if (boundary.Length > 70)
            return (null, Malformed("The boundary is longer than the 70 characters multipart allows."));

        var files = new List<FilePart>();
        var fileCount = 0;
        var sections = 0;
        var reader = new MultipartReader(boundary, new CappedStream(request.Body, bodyLimit));
        try
        {
            while (await reader.ReadNextSectionAsync(cancel) is { } section)
            {
                sections++;
                var disposition = section.GetContentDispositionHeader();
                if (disposition is null || !disposition.IsFileDisposition())
                {
                    await section.Body.CopyToAsync(Stream.Null, cancel);
                    continue;
                }
                if (++fileCount > keepFiles)
                {
                    // Counted, not kept: the answer says how many there were without holding them.
                    await section.Body.CopyToAsync(Stream.Null, cancel);
                    continue;
                }
                var name = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "";
                files.Add(new FilePart(name, await ReadCapped(section.Body, maxFileBytes, cancel)));
            }
        }
        catch (BodyTooLargeException)
        {
            return (null, new Refusal(413, "Request too large", $"The limit is {bodyLimit} bytes; send fewer or smaller images."));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new Refusal(413, "Request too large", $"The limit is {bodyLimit} bytes; send fewer or smaller images."));
        }
        catch (InvalidDataException e)
        {
            // MultipartReader's messages name the broken rule (e.g. "Line length limit 100 exceeded.").
            return (null, Malformed($"The body is not valid multipart/form-data: {e.Message}"));
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException && !cancel.IsCancellationRequested)
        {
            // The stream ended before the boundary it was looking for.
            return (null, sections == 0
                ? Malformed($"The body does not contain the boundary \"{boundary}\" that the Content-Type header names.")
                : new Refusal(400, "Incomplete multipart/form-data",
                    "The body ends before the form's closing boundary: the upload was cut off, or Content-Length is wrong. Send it again."));
        }
        return (new Form(files, fileCount), null);
    }

    private static Refusal Malformed(string reason) => new(400, "Malformed multipart/form-data",
        reason + " Let the HTTP client build the form (curl -F, FormData in a browser, MultipartFormDataContent) rather than writing it or its Content-Type by hand.");

    /// <summary>
    /// A body or part of unknown length, or null when it is longer than <paramref name="limit"/> (the rest is
    /// read and dropped, so the connection stays usable).
    /// </summary>
    public static async Task<byte[]?> ReadCapped(Stream stream, long limit, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + n > limit)
            {
                await stream.CopyToAsync(Stream.Null, cancel);
                return null;
            }
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>Fails reading past <paramref name="limit"/> bytes (a chunked body has no length to check up front).</summary>
    private sealed class CappedStream(Stream inner, long limit) : ReadOnlyStream
    {
        private long _read;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancel = default)
        {
            var n = await inner.ReadAsync(buffer, cancel);
            if ((_read += n) > limit)
                throw new BodyTooLargeException();
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancel) =>
            ReadAsync(buffer.AsMemory(offset, count), cancel).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("synchronous reads block a request thread");
    }
}

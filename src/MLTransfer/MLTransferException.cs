namespace MLTransfer;

/// <summary>
/// A failure the user can act on: it says what went wrong, where (a file or folder, when there is one),
/// and what to do next. Every error the library raises on bad input is one of these.
/// </summary>
public class MLTransferException : Exception
{
    /// <summary>Creates an error with a cause, a location and a remedy.</summary>
    /// <param name="what">What went wrong, as one sentence.</param>
    /// <param name="where">The file or folder concerned, or null.</param>
    /// <param name="fix">What the user should do next, or null.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public MLTransferException(string what, string? where = null, string? fix = null, Exception? inner = null)
        : base(Compose(what, where, fix), inner)
    {
        What = what;
        Where = where;
        Fix = fix;
    }

    /// <summary>What went wrong.</summary>
    public string What { get; }
    /// <summary>The file or folder concerned, or null.</summary>
    public string? Where { get; }
    /// <summary>What to do next, or null.</summary>
    public string? Fix { get; }

    // Callers print the message as one line (the CLI's "error: ..."), and a path or a manifest field can hold
    // a line break, so control characters are escaped here whatever the caller put in.
    private static string Compose(string what, string? where, string? fix)
    {
        var text = where is null ? Printable.Of(what) : $"{Printable.Of(what)} ({Printable.Of(where)})";
        return fix is null ? text : $"{text}. {Printable.Of(fix)}";
    }
}

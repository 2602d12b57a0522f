using System.Globalization;
using System.Text;

namespace MLTransfer;

/// <summary>
/// Text taken from user files (manifest fields, file names) made fit for a one-line message: control
/// characters and line separators become visible escapes, and very long text is cut, so a hostile or
/// broken manifest cannot split an error or log line or bury it under a 100 kB field.
/// </summary>
internal static class Printable
{
    /// <summary>The text with control characters escaped (<c>\x0A</c>), cut to <paramref name="maxLength"/> characters plus a note of the full length.</summary>
    public static string Of(string text, int maxLength = int.MaxValue)
    {
        if (!NeedsEscape(text) && text.Length <= maxLength)
            return text;
        var result = new StringBuilder(Math.Min(text.Length, maxLength) + 16);
        foreach (var c in text)
        {
            if (result.Length >= maxLength)
                return result.Append(CultureInfo.InvariantCulture, $"… ({text.Length} characters)").ToString();
            if (IsUnprintable(c))
                result.Append(c <= 0xFF ? $"\\x{(int)c:X2}" : $"\\u{(int)c:X4}");
            else
                result.Append(c);
        }
        return result.ToString();
    }

    /// <summary>True when the text holds a character <see cref="Of"/> would escape.</summary>
    public static bool NeedsEscape(string text)
    {
        foreach (var c in text)
            if (IsUnprintable(c))
                return true;
        return false;
    }

    private static bool IsUnprintable(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}

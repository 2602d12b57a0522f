using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace MLTransfer.Cli;

/// <summary>
/// Parse-time checks for numeric flags, so a bad value is one usage error naming the flag and the range
/// (exit code 2) instead of a .NET type name, an overflow deep in the run, or a value silently coerced.
/// </summary>
internal static class OptionRules
{
    public static Option<int> Range(this Option<int> option, int min, int max)
    {
        option.CustomParser = r => Parse<int>(r, option.Name, s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => v >= min && v <= max, min == int.MinValue && max == int.MaxValue ? "a whole number" : $"a whole number from {min} to {max}");
        return option;
    }

    public static Option<double> Range(this Option<double> option, double min, double maxExclusive)
    {
        option.CustomParser = r => Parse<double>(r, option.Name, s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => v >= min && v < maxExclusive, string.Create(CultureInfo.InvariantCulture, $"a number from {min} up to (not including) {maxExclusive}"));
        return option;
    }

    public static Option<float> Probability(this Option<float> option)
    {
        option.CustomParser = r => Parse<float>(r, option.Name, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => v >= 0 && v <= 1, "a probability from 0 to 1");
        return option;
    }

    public static Option<float> Positive(this Option<float> option)
    {
        option.CustomParser = r => Parse<float>(r, option.Name, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => float.IsFinite(v) && v > 0, "a positive number");
        return option;
    }

    public static Option<float> NonNegative(this Option<float> option)
    {
        option.CustomParser = r => Parse<float>(r, option.Name, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => float.IsFinite(v) && v >= 0, "a number of 0 or more");
        return option;
    }

    public static Option<float?> NonNegative(this Option<float?> option)
    {
        option.CustomParser = r => Parse<float>(r, option.Name, s => float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null,
            v => float.IsFinite(v) && v >= 0, "a number of 0 or more");
        return option;
    }

    public static Option<string?> NotEmpty(this Option<string?> option)
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value)))
                r.AddError($"{option.Name} must not be empty");
        });
        return option;
    }

    private static T Parse<T>(ArgumentResult result, string name, Func<string, T?> parse, Func<T, bool> valid, string expected) where T : struct
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (parse(text) is { } value && valid(value))
            return value;
        result.AddError($"{name} must be {expected}, got '{text}'");
        return default;
    }
}

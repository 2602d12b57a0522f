using System.CommandLine;

namespace MLTransfer.Cli;

/// <summary>Conventions applied to the whole command tree once it is built, so no command has to remember them.</summary>
internal static class CliConventions
{
    /// <summary>
    /// Lists every command's required options before the optional ones (help shows options in this order), keeping
    /// the order within each group: a reader of <c>train --help</c> sees <c>--data</c> first, not sixth.
    /// </summary>
    public static void RequiredOptionsFirst(Command command)
    {
        var ordered = command.Options.OrderBy(o => o.Required ? 0 : 1).ToList();
        command.Options.Clear();
        foreach (var option in ordered)
            command.Options.Add(option);
        foreach (var sub in command.Subcommands)
            RequiredOptionsFirst(sub);
    }

    /// <summary>
    /// The one line a usage error prints. A mistyped flag also makes its value a stray argument and a required
    /// option look missing; those follow from the typo, so the typo alone is reported, with the nearest flag.
    /// </summary>
    public static string UsageError(ParseResult parse)
    {
        var typo = parse.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-'));
        if (typo is null)
            return parse.Errors[0].Message;
        var names = parse.CommandResult.Command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).Distinct();
        var nearest = names.Select(n => (Name: n, Distance: Distance(typo, n))).OrderBy(p => p.Distance).FirstOrDefault();
        var hint = nearest.Name is not null && nearest.Distance <= Math.Max(2, typo.Length / 3) ? $"; did you mean '{nearest.Name}'?" : "";
        return $"unknown option '{typo}'{hint}";
    }

    /// <summary>Edit distance (insertions, deletions, substitutions) between two flags.</summary>
    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}

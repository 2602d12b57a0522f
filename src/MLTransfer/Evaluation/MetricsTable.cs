using System.Globalization;
using System.Text;

namespace MLTransfer.Evaluation;

/// <summary>Plain-text rendering of metrics for a monospace console.</summary>
internal static class MetricsTable
{
    /// <summary>Widest a class name may be in the per-class table and the confusion-matrix row headers.</summary>
    public const int MaxRowNameWidth = 24;

    /// <summary>Widest a class name may be as a confusion-matrix column header.</summary>
    public const int MaxColumnNameWidth = 10;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Formats headline figures, a per-class precision/recall/F1/support table and the confusion matrix
    /// (rows = true class, columns = predicted class). Numbers use the invariant culture so that logs read the same
    /// on every machine. Long class names are shortened with a trailing <c>~</c>.
    /// </summary>
    /// <param name="m">The metrics to format.</param>
    /// <param name="title">A heading, e.g. the data set and model name.</param>
    /// <returns>Multi-line text ending with a newline.</returns>
    public static string Format(ClassificationMetrics m, string title)
    {
        ArgumentNullException.ThrowIfNull(m);
        var sb = new StringBuilder();

        if (!string.IsNullOrEmpty(title))
        {
            sb.AppendLine(title);
            sb.AppendLine(new string('=', title.Length));
        }

        var headline = new List<(string Label, string Value)>
        {
            ("Samples", m.Count.ToString(Inv)),
            ("Accuracy", F(m.Accuracy)),
            ("Macro accuracy", F(m.MacroAccuracy)),
            ("Macro F1", F(m.MacroF1)),
            ("Log-loss", F(m.LogLoss)),
            ("Log-loss reduction", F(m.LogLossReduction)),
        };
        headline.AddRange(m.TopKAccuracy.Where(e => e.K > 1).Select(e => ($"Top-{e.K} accuracy", F(e.Accuracy))));
        int labelWidth = headline.Max(h => h.Label.Length);
        foreach (var (label, value) in headline)
            sb.Append(label.PadRight(labelWidth)).Append(" : ").AppendLine(value);
        sb.AppendLine();

        AppendPerClass(sb, m);
        sb.AppendLine();
        AppendConfusion(sb, m.ConfusionMatrix);
        return sb.ToString();
    }

    private static void AppendPerClass(StringBuilder sb, ClassificationMetrics m)
    {
        const string header = "Class";
        int nameWidth = Math.Max(header.Length, m.PerClass.Select(c => Truncate(c.Name, MaxRowNameWidth).Length).DefaultIfEmpty(0).Max());
        int supportWidth = Math.Max("Support".Length, m.Count.ToString(Inv).Length);
        const int numWidth = 9;

        sb.Append(header.PadRight(nameWidth))
          .Append("Precision".PadLeft(numWidth + 2))
          .Append("Recall".PadLeft(numWidth + 2))
          .Append("F1".PadLeft(numWidth + 2))
          .AppendLine("Support".PadLeft(supportWidth + 2));
        sb.AppendLine(new string('-', nameWidth + 3 * (numWidth + 2) + supportWidth + 2));

        foreach (var c in m.PerClass)
        {
            sb.Append(Truncate(c.Name, MaxRowNameWidth).PadRight(nameWidth))
              .Append(F(c.Precision).PadLeft(numWidth + 2))
              .Append(F(c.Recall).PadLeft(numWidth + 2))
              .Append(F(c.F1).PadLeft(numWidth + 2))
              .AppendLine(c.Support.ToString(Inv).PadLeft(supportWidth + 2));
        }
    }

    private static void AppendConfusion(StringBuilder sb, ConfusionMatrix cm)
    {
        sb.AppendLine("Confusion matrix (rows = true class, columns = predicted class)");

        const string corner = "true \\ pred";
        var rowNames = cm.ClassNames.Select(n => Truncate(n, MaxRowNameWidth)).ToArray();
        var colNames = cm.ClassNames.Select(n => Truncate(n, MaxColumnNameWidth)).ToArray();
        int rowHeaderWidth = Math.Max(corner.Length, rowNames.DefaultIfEmpty("").Max(n => n.Length));

        int classes = colNames.Length;
        var colWidths = new int[classes];
        for (int c = 0; c < classes; c++)
        {
            int widest = colNames[c].Length;
            foreach (var row in cm.Counts)
                widest = Math.Max(widest, row[c].ToString(Inv).Length);
            colWidths[c] = widest;
        }

        sb.Append(corner.PadRight(rowHeaderWidth));
        for (int c = 0; c < classes; c++)
            sb.Append("  ").Append(colNames[c].PadLeft(colWidths[c]));
        sb.AppendLine();
        sb.AppendLine(new string('-', rowHeaderWidth + colWidths.Sum(w => w + 2)));

        for (int t = 0; t < cm.Counts.Length; t++)
        {
            sb.Append(rowNames[t].PadRight(rowHeaderWidth));
            for (int c = 0; c < classes; c++)
                sb.Append("  ").Append(cm.Counts[t][c].ToString(Inv).PadLeft(colWidths[c]));
            sb.AppendLine();
        }
    }

    private static string F(double value) => double.IsNaN(value) ? "n/a" : value.ToString("0.0000", Inv);

    // '~' rather than an ellipsis character because not every console font or code page renders U+2026.
    private static string Truncate(string name, int width) =>
        name.Length <= width ? name : string.Concat(name.AsSpan(0, width - 1), "~");
}

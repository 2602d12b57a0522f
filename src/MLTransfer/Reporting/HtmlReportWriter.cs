using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using MLTransfer.Export;
using MLTransfer.Images;
using SkiaSharp;

namespace MLTransfer.Reporting;

/// <summary>
/// Writes a self-contained HTML training report (one file; plots and thumbnails embedded as data URIs):
/// dataset summary, settings, metrics, per-class scores, confusion matrices, learning curves and a gallery
/// of the worst held-out errors.
/// </summary>
internal static class HtmlReportWriter
{
    /// <summary>File name of the report inside the report folder.</summary>
    public const string FileName = "report.html";

    /// <summary>Most errors shown in the gallery.</summary>
    public const int GallerySize = 24;

    /// <summary>Writes <c>report.html</c> into <paramref name="directory"/> (atomically) and returns its path.</summary>
    public static string Write(string directory, ReportContent content)
    {
        var path = PathIn(directory);
        var html = Render(content);
        ModelPackage.WriteAtomically(path, temp => File.WriteAllText(temp, html, Encoding.UTF8));
        return path;
    }

    /// <summary>Where <see cref="Write"/> puts the report for <paramref name="directory"/>.</summary>
    public static string PathIn(string directory) => Path.Combine(Path.GetFullPath(directory), FileName);

    /// <summary>The report as an HTML string.</summary>
    public static string Render(ReportContent c)
    {
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">").Append(OutputGuard.HtmlMarker).Append("<title>").Append(E(c.Title)).Append("</title><style>")
         .Append("body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}")
         .Append("table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}")
         .Append(".gallery{display:flex;flex-wrap:wrap;gap:12px}.card{width:170px;font-size:12px;border:1px solid #ddd;padding:6px;word-break:break-all}.card img{width:160px;height:160px;object-fit:contain;background:#eee}.bad{color:#b00}")
         .Append("</style></head><body>");
        h.Append("<h1>").Append(E(c.Title)).Append("</h1>");
        if (c.DataSource is not null)
            h.Append("<p>Data: <code>").Append(E(c.DataSource)).Append("</code></p>");

        h.Append("<section id=\"dataset\"><h2>Dataset</h2><p>").Append(c.ClassNames.Count).Append(" classes: ").Append(E(string.Join(", ", c.ClassNames))).Append("</p>");
        if (c.Counts.Count > 0)
        {
            h.Append("<table id=\"counts\"><tr><th>class</th><th>train</th><th>validation</th><th>test</th></tr>");
            foreach (var r in c.Counts)
                h.Append($"<tr><td>{E(r.Label)}</td><td>{r.Train}</td><td>{r.Validation}</td><td>{r.Test}</td></tr>");
            h.Append($"<tr><th>total</th><th>{c.Counts.Sum(r => r.Train)}</th><th>{c.Counts.Sum(r => r.Validation)}</th><th>{c.Counts.Sum(r => r.Test)}</th></tr></table>");
        }
        h.Append("<h3>Skipped files (").Append(c.Skipped.Count).Append(")</h3>");
        if (c.Skipped.Count > 0)
        {
            h.Append("<table id=\"skipped\"><tr><th>file</th><th>reason</th></tr>");
            foreach (var s in c.Skipped)
                h.Append($"<tr><td>{E(s.Path)}</td><td style=\"text-align:left\">{E(s.Reason)}</td></tr>");
            h.Append("</table>");
        }
        h.Append("<h3>Duplicates (").Append(c.Duplicates.Count).Append(" groups)</h3>");
        foreach (var d in c.Duplicates)
            h.Append("<p>").Append(E(string.Join(" = ", d.Paths))).Append(d.HasConflictingLabels ? " <b class=\"bad\">(different labels)</b>" : "").Append("</p>");
        foreach (var w in c.Warnings)
            h.Append("<p class=\"bad\">warning: ").Append(E(w)).Append("</p>");
        h.Append("</section>");

        if (c.Settings.Count > 0)
        {
            h.Append("<section id=\"settings\"><h2>Backbone and options</h2><table>");
            foreach (var (k, v) in c.Settings)
                h.Append($"<tr><td>{E(k)}</td><td style=\"text-align:left\">{E(v)}</td></tr>");
            h.Append("</table></section>");
        }

        h.Append("<section id=\"metrics\"><h2>Metrics</h2><table id=\"metrics-table\"><tr><th>set</th><th>images</th><th>accuracy</th><th>macro accuracy</th><th>macro F1</th><th>log-loss</th><th>top-2</th></tr>");
        foreach (var (name, m) in c.Metrics)
            h.Append($"<tr data-set=\"{E(name)}\"><td>{E(name)}</td><td>{m.Count}</td><td class=\"accuracy\">{F(m.Accuracy)}</td><td>{F(m.MacroAccuracy)}</td><td>{F(m.MacroF1)}</td><td>{F(m.LogLoss)}</td><td>{(m.TopK(2) is { } t ? F(t) : "–")}</td></tr>");
        h.Append("</table></section>");

        foreach (var (name, m) in c.Metrics)
        {
            var id = name.ToLowerInvariant().Replace(' ', '-');
            h.Append($"<section id=\"per-class-{E(id)}\"><h2>{E(name)}: per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
            foreach (var pc in m.PerClass)
                h.Append($"<tr><td>{E(pc.Name)}</td><td>{F(pc.Precision)}</td><td>{F(pc.Recall)}</td><td>{F(pc.F1)}</td><td>{pc.Support}</td></tr>");
            h.Append("</table>");
            Image(h, ReportPlots.PerClassBars(m.PerClass), $"{name} per-class precision, recall and F1", $"plot-per-class-{id}");
            h.Append($"<h3>Confusion matrix</h3>");
            Image(h, ReportPlots.ConfusionMatrix(m.ConfusionMatrix), $"{name} confusion matrix", $"plot-confusion-{id}");
            h.Append("</section>");
        }

        h.Append("<section id=\"curves\"><h2>Learning curves</h2>");
        if (c.Epochs.Count > 0)
            Image(h, ReportPlots.LearningCurves(c.Epochs), "loss and accuracy per epoch, train vs validation", "plot-curves");
        else
            h.Append("<p>This head is fitted in one pass (L-BFGS / SDCA to convergence), so there are no epochs to plot.</p>");
        h.Append("</section>");

        var errors = c.HeldOut.Where(o => o.IsError).OrderByDescending(o => o.Confidence).Take(GallerySize).ToList();
        h.Append($"<section id=\"errors\"><h2>Worst misclassified {E(c.HeldOutName.ToLowerInvariant())} images ({c.HeldOut.Count(o => o.IsError)} of {c.HeldOut.Count} wrong)</h2><div class=\"gallery\">");
        foreach (var o in errors)
        {
            h.Append("<div class=\"card\">");
            var thumb = Thumbnail(o.Path);
            if (thumb is not null)
                h.Append("<img alt=\"").Append(E(Path.GetFileName(o.Path))).Append("\" src=\"data:image/jpeg;base64,").Append(Convert.ToBase64String(thumb)).Append("\">");
            h.Append($"<div>{E(Path.GetFileName(o.Path))}</div><div>true: <b>{E(o.TrueLabel)}</b></div><div class=\"bad\">predicted: <b>{E(o.PredictedLabel)}</b> ({o.Confidence.ToString("P0", CultureInfo.InvariantCulture)})</div></div>");
        }
        h.Append("</div></section>");
        // A tiny self-check a headless browser can read back: how many images decoded.
        h.Append("<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-broken',imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length);});</script>");
        h.Append("</body></html>");
        return h.ToString();
    }

    private static void Image(StringBuilder h, byte[] png, string alt, string id) =>
        h.Append("<p><img id=\"").Append(id).Append("\" alt=\"").Append(E(alt)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\"></p>");

    private static byte[]? Thumbnail(string path)
    {
        try
        {
            var image = ImageDecoder.DecodeFile(path, 160, 160, ResizeMode.IsoPad);
            var info = new SKImageInfo(image.Width, image.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
            var handle = GCHandle.Alloc(image.Bgra, GCHandleType.Pinned);
            try
            {
                using var bitmap = new SKBitmap();
                bitmap.InstallPixels(info, handle.AddrOfPinnedObject(), info.RowBytes);
                using var encoded = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Jpeg, 80);
                return encoded.ToArray();
            }
            finally
            {
                handle.Free();
            }
        }
        catch (ImageDecodeException)
        {
            return null;
        }
    }

    private static string F(double v) => double.IsNaN(v) ? "n/a" : v.ToString("F4", CultureInfo.InvariantCulture);
    private static string E(string s) => WebUtility.HtmlEncode(s);
}

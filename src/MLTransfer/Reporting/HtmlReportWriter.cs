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
/// dataset summary with sample images per class, settings, metrics (training accuracy beside validation and
/// test), per-class scores, confusion matrices as counts and as shares with the most-confused pairs, learning
/// curves, calibration (reliability before/after, coverage/accuracy), the top losses (including right but unsure
/// answers), the worst held-out errors and occlusion maps of what the model looked at in them.
/// </summary>
internal static class HtmlReportWriter
{
    /// <summary>File name of the report inside the report folder.</summary>
    public const string FileName = "report.html";

    /// <summary>Most errors shown in the gallery.</summary>
    public const int GallerySize = 24;

    /// <summary>Images in the top-losses gallery, and right-but-unsure ones shown after them.</summary>
    public const int TopLosses = 12, UnsureRight = 6;

    /// <summary>Sample images shown per class.</summary>
    public const int SamplesPerClass = 6;

    /// <summary>Rows of a most-confused-pairs table.</summary>
    public const int ConfusedPairs = 10;

    /// <summary>Writes <c>report.html</c> into <paramref name="directory"/> (atomically) and returns its path.</summary>
    public static string Write(string directory, ReportContent content)
    {
        var path = PathIn(directory);
        var html = Render(content);
        ProcessTemp.WriteAtomically(path, temp => File.WriteAllText(temp, html, Encoding.UTF8));
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
         .Append(".strip{display:flex;gap:6px;align-items:center;margin:4px 0}.strip img{width:96px;height:96px;object-fit:contain;background:#eee}.strip .name{width:140px;font-size:13px}.pair img{vertical-align:top;margin-right:12px}.occ img{width:224px;height:224px}")
         .Append("</style></head><body>");
        h.Append("<h1>").Append(E(c.Title)).Append("</h1>");
        if (c.DataSource is not null)
            h.Append("<p>Data: <code>").Append(E(c.DataSource)).Append("</code></p>");

        h.Append("<section id=\"dataset\"><h2>Dataset</h2><p>").Append(c.ClassNames.Count).Append(" classes: ").Append(E(string.Join(", ", c.ClassNames))).Append("</p>");
        Samples(h, c);
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
        var rows = c.Train is null ? c.Metrics : [new("Train", c.Train), .. c.Metrics];
        foreach (var (name, m) in rows)
            h.Append($"<tr data-set=\"{E(name)}\"><td>{E(name)}</td><td>{m.Count}</td><td class=\"accuracy\">{F(m.Accuracy)}</td><td>{F(m.MacroAccuracy)}</td><td>{F(m.MacroF1)}</td><td>{F(m.LogLoss)}</td><td>{(m.TopK(2) is { } t ? F(t) : "–")}</td></tr>");
        h.Append("</table>");
        if (c.Train is not null)
            h.Append("<p>Training accuracy is measured on the images the head learned from; a large gap to validation or test is over-fitting.</p>");
        h.Append("</section>");

        foreach (var (name, m) in c.Metrics)
        {
            var id = name.ToLowerInvariant().Replace(' ', '-');
            h.Append($"<section id=\"per-class-{E(id)}\"><h2>{E(name)}: per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
            foreach (var pc in m.PerClass)
                h.Append($"<tr><td>{E(pc.Name)}</td><td>{F(pc.Precision)}</td><td>{F(pc.Recall)}</td><td>{F(pc.F1)}</td><td>{pc.Support}</td></tr>");
            h.Append("</table>");
            Image(h, ReportPlots.PerClassBars(m.PerClass), $"{name} per-class precision, recall and F1", $"plot-per-class-{id}");
            h.Append("<h3>Confusion matrix: counts, and shares of each true class</h3><p class=\"pair\">");
            Inline(h, ReportPlots.ConfusionMatrix(m.ConfusionMatrix), $"{name} confusion matrix", $"plot-confusion-{id}");
            Inline(h, ReportPlots.ConfusionMatrix(m.ConfusionMatrix, normalised: true), $"{name} confusion matrix, normalised by true class", $"plot-confusion-normalised-{id}");
            h.Append("</p>");
            ConfusedPairsTable(h, m.ConfusionMatrix, id);
            h.Append("</section>");
        }

        h.Append("<section id=\"curves\"><h2>Learning curves</h2>");
        if (c.Epochs.Count > 0)
        {
            Image(h, ReportPlots.LearningCurves(c.Epochs, c.EpochsHeldName), $"loss and accuracy per epoch, train vs {c.EpochsHeldName}", "plot-curves");
            if (c.EpochsNote is not null)
                h.Append("<p>").Append(E(c.EpochsNote)).Append("</p>");
        }
        else
        {
            h.Append("<p>This head is fitted in one pass (L-BFGS / SDCA to convergence), so there are no epochs to plot; the metrics table compares training and held-out accuracy.</p>");
        }
        h.Append("</section>");
        Calibration(h, c);
        TopLossesSection(h, c);

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
        OcclusionSection(h, c);
        // A tiny self-check a headless browser can read back: how many images decoded.
        h.Append("<script>window.addEventListener('load',function(){var imgs=[].slice.call(document.images);document.body.setAttribute('data-images',imgs.length);document.body.setAttribute('data-broken',imgs.filter(function(i){return !(i.complete&&i.naturalWidth>0)}).length);});</script>");
        h.Append("</body></html>");
        return h.ToString();
    }

    private static void Image(StringBuilder h, byte[] png, string alt, string id)
    {
        h.Append("<p>");
        Inline(h, png, alt, id);
        h.Append("</p>");
    }

    private static void Inline(StringBuilder h, byte[] png, string alt, string id) =>
        h.Append("<img id=\"").Append(id).Append("\" alt=\"").Append(E(alt)).Append("\" src=\"data:image/png;base64,").Append(Convert.ToBase64String(png)).Append("\">");

    /// <summary>A strip of sample images per class, from the images the report has (held-out or evaluated).</summary>
    private static void Samples(StringBuilder h, ReportContent c)
    {
        if (c.HeldOut.Count == 0)
            return;
        h.Append($"<h3>Samples per class ({E(c.HeldOutName.ToLowerInvariant())} images)</h3><div id=\"samples\">");
        foreach (var label in c.ClassNames)
        {
            h.Append("<div class=\"strip\" data-class=\"").Append(E(label)).Append("\"><span class=\"name\">").Append(E(label)).Append("</span>");
            foreach (var o in c.HeldOut.Where(o => o.TrueLabel == label).OrderBy(o => o.Path, StringComparer.Ordinal).Take(SamplesPerClass))
                Thumb(h, o.Path);
            h.Append("</div>");
        }
        h.Append("</div>");
    }

    /// <summary>The off-diagonal cells with the most images: which classes the model mixes up, and in which direction.</summary>
    private static void ConfusedPairsTable(StringBuilder h, Evaluation.ConfusionMatrix m, string id)
    {
        var n = m.ClassNames.Count;
        var pairs = Enumerable.Range(0, n).SelectMany(t => Enumerable.Range(0, n).Where(p => p != t && m[t, p] > 0).Select(p => (t, p)))
            .OrderByDescending(x => m[x.t, x.p]).ThenBy(x => x.t).ThenBy(x => x.p).Take(ConfusedPairs).ToList();
        h.Append($"<h3>Most confused pairs</h3>");
        if (pairs.Count == 0)
        {
            h.Append($"<p id=\"confused-pairs-{E(id)}\">No image was confused.</p>");
            return;
        }
        h.Append($"<table id=\"confused-pairs-{E(id)}\"><tr><th>true class</th><th>predicted as</th><th>images</th><th>share of the true class</th></tr>");
        foreach (var (t, p) in pairs)
        {
            var total = m.Counts[t].Sum();
            h.Append($"<tr><td>{E(m.ClassNames[t])}</td><td style=\"text-align:left\">{E(m.ClassNames[p])}</td><td>{m[t, p]}</td><td>{F((double)m[t, p] / total)}</td></tr>");
        }
        h.Append("</table>");
    }

    /// <summary>Temperature, calibration error before and after, the reliability diagram, the out-of-domain threshold and the coverage/accuracy curve.</summary>
    private static void Calibration(StringBuilder h, ReportContent c)
    {
        h.Append("<section id=\"calibration\"><h2>Calibration and abstention</h2>");
        if (c.Confidence is not { } k)
        {
            h.Append("<p>This model was saved without calibration: its probabilities are the head's own, and it never judges an image out of domain.</p></section>");
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        h.Append("<p>Probabilities are divided by a temperature fitted on ").Append(E(k.FittedOn)).Append(". Expected calibration error (ECE, ")
         .Append(k.After.Bins.Count).Append(" bins) is measured on the ").Append(E(k.MeasuredOn)).Append(" images, which neither the head nor the calibration saw.</p>");
        h.Append("<table id=\"calibration-table\">")
         .Append($"<tr><td>temperature</td><td id=\"temperature\">{F(k.Temperature)}</td></tr>")
         .Append($"<tr><td>ECE before ({E(k.MeasuredOn)})</td><td id=\"ece-before\">{F(k.Before.ExpectedCalibrationError)}</td></tr>")
         .Append($"<tr><td>ECE after ({E(k.MeasuredOn)})</td><td id=\"ece-after\">{F(k.After.ExpectedCalibrationError)}</td></tr>")
         .Append($"<tr><td>out-of-domain threshold ({E(k.OutOfDomainMethod)})</td><td id=\"ood-threshold\">{(k.OutOfDomainThreshold is { } t ? F(t) : "none")}</td></tr>")
         .Append($"<tr><td>chosen to accept, of the calibration images</td><td>{F(k.TargetCoverage)}</td></tr>")
         .Append($"<tr><td>accepted, of the {E(k.MeasuredOn)} images</td><td id=\"in-domain-coverage\">{(k.InDomainCoverage is { } a ? F(a) : "n/a")}</td></tr>")
         .Append("</table>");
        h.Append("<h3>Reliability diagram</h3><p>Each bar is the accuracy of the images whose top probability falls in that bin; a calibrated model's bars reach the dashed diagonal.</p>");
        Image(h, ReportPlots.Reliability(k.Before, k.After), "reliability diagram before and after temperature scaling", "plot-reliability");
        h.Append("<h3>Coverage and accuracy</h3><p>What an app gets when it withholds answers below a probability (<code>minConfidence</code>), and also on images judged out of domain.</p>");
        Image(h, ReportPlots.Coverage(k.CoverageCurve, k.GatedCoverageCurve), "accuracy against coverage as the probability threshold rises", "plot-coverage");
        h.Append("<table id=\"coverage-table\"><tr><th>min probability</th><th>coverage</th><th>accuracy</th><th>coverage, out-of-domain withheld</th><th>accuracy, out-of-domain withheld</th></tr>");
        for (var i = 0; i < k.CoverageCurve.Count; i += 2)
        {
            var (p, g) = (k.CoverageCurve[i], k.GatedCoverageCurve[i]);
            h.Append(string.Create(inv, $"<tr><td>{p.MinConfidence:F2}</td><td>{F(p.Coverage)}</td><td>{F(p.Accuracy)}</td><td>{F(g.Coverage)}</td><td>{F(g.Accuracy)}</td></tr>"));
        }
        h.Append("</table></section>");
    }

    /// <summary>The held-out images the model is most wrong about (highest loss), then right answers it was least sure of.</summary>
    private static void TopLossesSection(StringBuilder h, ReportContent c)
    {
        if (c.HeldOut.Count == 0)
            return;
        var inv = CultureInfo.InvariantCulture;
        var top = c.HeldOut.OrderByDescending(o => o.Loss).ThenBy(o => o.Path, StringComparer.Ordinal).Take(TopLosses).ToList();
        var unsure = c.HeldOut.Where(o => !o.IsError).Except(top).OrderBy(o => o.TrueProbability).ThenBy(o => o.Path, StringComparer.Ordinal).Take(UnsureRight).ToList();
        h.Append($"<section id=\"top-losses\"><h2>Top losses ({E(c.HeldOutName.ToLowerInvariant())} images)</h2><p>Loss is −ln p(true class): highest first, then right answers given with the least probability.</p><div class=\"gallery\">");
        foreach (var o in top.Concat(unsure))
        {
            h.Append(o.IsError ? "<div class=\"card loss\">" : "<div class=\"card loss unsure\">");
            Thumb(h, o.Path);
            h.Append($"<div>{E(Path.GetFileName(o.Path))}</div><div>true: <b>{E(o.TrueLabel)}</b></div>")
             .Append(o.IsError ? $"<div class=\"bad\">predicted: <b>{E(o.PredictedLabel)}</b> ({o.Confidence.ToString("F2", inv)})</div>" : "<div>right, but unsure</div>")
             .Append(string.Create(inv, $"<div>p(true) {o.TrueProbability:F3}, loss {o.Loss:F3}</div>"))
             .Append(o.OutOfDomainScore is { } d ? string.Create(inv, $"<div>out-of-domain score {d:F3}</div>") : "")
             .Append("</div>");
        }
        h.Append("</div></section>");
    }

    /// <summary>Occlusion maps: red where hiding a square of the image lowered the true class's probability most.</summary>
    private static void OcclusionSection(StringBuilder h, ReportContent c)
    {
        if (c.Occlusions.Count == 0)
            return;
        var inv = CultureInfo.InvariantCulture;
        h.Append("<section id=\"occlusion\"><h2>What the model looked at</h2><p>For the worst misclassified images, a grey square (")
         .Append((OcclusionMap.PatchFraction * 100).ToString("F0", inv)).Append("% of the side) slid over a ")
         .Append(c.Occlusions[0].Grid).Append("×").Append(c.Occlusions[0].Grid)
         .Append(" grid: red marks where hiding it lowered the probability of the true class most, i.e. the evidence the model did find for it.</p><div class=\"gallery occ\">");
        for (var i = 0; i < c.Occlusions.Count; i++)
        {
            var o = c.Occlusions[i];
            h.Append("<div class=\"card occ-card\" style=\"width:240px\">");
            Inline(h, o.Png, $"occlusion map of {Path.GetFileName(o.Path)}", $"plot-occlusion-{i}");
            h.Append(string.Create(inv, $"<div>{E(Path.GetFileName(o.Path))}</div><div>true: <b>{E(o.TrueLabel)}</b> (p {o.TrueProbability:F3}); predicted <span class=\"bad\">{E(o.PredictedLabel)}</span></div><div>largest drop {o.Drops.Max():F3}</div></div>"));
        }
        h.Append("</div></section>");
    }

    private static void Thumb(StringBuilder h, string path)
    {
        var thumb = Thumbnail(path);
        if (thumb is not null)
            h.Append("<img alt=\"").Append(E(Path.GetFileName(path))).Append("\" src=\"data:image/jpeg;base64,").Append(Convert.ToBase64String(thumb)).Append("\">");
    }

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

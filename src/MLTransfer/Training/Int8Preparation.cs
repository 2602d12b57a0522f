using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Features;

namespace MLTransfer.Training;

/// <summary>Puts a quantized copy in place of the prepared float backbone, and says so wherever the backbone choice is reported.</summary>
internal static class Int8Preparation
{
    public static (ResolvedBackbone Resolved, PreparedBackbone Prepared) Apply(string path, ResolvedBackbone resolved, PreparedBackbone prepared, Action<string> log)
    {
        var (int8, record) = Int8Backbone.Load(path, prepared, resolved.Sha256);
        var check = record.FloatValidationAccuracy is { } f && record.Int8ValidationAccuracy is { } i
            ? string.Create(CultureInfo.InvariantCulture, $", accepted at validation accuracy {i:F3} vs float {f:F3}")
            : "";
        var note = $"int8 copy {Path.GetFullPath(path)} ({int8.Precision}, {record.CalibrationImages} calibration images{check})";
        log($"backbone: running the {note}");
        return (resolved with { Reason = $"{resolved.Reason}; {note}" }, int8);
    }
}

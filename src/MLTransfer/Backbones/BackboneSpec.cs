namespace MLTransfer.Backbones;

/// <summary>
/// What a backbone choice names: one backbone (<c>resnet50</c>, or an ONNX file), the concatenation of several
/// backbones' features (<c>mobilenet-v2+resnet50</c>), either of those with flip test-time augmentation
/// (<c>tta:mobilenet-v2+resnet50</c>), or a choice among candidates made on validation data
/// (<c>auto</c>, or a list: <c>mobilenet-v2,resnet50,resnet18</c>).
/// </summary>
/// <param name="Members">The backbones whose features are used, in order (one for a single backbone).</param>
/// <param name="FlipAveraged">True when each image's features are averaged with those of its mirror image.</param>
internal sealed record BackboneSpec(IReadOnlyList<string> Members, bool FlipAveraged)
{
    /// <summary>The prefix that asks for flip test-time augmentation.</summary>
    public const string TtaPrefix = "tta:";

    /// <summary>The choice that lets validation data pick among the available verified backbones.</summary>
    public const string Auto = "auto";

    /// <summary>True for a concatenation or a flip-averaged backbone: a graph MLTransfer builds from members.</summary>
    public bool IsComposite => Members.Count > 1 || FlipAveraged;

    /// <summary>The canonical text of this spec (what <see cref="Parse"/> reads back).</summary>
    public override string ToString() => (FlipAveraged ? TtaPrefix : "") + string.Join('+', Members);

    /// <summary>True when <paramref name="text"/> asks for a choice among candidates rather than naming one backbone.</summary>
    public static bool IsSelection(string? text) =>
        text is not null && !File.Exists(text) && (text.Trim().Equals(Auto, StringComparison.OrdinalIgnoreCase) || text.Contains(','));

    /// <summary>Reads one spec (not a selection). A path to an existing file is always a single backbone.</summary>
    /// <exception cref="MLTransferException">An empty member, or a member listed twice.</exception>
    public static BackboneSpec Parse(string text)
    {
        if (File.Exists(text))
            return new BackboneSpec([text], false);
        var trimmed = text.Trim();
        var flip = trimmed.StartsWith(TtaPrefix, StringComparison.OrdinalIgnoreCase);
        var body = flip ? trimmed[TtaPrefix.Length..] : trimmed;
        var members = body.Split('+', StringSplitOptions.TrimEntries).ToList();
        if (members.Any(m => m.Length == 0))
            throw new MLTransferException($"The backbone choice '{text}' has an empty member", null,
                "Name backbones separated by '+', e.g. mobilenet-v2+resnet50, optionally after 'tta:'");
        if (members.Distinct(StringComparer.Ordinal).Count() != members.Count)
            throw new MLTransferException($"The backbone choice '{text}' names a backbone twice", null, "Name each backbone once");
        return new BackboneSpec(members, flip);
    }

    /// <summary>
    /// A member's backbone and input size: <c>mobilenet-v2@448</c> runs MobileNetV2 on 448×448 images (fully
    /// convolutional backbones pool whatever size they get), for objects that are small in large photos.
    /// </summary>
    public static (string Backbone, int? Side) Member(string member)
    {
        var at = member.LastIndexOf('@');
        if (at <= 0 || File.Exists(member))
            return (member, null);
        if (!int.TryParse(member[(at + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var side) || side is < 32 or > 2048)
            throw new MLTransferException($"'{member}' asks for an input size that is not a whole number from 32 to 2048", null, "Write the size after '@', e.g. mobilenet-v2@448");
        return (member[..at], side);
    }

    /// <summary>The candidates a selection names: the list as given (each a spec), or null for <see cref="Auto"/>.</summary>
    public static IReadOnlyList<BackboneSpec>? Candidates(string text) =>
        text.Trim().Equals(Auto, StringComparison.OrdinalIgnoreCase)
            ? null
            : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToList();
}

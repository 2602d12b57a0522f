using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;

namespace MLTransfer.Training;

/// <summary>
/// The backbone a run extracts with: one backbone, or a composite (concatenation, flip test-time augmentation)
/// of members, each resolved and prepared as a single backbone would be.
/// </summary>
/// <param name="Spec">What was asked for.</param>
/// <param name="Members">The members in spec order (one for a single backbone).</param>
/// <param name="Graph">The graph the saved model runs: the member's own, or the composite built from the members.</param>
/// <param name="Resolved">Where it came from; for a composite, its identity (<see cref="CompositeGraph.Sha256Of"/>) and the members' reasons.</param>
internal sealed record RunBackbone(BackboneSpec Spec, IReadOnlyList<(ResolvedBackbone Resolved, PreparedBackbone Prepared)> Members, PreparedBackbone Graph, ResolvedBackbone Resolved)
{
    /// <summary>Resolves and prepares the members of <paramref name="spec"/>, reusing those already in <paramref name="prepared"/>.</summary>
    public static RunBackbone For(BackboneSpec spec, BackboneSource source, Action<string> log, CancellationToken cancellation,
        Dictionary<string, (ResolvedBackbone, PreparedBackbone)> prepared)
    {
        var members = spec.Members.Select(name =>
        {
            if (!prepared.TryGetValue(name, out var member))
            {
                var (file, side) = BackboneSpec.Member(name);
                var adjust = side is { } s ? (Func<BackboneDescription, BackboneDescription>)(d => (source.Adjust?.Invoke(d) ?? d) with { InputWidth = s, InputHeight = s }) : source.Adjust;
                prepared[name] = member = BackbonePreparation.Run(source with { Name = file, Adjust = adjust }, log, cancellation, resizeInput: side is not null);
            }
            return member;
        }).ToList();
        if (!spec.IsComposite)
            return new RunBackbone(spec, members, members[0].Item2, members[0].Item1);
        var hashes = members.Select(m => m.Item1.Sha256).ToList();
        var graph = CompositeGraph.Build(spec, members.Select(m => m.Item2).ToList(), hashes);
        var resolved = new ResolvedBackbone(graph.Description, members[0].Item1.FilePath, CompositeGraph.Sha256Of(spec, hashes), members[0].Item1.How,
            $"{spec}: " + string.Join("; ", members.Select(m => m.Item1.Reason)));
        log($"backbone: {spec} ({graph.FeatureSize}-d features{(spec.Members.Count > 1 ? ", members L2-normalised and concatenated" : "")}{(spec.FlipAveraged ? ", averaged with the mirror image's" : "")})");
        return new RunBackbone(spec, members, graph, resolved);
    }

    /// <summary>The backbone files this backbone reads.</summary>
    public IEnumerable<string> Files => Members.Select(m => m.Resolved.FilePath).Distinct();
}

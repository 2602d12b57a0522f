using System.Globalization;

namespace MLTransfer.FeatureStore;

/// <summary>Which shard this task extracts, and where that came from (printed, so a misconfigured job is visible in its log).</summary>
/// <param name="Shard">The shard.</param>
/// <param name="Source">How it was found, e.g. <c>Kubernetes Indexed Job (JOB_COMPLETION_INDEX=2), count 3 from MLTRANSFER_SHARD_COUNT</c>.</param>
public sealed record ShardAssignment(ShardSpec Shard, string Source)
{
    /// <summary>Count variable for schedulers that only hand out an index (Kubernetes' Job does not expose <c>.spec.completions</c>).</summary>
    public const string CountVariable = "MLTRANSFER_SHARD_COUNT";
    /// <summary>Index variable for any other scheduler.</summary>
    public const string IndexVariable = "MLTRANSFER_SHARD_INDEX";

    /// <summary>
    /// The shard from an explicit <c>I/N</c>, else from the scheduler's environment: Kubernetes Indexed Jobs
    /// (<c>JOB_COMPLETION_INDEX</c>), Slurm job arrays (<c>SLURM_ARRAY_TASK_ID</c>, <c>SLURM_ARRAY_TASK_COUNT</c>,
    /// offset by <c>SLURM_ARRAY_TASK_MIN</c>) or <c>MLTRANSFER_SHARD_INDEX</c>; the count from
    /// <paramref name="count"/>, the scheduler, or <c>MLTRANSFER_SHARD_COUNT</c>. With none of them, one shard holds everything.
    /// </summary>
    /// <param name="shard">An explicit <c>I/N</c>, or null.</param>
    /// <param name="count">An explicit count for an index taken from the environment, or null.</param>
    /// <param name="environment">Reads a variable; null for the process environment.</param>
    /// <exception cref="MLTransferException">A value is malformed or out of range, or an index has no count.</exception>
    public static ShardAssignment Resolve(string? shard, int? count = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (shard is not null)
        {
            var spec = ShardSpec.Parse(shard);
            if (count is { } c && c != spec.Count)
                throw new MLTransferException($"The shard {shard} and the shard count {c} disagree (CLI: --shard and --shard-count)", null, "Give one of them");
            return new(spec, "--shard");
        }
        string? Var(string name) => environment(name) is { Length: > 0 } v ? v.Trim() : null;
        if (Var("JOB_COMPLETION_INDEX") is { } k8s)
            return FromIndex("Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", k8s, 0, count, null, Var);
        if (Var("SLURM_ARRAY_TASK_ID") is { } slurm)
        {
            var min = Var("SLURM_ARRAY_TASK_MIN") is { } m ? Number("SLURM_ARRAY_TASK_MIN", m) : 0;
            return FromIndex("Slurm job array", "SLURM_ARRAY_TASK_ID", slurm, min, count, "SLURM_ARRAY_TASK_COUNT", Var);
        }
        if (Var(IndexVariable) is { } generic)
            return FromIndex("environment", IndexVariable, generic, 0, count, null, Var);
        if (count is { } only && only != 1)
            throw new MLTransferException($"--shard-count {only} was given but no shard index", null,
                $"Pass the shard (CLI: --shard I/{only}), or run under a scheduler that sets JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or {IndexVariable}");
        return new(ShardSpec.Single, "no shard given: one shard holds every image");
    }

    private static ShardAssignment FromIndex(string scheduler, string indexName, string indexText, int offset, int? count, string? countName, Func<string, string?> var)
    {
        var index = Number(indexName, indexText) - offset;
        string countSource;
        int n;
        if (count is { } c)
            (n, countSource) = (c, "--shard-count");
        else if (countName is not null && var(countName) is { } schedulerCount)
            (n, countSource) = (Number(countName, schedulerCount), countName);
        else if (var(CountVariable) is { } own)
            (n, countSource) = (Number(CountVariable, own), CountVariable);
        else
            throw new MLTransferException($"{indexName}={indexText} gives this task's shard index, but nothing gives the shard count", null,
                $"Pass the count (CLI: --shard-count N) or set {CountVariable}=N (the job's number of tasks, e.g. a Kubernetes Job's completions)");
        var spec = new ShardSpec(index, n);
        var offsetText = offset != 0 ? string.Create(CultureInfo.InvariantCulture, $" minus SLURM_ARRAY_TASK_MIN={offset}") : "";
        if (spec.Problem() is { } problem)
            throw new MLTransferException($"{scheduler}: {indexName}={indexText}{offsetText} with {countSource}={n}: {problem}", null,
                "Make the job's task count equal the shard count, with indexes 0..N-1");
        return new(spec, $"{scheduler} ({indexName}={indexText}{offsetText}), count {n} from {countSource}");
    }

    private static int Number(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new MLTransferException($"{name} must be a whole number of 0 or more, not '{text}'", null, "Check the job's environment");
}

using System.CommandLine;

namespace MLTransfer.Cli;

/// <summary>The options of the commands that run over several datasets (<c>bench-suite</c>, <c>bench-ood</c>): where they are, which to take.</summary>
internal sealed class DatasetSuiteOptions
{
    public Option<string> Datasets { get; } = new("--datasets") { Description = "Folder whose sub-folders are the datasets (e.g. ../shared/datasets)", Required = true };
    public Option<string[]> Only { get; } = new("--dataset") { Description = "Only these sub-folders (repeatable) [default: all]" };
    public Option<string?> Workspace { get; } = new("--workspace") { Description = "Feature cache folder [default: ~/.cache/mltransfer/workspace]" };

    /// <summary>The datasets folder and the names of the datasets to run, checked.</summary>
    /// <exception cref="MLTransferException">The folder does not exist.</exception>
    public (string Root, string[] Names) Resolve(ParseResult parse)
    {
        var root = parse.GetValue(Datasets)!;
        if (!Directory.Exists(root))
            throw new MLTransferException("Datasets folder not found", root, "Pass the folder that holds the datasets, e.g. --datasets ../shared/datasets");
        var names = parse.GetValue(Only) is { Length: > 0 } chosen ? chosen : Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        return (root, names);
    }
}

using System.Text.RegularExpressions;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests;

/// <summary>
/// The library's folders are its layers: each file's namespace is its folder, and a folder only uses the
/// folders below it. Dependencies are read from the source (using directives and qualified names); unused
/// usings are build warnings (IDE0005), so every using read here is a real dependency.
/// </summary>
public partial class ArchitectureTests
{
    /// <summary>Bottom to top; a folder may use only folders of a lower rank (the root namespace is below all).</summary>
    private static readonly Dictionary<string, int> Rank = new(StringComparer.Ordinal)
    {
        ["Images"] = 1,
        ["Data"] = 1,
        ["Backbones"] = 2,
        ["Features"] = 3,
        ["Heads"] = 3,
        ["Evaluation"] = 3,
        ["Confidence"] = 3,
        ["Export"] = 4,
        ["FeatureStore"] = 4,
        ["Training"] = 5,
        ["FineTuning"] = 6,
        ["Inference"] = 6,
        ["Reporting"] = 7,
    };

    private static string Library => Path.Combine(TestPaths.RepoRoot, "src", "MLTransfer");

    private static IEnumerable<(string Folder, string File, string Text)> Sources() =>
        Directory.EnumerateFiles(Library, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f =>
            {
                var relative = Path.GetRelativePath(Library, f);
                var folder = relative.Contains(Path.DirectorySeparatorChar) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar)] : "";
                return (folder, relative, File.ReadAllText(f));
            });

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"(?<![\w.])(?:global::)?MLTransfer\.([A-Z]\w*)")]
    private static partial Regex QualifiedReference();

    /// <summary>"X.Type" written relative to the root namespace, e.g. <c>Images.ResizeMode</c> (a property named like a folder is not one).</summary>
    [GeneratedRegex(@"(?<![\w.])([A-Z]\w*)\.([A-Z]\w*)")]
    private static partial Regex RelativeReference();

    [GeneratedRegex(@"\b(?:class|record|struct|enum|interface)\s+([A-Z]\w*)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"//.*$|""(?:[^""\\]|\\.)*""", RegexOptions.Multiline)]
    private static partial Regex CommentsAndStrings();

    [Test]
    public void EveryFileDeclaresTheNamespaceOfItsFolder()
    {
        foreach (var (_, file, text) in Sources())
        {
            var expected = "MLTransfer" + string.Concat(Path.GetDirectoryName(file)!.Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Select(p => "." + p));
            var declared = NamespaceDeclaration().Match(text).Groups[1].Value;
            // .NET's convention puts DI registration in the container's namespace, so apps need no extra using.
            if (declared == "Microsoft.Extensions.DependencyInjection" && file.EndsWith("ServiceCollectionExtensions.cs", StringComparison.Ordinal))
                continue;
            Assert.That(declared, Is.EqualTo(expected), file);
        }
    }

    [Test]
    public void FoldersUseOnlyTheLayersBelowThem_SoThereAreNoCycles()
    {
        var edges = new SortedSet<string>(StringComparer.Ordinal);
        var violations = new List<string>();
        var typesOf = Sources().Where(s => s.Folder.Length > 0).GroupBy(s => s.Folder)
            .ToDictionary(g => g.Key, g => g.SelectMany(s => TypeDeclaration().Matches(s.Text).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal));
        foreach (var (folder, file, text) in Sources().Where(s => s.Folder.Length > 0))
        {
            Assert.That(Rank, Does.ContainKey(folder), $"{folder}/ is a new folder: give it a rank in this test (and a line in the README's Layout)");
            var code = CommentsAndStrings().Replace(text, "");
            var relative = RelativeReference().Matches(code)
                .Where(m => typesOf.TryGetValue(m.Groups[1].Value, out var types) && types.Contains(m.Groups[2].Value))
                .Select(m => m.Groups[1].Value);
            foreach (var used in QualifiedReference().Matches(code).Select(m => m.Groups[1].Value).Concat(relative).Where(Rank.ContainsKey).Distinct())
            {
                if (used == folder)
                    continue;
                edges.Add($"{folder} -> {used}");
                if (Rank[used] >= Rank[folder])
                    violations.Add($"{file} uses {used}/ (rank {Rank[used]}) from {folder}/ (rank {Rank[folder]})");
            }
        }
        TestContext.Out.WriteLine(string.Join("\n", edges));
        Assert.That(violations, Is.Empty, string.Join("\n", violations));
    }
}

using System.CommandLine;
using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Store;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer backbones list|pull|verify|inspect</c>: the backbone catalog and local store.</summary>
internal static class BackbonesCommand
{
    public static Command Create()
    {
        var command = new Command("backbones", "List, download, verify and inspect pretrained backbones");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Pull());
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Inspect());
        return command;
    }

    private sealed record Common(Option<string[]> Dirs, Option<string?> Catalog, Option<bool> Json)
    {
        public static Common Add(Command c)
        {
            var common = new Common(
                new Option<string[]>("--backbone-dir") { Description = "Offline folder holding backbone files (repeatable; also MLTRANSFER_BACKBONE_DIR)" },
                new Option<string?>("--catalog") { Description = "JSON file with extra backbone records" },
                new Option<bool>("--json") { Description = "Print one JSON document instead of text" });
            c.Options.Add(common.Dirs);
            c.Options.Add(common.Catalog);
            c.Options.Add(common.Json);
            return common;
        }

        public BackboneStore Store(ParseResult parse, bool quiet) =>
            new(BackboneCatalog.Load(parse.GetValue(Catalog)), BackboneStoreOptions.FromEnvironment(parse.GetValue(Dirs) ?? []) with
            {
                Log = quiet ? null : line => Console.Error.WriteLine(line),
                Progress = quiet ? null : new Progress<DownloadProgress>(p =>
                {
                    if (p.Completed || p.Fraction is null)
                        return;
                    Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\rdownloading {p.Name}: {p.Fraction:P0} ({p.BytesPerSecond / 1e6:F1} MB/s)   "));
                }),
            });
    }

    private static Command List()
    {
        var c = new Command("list", "Catalog backbones: size, and whether a verified-size copy is available locally");
        var common = Common.Add(c);
        c.SetAction(parse => CommandRunner.Run(parse.GetValue(common.Json), () =>
        {
            using var store = common.Store(parse, quiet: true);
            var listing = store.List();
            if (parse.GetValue(common.Json))
            {
                CommandRunner.WriteJson(listing.Select(l => new { l.Name, l.Description.Family, l.SizeBytes, l.AvailableLocally, l.LocalPath, location = l.Location?.ToString(), l.Downloadable, input = $"{l.Description.InputWidth}x{l.Description.InputHeight}", l.Description.FeatureSize, l.Description.Verified, l.Description.VerificationNote }));
                return ExitCodes.Success;
            }
            Console.WriteLine($"{"name",-24} {"size",10} {"input",8} {"features",8}  {"verified here",-15}  available");
            foreach (var l in listing)
            {
                var size = l.SizeBytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1e6:F1} MB") : "?";
                var where = l.AvailableLocally ? $"yes ({l.Location}: {l.LocalPath})"
                    : l.Description.Package is { } package ? $"no (NuGet package {package.Id} {package.Version}, from the NuGet feeds)"
                    : l.Downloadable ? "no (downloadable)" : "no (offline folder only)";
                var verified = l.Description.Verified ? "yes" : "no, record only";
                Console.WriteLine($"{l.Name,-24} {size,10} {$"{l.Description.InputWidth}x{l.Description.InputHeight}",8} {l.Description.FeatureSize?.ToString() ?? "auto",8}  {verified,-15}  {where}");
            }
            // The notes say what "verified" covered, so a record-only entry is not mistaken for a tested one.
            Console.WriteLine();
            foreach (var l in listing.Where(l => l.Description.VerificationNote is not null))
                Console.WriteLine($"{l.Name}: {l.Description.VerificationNote}");
            return ExitCodes.Success;
        }));
        return c;
    }

    private static Command Pull()
    {
        var c = new Command("pull", "Download a catalog backbone into the cache (SHA-256 verified; NuGet backbones from the global packages folder or the NuGet feeds)");
        var name = new Argument<string>("name") { Description = "Catalog name" };
        c.Arguments.Add(name);
        var common = Common.Add(c);
        c.SetAction(parse => CommandRunner.Run(parse.GetValue(common.Json), () =>
        {
            using var store = common.Store(parse, quiet: parse.GetValue(common.Json));
            var resolved = store.Pull(parse.GetValue(name)!);
            if (parse.GetValue(common.Json))
                CommandRunner.WriteJson(resolved);
            else
                Console.WriteLine($"{resolved.Description.Name}: {resolved.FilePath} (sha256 {resolved.Sha256})");
            return ExitCodes.Success;
        }));
        return c;
    }

    private static Command Verify()
    {
        var c = new Command("verify", "Check the SHA-256 of every backbone file in the cache and offline folders");
        var common = Common.Add(c);
        c.SetAction(parse => CommandRunner.Run(parse.GetValue(common.Json), () =>
        {
            using var store = common.Store(parse, quiet: true);
            var results = store.Verify();
            if (parse.GetValue(common.Json))
                CommandRunner.WriteJson(results.Select(r => new { r.Name, r.FilePath, location = r.Location.ToString(), status = r.Status.ToString(), r.ActualSha256, r.ActualSize, r.Message }));
            else if (results.Count == 0)
                Console.WriteLine("No backbone files found locally (searched the cache and offline folders).");
            else
                foreach (var r in results)
                    Console.WriteLine($"{r.Status,-10} {r.Name,-24} {r.FilePath}  {r.Message}");
            return results.Any(r => r.Status is VerifyStatus.Mismatch or VerifyStatus.Unreadable) ? ExitCodes.Failure : ExitCodes.Success;
        }));
        return c;
    }

    private static Command Inspect()
    {
        var c = new Command("inspect", "Show a backbone's inputs, outputs, detected classifier and feature tensor, and guessed preprocessing");
        var target = new Argument<string>("backbone") { Description = "Catalog name or path to an ONNX file" };
        c.Arguments.Add(target);
        var common = Common.Add(c);
        c.SetAction(parse => CommandRunner.Run(parse.GetValue(common.Json), () =>
        {
            using var store = common.Store(parse, quiet: true);
            var resolved = store.Resolve(parse.GetValue(target)!);
            var summary = BackboneGraph.Inspect(File.ReadAllBytes(resolved.FilePath), resolved.FilePath);
            if (parse.GetValue(common.Json))
            {
                CommandRunner.WriteJson(new { backbone = resolved.Description, file = resolved.FilePath, sha256 = resolved.Sha256, summary });
                return ExitCodes.Success;
            }
            Console.WriteLine($"{resolved.Description.Name}: {resolved.FilePath}");
            Console.WriteLine($"  from       {resolved.Reason}");
            Console.WriteLine($"  sha256     {resolved.Sha256}");
            Console.WriteLine($"  format     IR {summary.IrVersion}, opset {summary.Opset}, {summary.NodeCount} nodes, {summary.ParameterCount:N0} parameters, producer '{summary.Producer}'");
            foreach (var i in summary.Inputs)
                Console.WriteLine($"  input      {i}");
            foreach (var o in summary.Outputs)
                Console.WriteLine($"  output     {o}");
            Console.WriteLine(summary.Feature is { } f ? $"  features   {f}" : $"  features   not detected: {summary.DetectionError}");
            var d = resolved.Description;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  catalog    {d.InputWidth}x{d.InputHeight} {d.ResizeMode} {d.ChannelOrder}, mean [{string.Join(", ", d.Mean)}], std [{string.Join(", ", d.Std)}]"));
            if (summary.Preprocessing is { } g)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  guessed    mean [{string.Join(", ", g.Mean)}], std [{string.Join(", ", g.Std)}]{(g.ChannelOrder is { } co ? $", {co}" : "")} (from {g.Evidence})"));
            return ExitCodes.Success;
        }));
        return c;
    }
}

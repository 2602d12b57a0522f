using System.Text;
using System.Text.RegularExpressions;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Packaging;
using NUnit.Framework;

namespace MLTransfer.Tests.Cli;

/// <summary>
/// The command line as a person meets it: its name and help, one line for a typo, progress and log apart on a
/// terminal, each fact once, batch prediction of folders and globs as CSV, and library errors that name the
/// library's options next to the flags.
/// </summary>
[TestFixture, NonParallelizable]
public class CliPolishTests
{
    private string _dir = "";
    private string _zip = "";
    private CliRunner.Result _train = null!;
    private static string Samples => Path.Combine(TestPaths.RepoRoot, "data-samples");
    private static Dictionary<string, string> Offline => new() { ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models") };

    [OneTimeSetUp]
    public void Train()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-clipolish-").FullName;
        _zip = Path.Combine(_dir, "samples.zip");
        _train = CliRunner.Run(["train", "--data", Samples, "--output", _zip, "--workspace", Path.Combine(_dir, "ws")], environment: Offline);
        Assert.That(_train.ExitCode, Is.Zero, _train.ToString());
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Test]
    public void Help_names_the_tool_mltransfer_and_lists_required_options_first()
    {
        var root = CliRunner.Run(["--help"]);
        Assert.That(root.StdOut, Does.Contain("mltransfer [command] [options]").And.Not.Contain("MLTransfer.Cli"));
        foreach (var (command, first) in new[] { ("train", "--data"), ("predict", "--model"), ("evaluate", "--model"), ("export", "--model") })
        {
            var help = CliRunner.Run([command, "--help"]);
            Assert.That(help.StdOut, Does.Contain($"mltransfer {command}"), command);
            var options = help.StdOut[help.StdOut.IndexOf("Options:", StringComparison.Ordinal)..].Split('\n').Skip(1).Select(l => l.Trim()).Where(l => l.StartsWith('-')).ToList();
            // train takes --data or --features: both come first, and --data says which is required.
            Assert.That(options[0], Does.Contain(first).And.Contain("(REQUIRED"), $"{command}: required options come first:\n{help.StdOut}");
        }
    }

    [TestCase("--features", "features")]
    [TestCase("--int8", "int8.onnx")]
    public void The_estimators_heads_refuse_stored_features_and_int8_with_a_usage_error(string flag, string value)
    {
        var args = flag == "--features" ? new[] { "train", "--head", "mlp", flag, Path.Combine(_dir, value) } : ["train", "--head", "mlp", "--data", Samples, flag, Path.Combine(_dir, value)];
        var r = CliRunner.Run(args);
        Assert.That(r.ExitCode, Is.EqualTo(2), r.ToString());
        Assert.That(r.StdErr, Does.Contain("--head mlp trains from --data with the float backbone"));
    }

    [Test]
    public void A_mistyped_flag_is_one_error_line_and_a_pointer_to_help()
    {
        var r = CliRunner.Run(["train", "--dta", Samples]);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.StdOut, Is.Empty);
        Assert.That(r.StdErr.TrimEnd().Split('\n'), Is.EqualTo(new[] { "error: unknown option '--dta'; did you mean '--data'?", "Run 'mltransfer train --help' for usage." }));

        var seed = CliRunner.Run(["train", "--data", Samples, "--seed", "abc"]);
        Assert.That(seed.ExitCode, Is.EqualTo(2));
        Assert.That(seed.StdErr, Does.Contain("--seed must be a whole number, got 'abc'").And.Not.Contain("System.Int32"));
    }

    [Test]
    public void A_train_prints_each_fact_once()
    {
        var all = _train.StdOut + _train.StdErr;
        Assert.That(Regex.Matches(all, "first catalog entry found locally").Count, Is.EqualTo(1), "the backbone's reason:\n" + all);
        Assert.That(Regex.Matches(all, @"(extracted|done,) 140 images").Count, Is.EqualTo(1), "the extraction's summary:\n" + all);
    }

    [Test]
    public void On_a_terminal_log_lines_never_share_the_progress_line()
    {
        if (!File.Exists("/usr/bin/script"))
            Assert.Ignore("util-linux 'script' (a pseudo-terminal) is not installed");
        var transcript = Path.Combine(_dir, "tty.txt");
        var dll = CliRunner.CliDll;
        var command = $"dotnet '{dll}' train --data '{Samples}' --output '{Path.Combine(_dir, "tty.zip")}' --no-cache --batch-size 4 > /dev/null";
        var run = PackedPackages.Run("/usr/bin/script", _dir, TimeSpan.FromMinutes(4), Offline, ["-qfec", command, transcript]);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var screen = Render(File.ReadAllText(transcript));
        Assert.That(screen.Count(l => l.StartsWith("features: ", StringComparison.Ordinal) && l.Contains("/140 images")), Is.LessThanOrEqualTo(1), "one live line:\n" + string.Join('\n', screen));
        Assert.That(screen, Has.Some.StartsWith("extracted 140 images"), "the summary on a line of its own:\n" + string.Join('\n', screen));
        Assert.That(screen, Has.Some.StartsWith("head: "), string.Join('\n', screen));
        Assert.That(screen.Where(l => l.Contains("/140 images")).All(l => l.StartsWith("features: ", StringComparison.Ordinal)), Is.True,
            "no log text before or after a progress line:\n" + string.Join('\n', screen));
    }

    /// <summary>What a terminal shows for a transcript: carriage return, erase-line (ESC[2K) and newline applied.</summary>
    private static List<string> Render(string transcript)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var column = 0;
        for (var i = 0; i < transcript.Length; i++)
        {
            var c = transcript[i];
            if (c == '\u001b')
            {
                var end = i + 1;
                while (end < transcript.Length && !char.IsLetter(transcript[end]) && transcript[end] != '=' && transcript[end] != '>')
                    end++;
                if (transcript.AsSpan(i, Math.Min(4, transcript.Length - i)).SequenceEqual("\u001b[2K"))
                    line.Clear();
                i = end;
            }
            else if (c == '\r')
                column = 0;
            else if (c == '\n')
            {
                lines.Add(line.ToString());
                line.Clear();
                column = 0;
            }
            else
            {
                if (column < line.Length)
                    line[column] = c;
                else
                    line.Append(c);
                column++;
            }
        }
        if (line.Length > 0)
            lines.Add(line.ToString());
        return lines;
    }

    [Test]
    public void Predict_scores_a_folder_and_a_glob_as_csv()
    {
        var fruit = Path.Combine(Samples, "fruit");
        var images = Directory.GetFiles(fruit).Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase)).ToList();
        var folder = CliRunner.Run(["predict", "--model", _zip, "--csv", fruit]);
        Assert.That(folder.ExitCode, Is.Zero, folder.ToString());
        var rows = folder.StdOut.TrimEnd().Split('\n');
        Assert.That(rows[0], Is.EqualTo("image,label,probability,abstention,error,birds,bugs,fruit,music"));
        Assert.That(rows.Length - 1, Is.EqualTo(images.Count), "one row per image in the folder");
        Assert.That(rows.Skip(1).Count(r => r.Split(',')[1] == "fruit"), Is.GreaterThan(images.Count / 2));
        foreach (var row in rows.Skip(1))
        {
            var fields = row.Split(',');
            Assert.That(fields.Skip(5).Sum(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture)), Is.EqualTo(1).Within(1e-4), row);
        }

        var glob = CliRunner.Run(["predict", "--model", _zip, Path.Combine(Samples, "**", "*_01.jpg")]);
        Assert.That(glob.ExitCode, Is.Zero, glob.ToString());
        var expected = Directory.GetFiles(Samples, "*_01.jpg", SearchOption.AllDirectories).Length;
        Assert.That(expected, Is.GreaterThan(1));
        Assert.That(glob.StdOut.TrimEnd().Split('\n'), Has.Length.EqualTo(expected));

        var empty = Directory.CreateDirectory(Path.Combine(_dir, "empty")).FullName;
        var none = CliRunner.Run(["predict", "--model", _zip, empty]);
        Assert.That(none.ExitCode, Is.EqualTo(1));
        Assert.That(none.StdErr, Does.Contain("holds no image files"));
        Assert.That(CliRunner.Run(["predict", "--model", _zip, "--csv", "--json", fruit]).ExitCode, Is.EqualTo(2));
    }

    [Test]
    public void Train_reaches_the_estimators_mlp_head_with_augmentation_and_its_zip_predicts()
    {
        var zip = Path.Combine(_dir, "mlp.zip");
        var train = CliRunner.Run(["train", "--data", Samples, "--output", zip, "--workspace", Path.Combine(_dir, "ws"), "--backbone", "mobilenet-v1-0.75-192",
            "--head", "mlp", "--hidden", "64", "--epochs", "40", "--augment", "flip", "--json"], environment: Offline);
        Assert.That(train.ExitCode, Is.Zero, train.ToString());
        using (var doc = System.Text.Json.JsonDocument.Parse(train.StdOut))
        {
            Assert.That(doc.RootElement.GetProperty("head").GetString(), Is.EqualTo("mlp 64 (TransferImageClassification)"));
            Assert.That(doc.RootElement.GetProperty("epochsRun").GetInt32(), Is.InRange(1, 40));
            Assert.That(doc.RootElement.GetProperty("test").GetProperty("accuracy").GetDouble(), Is.GreaterThan(0.5), "4 classes: chance is 0.25");
            Assert.That(doc.RootElement.GetProperty("augmentedViews").GetInt32(), Is.GreaterThan(50), "--augment flip took effect: one mirror view per training image");
        }
        var predict = CliRunner.Run(["predict", "--model", zip, Path.Combine(Samples, "fruit")]);
        Assert.That(predict.ExitCode, Is.Zero, predict.ToString());
        Assert.That(CliRunner.Run(["train", "--data", Samples, "--head", "mlp", "--augment", "mirror"], environment: Offline).StdErr, Does.Contain("--augment does not know 'mirror'"));
    }

    [Test]
    public void A_library_error_names_the_library_option_and_the_flag()
    {
        var home = Path.Combine(_dir, "home");
        var r = CliRunner.Run(["train", "--data", Samples, "--backbone", "mobilenet-v2", "--offline", "--output", Path.Combine(_dir, "x.zip")],
            environment: CliRunner.Isolated(home));
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.StdErr, Does.Contain("BackboneSource.Dirs").And.Contain("--backbone-dir").And.Contain("MLTRANSFER_BACKBONE_DIR"));
    }

    /// <summary>
    /// Library messages are read by apps as well as by the CLI's users: a message that names a flag names the
    /// library option too (written "Option (CLI: --flag)").
    /// </summary>
    [Test]
    public void Every_library_message_that_names_a_flag_also_names_the_option()
    {
        var offenders = new List<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "src", "MLTransfer"), "*.cs", SearchOption.AllDirectories))
            foreach (var (line, number) in File.ReadLines(file).Select((l, i) => (l, i + 1)))
            {
                var code = line.TrimStart();
                if (code.StartsWith("//", StringComparison.Ordinal))
                    continue;
                foreach (Match literal in Regex.Matches(code, "\"(?:[^\"\\\\]|\\\\.)*\""))
                    if (Regex.IsMatch(literal.Value, @"(^|[\s(])--[a-z]") && !literal.Value.Contains("CLI") && !literal.Value.Contains("the CLI's --help"))
                        offenders.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, file)}:{number}: {literal.Value}");
            }
        Assert.That(offenders, Is.Empty);
    }
}

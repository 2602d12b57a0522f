using System.Diagnostics;
using System.Text;
using MLTransfer.Data;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Data;

/// <summary>
/// Mutated manifests (byte flips, truncation, stray quotes, delimiters and control characters, huge fields,
/// escaping paths, NUL bytes, invalid UTF-8, many rows) must each end in a loaded dataset or in one
/// <see cref="MLTransferException"/> with a one-line message: no other exception, no hang, no runaway
/// allocation. The seed is fixed, so a failure names the case that reproduces it.
/// </summary>
[TestFixture, NonParallelizable]
public class ManifestFuzzTests
{
    private const int Seed = 20240917;
    private const int Cases = 600;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    private string _root = "";
    private string _data = "";
    private string[] _bases = [];

    [OneTimeSetUp]
    public void CreateImages()
    {
        _root = Directory.CreateTempSubdirectory("mlt-fuzz-").FullName;
        _data = Path.Combine(_root, "data");
        TinyImages.WriteClass(Path.Combine(_data, "imgs"), "cat", 0, 4);
        TinyImages.WriteClass(Path.Combine(_data, "imgs", "more dogs"), "dog", 1, 4);
        File.WriteAllBytes(Path.Combine(_data, "imgs", "a,b;c.png"), TinyImages.Png(2, 1));
        File.WriteAllBytes(Path.Combine(_root, "outside.png"), TinyImages.Png(3, 1));
        File.CreateSymbolicLink(Path.Combine(_data, "imgs", "sneaky.png"), Path.Combine(_root, "outside.png"));
        var rows = new[]
        {
            ("imgs/cat_00.png", "cats", "train"), ("imgs/cat_01.png", "cats", "train"), ("imgs/cat_02.png", "cats", "val"),
            ("imgs/cat_03.png", "cats", "test"), ("imgs/more dogs/dog_00.png", "dogs", "train"), ("imgs/more dogs/dog_01.png", "dogs", "train"),
            ("imgs/more dogs/dog_02.png", "dogs", "val"), ("imgs/more dogs/dog_03.png", "dogs", "test"),
        };
        _bases =
        [
            "path,label,split\n" + string.Concat(rows.Select(r => $"{r.Item1},{r.Item2},{r.Item3}\n")) + "\"imgs/a,b;c.png\",birds,train\n",
            "path;label\r\n" + string.Concat(rows.Select(r => $"{r.Item1};{r.Item2}\r\n")),
            string.Concat(rows.Select(r => $"{r.Item1}\t{r.Item2}\t{r.Item3}\n")),
        ];
    }

    [OneTimeTearDown]
    public void Cleanup() => Directory.Delete(_root, recursive: true);

    [Test]
    public void MutatedManifests_LoadOrFailWithOneLineMLTransferException()
    {
        // Sanity: every base manifest loads as it is.
        for (var b = 0; b < _bases.Length; b++)
            Assert.That(DatasetLoader.Load(Write(Encoding.UTF8.GetBytes(_bases[b]), ".csv")).Images, Has.Count.GreaterThanOrEqualTo(8), $"base {b}");

        var current = -1;
        var description = "";
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        // On its own thread so that a hang fails the test (naming the case) instead of blocking the run.
        var run = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < Cases; i++)
            {
                current = i;
                var rng = new Random(HashCode.Combine(Seed, i));
                var (bytes, ext, what) = Mutate(rng);
                description = what;
                var path = Write(bytes, ext);
                var allocated = GC.GetAllocatedBytesForCurrentThread();
                string outcome;
                try
                {
                    var dataset = DatasetLoader.Load(path);
                    outcome = "loaded";
                    CheckDataset(dataset, failures, i, what);
                }
                catch (MLTransferException e)
                {
                    outcome = "refused: " + e.What[..Math.Min(e.What.Length, 40)];
                    if (e.Message.AsSpan().IndexOfAny('\n', '\r') >= 0)
                        failures.Add($"case {i} ({what}): message spans lines: {Escape(e.Message)}");
                    if (e.Message.Length > 2000)
                        failures.Add($"case {i} ({what}): message of {e.Message.Length} characters");
                }
                catch (Exception e)
                {
                    outcome = "crashed";
                    failures.Add($"case {i} ({what}): {e.GetType().Name}: {Escape(e.Message)}\n{e.StackTrace}");
                }
                // Catches super-linear work on long fields or many rows (a quadratic pass over a 100 kB field
                // allocates gigabytes); linear work stays far below this.
                var used = GC.GetAllocatedBytesForCurrentThread() - allocated;
                if (used > 64L * 1024 * 1024 + 2_000L * bytes.Length)
                    failures.Add($"case {i} ({what}): allocated {used / 1024 / 1024} MB for a {bytes.Length}-byte manifest");
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            }
        }, TaskCreationOptions.LongRunning);

        if (!run.Wait(Budget))
            Assert.Fail($"the fuzz did not finish within {Budget.TotalSeconds} s; stuck on seed {Seed} case {current} ({description})");
        run.GetAwaiter().GetResult();
        TestContext.Out.WriteLine($"{Cases} cases in {clock.Elapsed.TotalSeconds:F1} s (seed {Seed}):");
        foreach (var (outcome, count) in outcomes.OrderByDescending(o => o.Value))
            TestContext.Out.WriteLine($"  {count,4} {outcome}");
        Assert.That(failures, Is.Empty, $"seed {Seed}:\n" + string.Join("\n", failures.Take(20)));
        Assert.That(outcomes.GetValueOrDefault("loaded"), Is.GreaterThan(Cases / 10), "enough cases still load for the mutations to reach the row checks");
    }

    private void CheckDataset(Dataset dataset, List<string> failures, int i, string what)
    {
        if (dataset.ClassNames.Count < 2)
            failures.Add($"case {i} ({what}): loaded with {dataset.ClassNames.Count} class(es)");
        foreach (var image in dataset.Images)
        {
            if (!image.Path.StartsWith(_data + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                failures.Add($"case {i} ({what}): an image outside the manifest's folder was loaded: {Escape(image.Path)}");
            if (image.Path.EndsWith("sneaky.png", StringComparison.Ordinal))
                failures.Add($"case {i} ({what}): the link leading outside was followed");
            if (image.Label.Any(char.IsControl) || string.IsNullOrWhiteSpace(image.Label))
                failures.Add($"case {i} ({what}): label {Escape(image.Label)} was accepted");
        }
        foreach (var warning in dataset.Warnings)
            if (warning.AsSpan().IndexOfAny('\n', '\r') >= 0)
                failures.Add($"case {i} ({what}): warning spans lines: {Escape(warning)}");
    }

    private string Write(byte[] bytes, string ext)
    {
        foreach (var old in new[] { "m", "m.csv", "m.tsv", "m.txt" })
            File.Delete(Path.Combine(_data, old));
        var path = Path.Combine(_data, "m" + ext);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Escape(string s)
    {
        var shown = s.Length > 300 ? s[..300] + $"…({s.Length} chars)" : s;
        return string.Concat(shown.Select(c => char.IsControl(c) ? $"\\x{(int)c:X2}" : c.ToString()));
    }

    private static readonly string[] Escapes =
    [
        "../../etc/passwd", "/etc/passwd", "imgs/../../outside.png", "imgs/sneaky.png", "~/.ssh/id_rsa", "\\\\server\\share\\x.png",
        "C:\\Windows\\win.ini", "imgs/..\\..\\outside.png", "imgs/./../../data/../outside.png", "file:///etc/passwd", "..", ".", "/",
        "imgs/cat_00.png/", "imgs//cat_00.png", "./imgs/cat_01.png", "imgs/cat_00.png\0.txt", "imgs", "m.csv", "/dev/zero", "/proc/self/fd/0",
    ];

    private static readonly string[] Controls = ["\0", "\r", "\n", "\r\n", "\x1b[31m", "\x7f", "\u2028", "\u0085", "\t", "\f", "\v", "\uFEFF", "\u202E"];

    private static readonly byte[][] BadUtf8 =
    [
        [0x80], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF, 0xFE], [0xFE, 0xFF], [0xEF, 0xBB], [0xC3], [0xE2, 0x82],
    ];

    /// <summary>One mutated manifest: bytes, file extension and a description for the failure message.</summary>
    private (byte[] Bytes, string Ext, string What) Mutate(Random rng)
    {
        var b = rng.Next(_bases.Length);
        var text = _bases[b];
        var ext = rng.Next(10) switch { 0 => ".tsv", 1 => ".txt", 2 => "", _ => ".csv" };
        var steps = new List<string> { $"base {b}{ext}" };
        byte[]? bytes = null;
        var count = 1 + rng.Next(3);
        for (var k = 0; k < count; k++)
        {
            var kind = rng.Next(12);
            switch (kind)
            {
                case 0:
                    text = Insert(rng, text, new string('"', 1 + rng.Next(20)), out var at0);
                    steps.Add($"quotes@{at0}");
                    break;
                case 1:
                    var delimiters = string.Concat(Enumerable.Range(0, 1 + rng.Next(8)).Select(_ => ",;\t|"[rng.Next(4)]));
                    text = Insert(rng, text, delimiters, out var at1);
                    steps.Add($"delimiters@{at1}");
                    break;
                case 2:
                    var control = Controls[rng.Next(Controls.Length)];
                    text = Insert(rng, text, control, out var at2);
                    steps.Add($"control U+{(int)control[0]:X4}@{at2}");
                    break;
                case 3:
                    var length = rng.Next(4) == 0 ? 100_000 + rng.Next(150_000) : 300 + rng.Next(5_000);
                    var unit = new[] { "a", "/", "../", "\"", "\"\"", "x,", "é", "\\" }[rng.Next(8)];
                    var field = string.Concat(Enumerable.Repeat(unit, length / unit.Length));
                    text = Insert(rng, text, field, out var at3);
                    steps.Add($"long field '{unit}'×{length / unit.Length}@{at3}");
                    break;
                case 4:
                    var lines = text.Split('\n');
                    var line = rng.Next(lines.Length);
                    var sep = text.Contains(';') && !text.Contains(",label") ? ";" : text.Contains('\t') ? "\t" : ",";
                    var escape = Escapes[rng.Next(Escapes.Length)];
                    lines[line] = rng.Next(2) == 0 ? $"{escape}{sep}cats" : $"\"{escape.Replace("\"", "\"\"")}\"{sep}dogs{sep}train";
                    text = string.Join('\n', lines);
                    steps.Add($"escape '{escape}' on line {line + 1}");
                    break;
                case 5:
                    var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    var times = rng.Next(5) == 0 ? 10_000 + rng.Next(20_000) : 50 + rng.Next(500);
                    var builder = new StringBuilder(text);
                    for (var r = 0; r < times; r++)
                        builder.Append(rows[rng.Next(rows.Length)]).Append('\n');
                    text = builder.ToString();
                    steps.Add($"+{times} repeated rows");
                    break;
                case 6:
                    text = Insert(rng, text, "\0\0\0", out var at6);
                    steps.Add($"NULs@{at6}");
                    break;
                case 7:
                    var label = new[] { "\"\"", "\" \"", "\"a\nb\"", "\"cats\r\"", "\"\t\"", new string('L', 20_000), "\"x\"\"y\"", "CATS", "Cats" }[rng.Next(9)];
                    var all = text.Split('\n');
                    var target = rng.Next(all.Length);
                    var sepIndex = all[target].LastIndexOfAny([',', ';', '\t']);
                    if (sepIndex >= 0)
                        all[target] = all[target][..(sepIndex + 1)] + label;
                    text = string.Join('\n', all);
                    steps.Add($"label {Escape(label[..Math.Min(label.Length, 10)])} on line {target + 1}");
                    break;
                default:
                    // Byte-level mutations last: the text is encoded and mutated as bytes from here on.
                    bytes ??= Encoding.UTF8.GetBytes(text);
                    bytes = MutateBytes(rng, bytes, kind, steps);
                    break;
            }
        }
        return (bytes ?? Encoding.UTF8.GetBytes(text), ext, string.Join(", ", steps));
    }

    private static byte[] MutateBytes(Random rng, byte[] bytes, int kind, List<string> steps)
    {
        if (bytes.Length == 0)
            return bytes;
        switch (kind)
        {
            case 8:
                var flips = 1 + rng.Next(10);
                var copy = (byte[])bytes.Clone();
                for (var f = 0; f < flips; f++)
                    copy[rng.Next(copy.Length)] ^= (byte)(1 << rng.Next(8));
                steps.Add($"{flips} bit flips");
                return copy;
            case 9:
                var cut = rng.Next(bytes.Length);
                steps.Add($"truncated to {cut}");
                return bytes[..cut];
            case 10:
                var bad = BadUtf8[rng.Next(BadUtf8.Length)];
                var at = rng.Next(4) == 0 ? 0 : rng.Next(bytes.Length);
                steps.Add($"invalid UTF-8 {Convert.ToHexString(bad)}@{at}");
                return [.. bytes[..at], .. bad, .. bytes[at..]];
            default:
                var random = new byte[1 + rng.Next(64)];
                rng.NextBytes(random);
                var where = rng.Next(bytes.Length);
                steps.Add($"{random.Length} random bytes@{where}");
                return [.. bytes[..where], .. random, .. bytes[where..]];
        }
    }

    private static string Insert(Random rng, string text, string piece, out int at)
    {
        at = rng.Next(text.Length + 1);
        return text.Insert(at, piece);
    }
}

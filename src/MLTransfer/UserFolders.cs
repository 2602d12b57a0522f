namespace MLTransfer;

/// <summary>Per-user folders, following the XDG base-directory convention used on Linux.</summary>
internal static class UserFolders
{
    /// <summary><c>$XDG_CACHE_HOME/mltransfer</c>, or <c>~/.cache/mltransfer</c>: backbones and the feature workspace.</summary>
    public static string Cache => Path.Combine(Xdg("XDG_CACHE_HOME", ".cache"), "mltransfer");

    /// <summary><c>$XDG_CONFIG_HOME/mltransfer</c>, or <c>~/.config/mltransfer</c>: the user catalog.</summary>
    public static string Config => Path.Combine(Xdg("XDG_CONFIG_HOME", ".config"), "mltransfer");

    private static string Xdg(string variable, string fallback)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        // The XDG spec says relative values are invalid and must be ignored.
        return !string.IsNullOrWhiteSpace(value) && Path.IsPathRooted(value)
            ? value
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), fallback);
    }
}

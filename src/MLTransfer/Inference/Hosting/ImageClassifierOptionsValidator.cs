using Microsoft.Extensions.Options;

namespace MLTransfer.Inference.Hosting;

/// <summary>Checks <see cref="ImageClassifierOptions"/> when the host starts, so a bad setting stops the start with its reason.</summary>
internal sealed class ImageClassifierOptionsValidator : IValidateOptions<ImageClassifierOptions>
{
    public ValidateOptionsResult Validate(string? name, ImageClassifierOptions options)
    {
        var which = string.IsNullOrEmpty(name) ? "ImageClassifierOptions" : $"ImageClassifierOptions '{name}'";
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            failures.Add($"{which}: ModelPath is not set; set it to a model zip written by 'mltransfer train' (configuration key ModelPath)");
        else if (!File.Exists(options.ModelPath))
            failures.Add($"{which}: Model file not found at ModelPath '{Path.GetFullPath(options.ModelPath)}'; train a model there or correct the path");
        if (options.ReloadDebounce < TimeSpan.Zero || options.ReloadDebounce > TimeSpan.FromHours(1))
            failures.Add($"{which}: ReloadDebounce {options.ReloadDebounce} is outside 0..1 hour");
        if (options.DecodeBudgetBytes is <= 0)
            failures.Add($"{which}: DecodeBudgetBytes must be positive (or null for no limit), got {options.DecodeBudgetBytes}");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

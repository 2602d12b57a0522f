using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MLTransfer.Inference.Hosting;

/// <summary>Registers a served, hot-reloading image classifier with a dependency-injection container.</summary>
public static class ImageClassifierServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="ReloadingImageClassifier"/>. The container disposes it on shutdown,
    /// which deletes ML.NET's temporary copy of the ONNX model.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddImageClassifier(o => o.ModelPath = "models/flowers.zip");
    /// app.MapPost("/predict", (ReloadingImageClassifier c, byte[] image) => c.Predict(image));
    /// </code>
    /// </example>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, Action<ImageClassifierOptions> configure)
    {
        services.Configure(configure);
        services.TryAddSingleton(sp => new ReloadingImageClassifier(
            sp.GetRequiredService<IOptions<ImageClassifierOptions>>().Value,
            sp.GetService<ILogger<ReloadingImageClassifier>>()));
        return services;
    }
}

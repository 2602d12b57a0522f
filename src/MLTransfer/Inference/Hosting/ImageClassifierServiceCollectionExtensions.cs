using System.Diagnostics.Metrics;
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
    /// which deletes ML.NET's temporary copy of the ONNX model. On Linux it also caps glibc's malloc arenas
    /// for the process (as <c>MALLOC_ARENA_MAX=2</c> would): with glibc's default, ONNX Runtime's native
    /// allocations on many request threads let a service's memory grow without bound.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddImageClassifier(o => o.ModelPath = "models/flowers.zip");
    /// app.MapPost("/predict", (ReloadingImageClassifier c, byte[] image) => c.Predict(image));
    /// </code>
    /// </example>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, Action<ImageClassifierOptions> configure)
    {
        // Arenas made before this call keep their memory, so it runs as early as the app's service
        // registration, before request threads exist.
        MallocArenas.Limit();
        services.Configure(configure);
        services.TryAddSingleton(sp => new ReloadingImageClassifier(
            sp.GetRequiredService<IOptions<ImageClassifierOptions>>().Value,
            sp.GetService<ILogger<ReloadingImageClassifier>>(),
            sp.GetService<IMeterFactory>()));
        return services;
    }
}

using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MLTransfer.Inference;
using MLTransfer.Inference.Hosting;

// The .NET convention for DI registration: `builder.Services.AddImageClassifier(...)` needs no extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers served, hot-reloading image classifiers (<see cref="IImageClassifier"/>, backed by
/// <see cref="ReloadingImageClassifier"/>) with a dependency-injection container.
/// </summary>
/// <remarks>
/// The options are validated when the host starts (a missing model file stops the start, not the first
/// request). On Linux the first registration also caps glibc's malloc arenas for the process (as
/// <c>MALLOC_ARENA_MAX=2</c> would): with glibc's default, ONNX Runtime's native allocations on many request
/// threads let a service's memory grow without bound. The container disposes the classifiers on shutdown.
/// </remarks>
/// <example>
/// <code>
/// builder.Services.AddImageClassifier(builder.Configuration.GetSection("Classifier"));   // { "ModelPath": "models/flowers.zip" }
/// builder.Services.AddImageClassifier("birds", o => o.ModelPath = "models/birds.zip");   // a second, named model
/// app.MapPost("/predict", (IImageClassifier c, byte[] image) => c.Predict(image));
/// app.MapPost("/birds", ([FromKeyedServices("birds")] IImageClassifier c, byte[] image) => c.Predict(image));
/// </code>
/// </example>
public static class ImageClassifierServiceCollectionExtensions
{
    /// <summary>Adds the app's classifier (<see cref="IImageClassifier"/> and <see cref="ReloadingImageClassifier"/>), configured in code.</summary>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, Action<ImageClassifierOptions> configure) =>
        Add(services, null, b => b.Configure(configure));

    /// <summary>Adds the app's classifier, bound to a configuration section (keys named as <see cref="ImageClassifierOptions"/>' properties).</summary>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, IConfiguration configuration) =>
        Add(services, null, b => b.Bind(configuration));

    /// <summary>
    /// Adds a named classifier: a keyed service (<c>[FromKeyedServices(name)] IImageClassifier</c>, or
    /// <c>GetRequiredKeyedService&lt;IImageClassifier&gt;(name)</c>) with named options.
    /// </summary>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, string name, Action<ImageClassifierOptions> configure) =>
        Add(services, RequireName(name), b => b.Configure(configure));

    /// <summary>Adds a named classifier bound to a configuration section.</summary>
    public static IServiceCollection AddImageClassifier(this IServiceCollection services, string name, IConfiguration configuration) =>
        Add(services, RequireName(name), b => b.Bind(configuration));

    private static string RequireName(string name) =>
        string.IsNullOrWhiteSpace(name) ? throw new ArgumentException("A named classifier needs a name; use the overload without one for the app's only model.", nameof(name)) : name;

    private static IServiceCollection Add(IServiceCollection services, string? name, Action<OptionsBuilder<ImageClassifierOptions>> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        // Arenas made before this call keep their memory, so it runs as early as the app's service
        // registration, before request threads exist.
        MallocArenas.Limit();
        var builder = services.AddOptions<ImageClassifierOptions>(name ?? Options.Options.DefaultName).ValidateOnStart();
        configure(builder);
        if (name is not null)
            builder.PostConfigure(o => o.Name = name);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ImageClassifierOptions>, ImageClassifierOptionsValidator>());
        ReloadingImageClassifier Create(IServiceProvider sp) => new(
            sp.GetRequiredService<IOptionsMonitor<ImageClassifierOptions>>().Get(name ?? Options.Options.DefaultName),
            sp.GetService<ILogger<ReloadingImageClassifier>>(),
            sp.GetService<IMeterFactory>());
        if (name is null)
        {
            services.TryAddSingleton(Create);
            services.TryAddSingleton<IImageClassifier>(sp => sp.GetRequiredService<ReloadingImageClassifier>());
        }
        else
        {
            services.TryAddKeyedSingleton(name, (sp, _) => Create(sp));
            services.TryAddKeyedSingleton<IImageClassifier>(name, (sp, key) => sp.GetRequiredKeyedService<ReloadingImageClassifier>(key));
        }
        return services;
    }
}

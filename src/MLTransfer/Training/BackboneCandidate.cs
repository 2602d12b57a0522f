namespace MLTransfer.Training;

/// <summary>One backbone considered by a selection (<c>--backbone auto</c> or a list), as the report lists it.</summary>
/// <param name="Backbone">The candidate, e.g. <c>resnet50</c>, <c>mobilenet-v2+resnet50</c>, <c>tta:resnet50</c>.</param>
/// <param name="Score">Accuracy the choice was made on (<paramref name="ScoredOn"/>); never a test score.</param>
/// <param name="LogLoss">Log-loss on the same images; breaks ties.</param>
/// <param name="ScoredOn">Where <paramref name="Score"/> comes from: the validation split, or k-fold cross-validation on the training images.</param>
/// <param name="FeatureSize">Width of its features.</param>
/// <param name="ModelBytes">Size of its backbone graph, about what it adds to a model zip.</param>
/// <param name="PredictMilliseconds">Median time of one image through its backbone graph on this machine.</param>
/// <param name="ImagesPerSecond">Backbone throughput at extraction's batch size on this machine (decoding excluded).</param>
/// <param name="Chosen">True for the winner.</param>
public sealed record BackboneCandidate(string Backbone, double Score, double LogLoss, string ScoredOn, int FeatureSize, long ModelBytes, double PredictMilliseconds, double ImagesPerSecond, bool Chosen);

namespace MLTransfer.Inference;

/// <summary>The model's answer for one image.</summary>
/// <param name="Label">The most probable class.</param>
/// <param name="Probability">Its probability.</param>
/// <param name="Probabilities">Probability of every class, in the model's class order.</param>
/// <param name="TopK">The most probable classes, best first.</param>
public sealed record ImagePrediction(
    string Label,
    float Probability,
    IReadOnlyList<ClassProbability> Probabilities,
    IReadOnlyList<ClassProbability> TopK);

/// <summary>One class and its probability.</summary>
/// <param name="Label">Class name.</param>
/// <param name="Probability">Probability in [0, 1].</param>
public sealed record ClassProbability(string Label, float Probability);

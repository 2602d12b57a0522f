namespace MLTransfer.FineTuning;

/// <summary>The images one lane fits on and is scored on, as cut activations and class indices.</summary>
internal sealed record EarlyStoppingLaneData(List<float[]> FitCut, int[] FitLabels, List<float[]> SelectionCut, int[] SelectionLabels);

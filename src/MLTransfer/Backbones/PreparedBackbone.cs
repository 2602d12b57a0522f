namespace MLTransfer.Backbones;

// PROVISIONAL: replaced by the graph-surgery branch.
public sealed record PreparedBackbone(BackboneDescription Description, byte[] OnnxBytes, int FeatureSize)
{
    public const string InputName = "mltransfer_input";
    public const string OutputName = "mltransfer_features";
    public int InputWidth => Description.InputWidth;
    public int InputHeight => Description.InputHeight;
}

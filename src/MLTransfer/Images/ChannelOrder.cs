namespace MLTransfer.Images;

/// <summary>Order of the colour planes the backbone expects.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue planes.</summary>
    Rgb,
    /// <summary>Blue, green, red planes (Caffe-style models).</summary>
    Bgr,
}

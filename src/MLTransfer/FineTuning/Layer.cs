namespace MLTransfer.FineTuning;

/// <summary>One ONNX node of the trainable block, with its forward and backward pass.</summary>
internal abstract class Layer(string name, string opType, IReadOnlyList<string> inputs, string output)
{
    /// <summary>Node name (or a description when the node has none).</summary>
    public string Name => name;
    public string OpType => opType;
    /// <summary>The data inputs (weights and constant operands are held by the layer).</summary>
    public IReadOnlyList<string> Inputs => inputs;
    public string Output => output;
    public virtual IReadOnlyList<Parameter> Parameters => [];

    public abstract Act Forward(IReadOnlyList<Act> inputs);

    /// <summary>
    /// Adds the gradient of the loss to <paramref name="gradInputs"/> (entries that are null are not
    /// wanted) and to the gradients of <see cref="Parameters"/>. Accumulating rather than assigning lets a
    /// tensor that feeds several nodes, like a residual input, collect all its contributions.
    /// </summary>
    public abstract void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs);
}

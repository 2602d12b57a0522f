namespace MLTransfer.FineTuning;

/// <summary>
/// The trainable top of a backbone: layers in graph order from the cut tensor to the feature tensor, run
/// forward on a batch of cut activations and backward by reverse-mode differentiation.
/// </summary>
internal sealed class TrainableNetwork
{
    public TrainableNetwork(string inputName, string outputName, IReadOnlyList<Layer> layers)
    {
        InputName = inputName;
        OutputName = outputName;
        Layers = layers;
        Parameters = layers.SelectMany(l => l.Parameters).Distinct().ToList();
    }

    /// <summary>The cut tensor: the network's only data input.</summary>
    public string InputName { get; }
    /// <summary>The tensor the network computes (the feature tensor).</summary>
    public string OutputName { get; }
    public IReadOnlyList<Layer> Layers { get; }
    public IReadOnlyList<Parameter> Parameters { get; }
    public IEnumerable<Parameter> TrainableParameters => Parameters.Where(p => p.Trainable);

    /// <summary>Values of every tensor of one forward pass, kept for the backward pass.</summary>
    public sealed class Tape
    {
        internal Dictionary<string, Act> Values { get; } = new(StringComparer.Ordinal);
        public Act Output { get; internal set; } = null!;
    }

    public Act Forward(Act input) => ForwardWithTape(input).Output;

    public Tape ForwardWithTape(Act input)
    {
        var tape = new Tape();
        tape.Values[InputName] = input;
        foreach (var layer in Layers)
        {
            var inputs = layer.Inputs.Select(name => tape.Values.TryGetValue(name, out var v) ? v
                : throw new InvalidOperationException($"Layer '{layer.Name}' reads '{name}', which nothing above the cut computes.")).ToList();
            tape.Values[layer.Output] = layer.Forward(inputs);
        }
        tape.Output = tape.Values[OutputName];
        return tape;
    }

    /// <summary>
    /// Accumulates parameter gradients for <paramref name="gradOutput"/> (dLoss/dOutput) and returns the
    /// gradient with respect to the input when asked for (only the gradient checks need it).
    /// </summary>
    public Act? Backward(Tape tape, Act gradOutput, bool wantInputGradient = false)
    {
        var grads = new Dictionary<string, Act>(StringComparer.Ordinal) { [OutputName] = gradOutput };
        for (var i = Layers.Count - 1; i >= 0; i--)
        {
            var layer = Layers[i];
            if (!grads.TryGetValue(layer.Output, out var dy))
                continue; // nothing downstream of this node reaches the output
            var inputs = layer.Inputs.Select(name => tape.Values[name]).ToList();
            var gradInputs = layer.Inputs.Select(name =>
            {
                // The cached cut activations are constants: skipping their gradient saves the most
                // expensive input-gradient product of the first trainable layer.
                if (name == InputName && !wantInputGradient)
                    return null;
                if (!grads.TryGetValue(name, out var g))
                    grads[name] = g = tape.Values[name].ZerosLike();
                return g;
            }).ToList();
            layer.Backward(inputs, tape.Values[layer.Output], dy, gradInputs);
        }
        return wantInputGradient ? grads.GetValueOrDefault(InputName) : null;
    }

    public void ZeroGrad()
    {
        foreach (var p in Parameters)
            p.ZeroGrad();
    }

    /// <summary>Copies of every parameter value, to restore the best epoch later.</summary>
    public float[][] Snapshot() => Parameters.Select(p => (float[])p.Value.Clone()).ToArray();

    public void Restore(float[][] snapshot)
    {
        for (var i = 0; i < Parameters.Count; i++)
            snapshot[i].CopyTo(Parameters[i].Value, 0);
    }
}

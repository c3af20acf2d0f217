namespace NativeCert.Engine;

/// <summary>
/// Offsets of every tensor in the one flat parameter buffer (docs/engine.md): for each layer with parameters, in
/// model order, its weight then its bias. Dense layer: W <c>(in, out)</c> row-major, b <c>(out)</c>; convolution:
/// W <c>(C_out, C_in, k, k)</c> row-major, b <c>(C_out)</c>. Gradients and momentum use the same layout.
/// Parameter layer l sums over <see cref="In"/>(l) inputs (the He fan-in) for each of <see cref="Out"/>(l) outputs,
/// so its weight holds In(l)·Out(l) floats in both cases.
/// </summary>
internal sealed class ParameterLayout
{
    private readonly int[] _weightOffsets, _biasOffsets, _fanIn, _units, _layerIndex;

    public ModelArchitecture Model { get; }
    /// <summary>Number of layers with parameters.</summary>
    public int Layers { get; }
    /// <summary>Total parameter count (floats).</summary>
    public int Count { get; }

    public ParameterLayout(ModelArchitecture model)
    {
        Model = model;
        int count = 0;
        foreach (var layer in model.Layers) if (layer.Spec.HasParameters) count++;
        var parameterLayers = new int[count];
        for (int i = 0, l = 0; i < model.Layers.Count; i++) if (model.Layers[i].Spec.HasParameters) parameterLayers[l++] = i;
        Layers = count;
        _layerIndex = parameterLayers;
        _weightOffsets = new int[Layers];
        _biasOffsets = new int[Layers];
        _fanIn = new int[Layers];
        _units = new int[Layers];
        long offset = 0;
        for (int l = 0; l < Layers; l++)
        {
            var layer = model.Layers[parameterLayers[l]];
            _fanIn[l] = layer.FanIn;
            _units[l] = layer.Units;
            _weightOffsets[l] = (int)offset;
            offset += (long)_fanIn[l] * _units[l];
            _biasOffsets[l] = (int)offset;
            offset += _units[l];
            if (offset > int.MaxValue) throw new Spec.SpecException($"model.layers: {model} has more than 2³¹ parameters", "model.layers");
        }
        Count = (int)offset;
    }

    /// <summary>Inputs summed per output of parameter layer l: in for dense, k·k·C_in for a convolution.</summary>
    public int In(int layer) => _fanIn[layer];
    /// <summary>Outputs with their own bias: out for dense, C_out for a convolution.</summary>
    public int Out(int layer) => _units[layer];
    /// <summary>Index in <see cref="ModelArchitecture.Layers"/> of parameter layer l.</summary>
    public int ModelLayer(int layer) => _layerIndex[layer];
    /// <summary>Parameter layer index of model layer i (which must have parameters).</summary>
    public int ParameterLayer(int modelLayer) => Array.IndexOf(_layerIndex, modelLayer);
    public int WeightOffset(int layer) => _weightOffsets[layer];
    public int BiasOffset(int layer) => _biasOffsets[layer];

    /// <summary>Name of a view, as in checkpoints and messages: <c>layer3.conv.weight</c>.</summary>
    public string Name(int layer, bool bias) =>
        $"layer{_layerIndex[layer] + 1}.{(Model.Layers[_layerIndex[layer]].Spec.Kind == LayerKind.Conv2d ? "conv" : "dense")}.{(bias ? "bias" : "weight")}";

    /// <summary>View of W_l in a flat buffer of this layout.</summary>
    public Span<float> Weight(Span<float> flat, int layer) => flat.Slice(_weightOffsets[layer], _fanIn[layer] * _units[layer]);
    /// <summary>View of b_l in a flat buffer of this layout.</summary>
    public Span<float> Bias(Span<float> flat, int layer) => flat.Slice(_biasOffsets[layer], _units[layer]);
}

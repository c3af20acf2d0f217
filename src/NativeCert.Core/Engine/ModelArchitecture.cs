using System.Globalization;
using NativeCert.Data;

namespace NativeCert.Engine;

/// <summary>The kinds of layer a model is built from (docs/engine.md, Model).</summary>
internal enum LayerKind
{
    /// <summary>Fully connected: y = x·W + b, W <c>(in, out)</c>. On the network's image input it reads the channel-major features.</summary>
    Dense,
    /// <summary>max(x, 0), elementwise.</summary>
    Relu,
    /// <summary>k×k convolution (cross-correlation, as PyTorch), stride 1, zero padding p on every side; W <c>(C_out, C_in, k, k)</c>, b <c>(C_out)</c>.</summary>
    Conv2d,
    /// <summary>2×2 max pooling, stride 2 (a trailing odd row or column is dropped, as PyTorch).</summary>
    MaxPool2d,
    /// <summary>(C, H, W) → (C·H·W), channel-major: feature c·H·W + y·W + x.</summary>
    Flatten,
}

/// <summary>
/// One layer as written in a model description: <c>dense:128</c>, <c>relu</c>, <c>conv:16:5</c> (16 output channels,
/// 5×5 kernel), <c>conv:16:3:1</c> (padding 1), <c>maxpool</c>, <c>flatten</c>.
/// </summary>
internal readonly record struct LayerSpec(LayerKind Kind, int Units = 0, int Kernel = 0, int Padding = 0)
{
    public static LayerSpec Dense(int units) => new(LayerKind.Dense, units);
    public static LayerSpec Conv(int channels, int kernel, int padding = 0) => new(LayerKind.Conv2d, channels, kernel, padding);
    public static readonly LayerSpec Relu = new(LayerKind.Relu), MaxPool = new(LayerKind.MaxPool2d), Flatten = new(LayerKind.Flatten);

    /// <summary>Whether the layer has a weight and a bias.</summary>
    public bool HasParameters => Kind is LayerKind.Dense or LayerKind.Conv2d;

    public override string ToString() => Kind switch
    {
        LayerKind.Dense => string.Create(CultureInfo.InvariantCulture, $"dense:{Units}"),
        LayerKind.Conv2d => Padding == 0
            ? string.Create(CultureInfo.InvariantCulture, $"conv:{Units}:{Kernel}")
            : string.Create(CultureInfo.InvariantCulture, $"conv:{Units}:{Kernel}:{Padding}"),
        LayerKind.Relu => "relu",
        LayerKind.MaxPool2d => "maxpool",
        _ => "flatten",
    };
}

/// <summary>Shape of one example's activation: an image (C, H, W) or flat features (Channels = F, H = W = 1).</summary>
internal readonly record struct FeatureShape(int Channels, int Height, int Width, bool IsImage)
{
    public static FeatureShape Flat(int features) => new(features, 1, 1, false);
    public static FeatureShape Image(int channels, int height, int width) => new(channels, height, width, true);

    /// <summary>Floats per example.</summary>
    public int Size => checked(Channels * Height * Width);

    public override string ToString() => IsImage
        ? string.Create(CultureInfo.InvariantCulture, $"{Channels}x{Height}x{Width}")
        : Size.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A layer of a resolved model with the shapes it maps between.</summary>
internal sealed record ResolvedLayer(LayerSpec Spec, FeatureShape Input, FeatureShape Output)
{
    /// <summary>Multiply–adds of this layer's forward pass on one example (0 for layers without parameters).</summary>
    public long ForwardMacs => Spec.Kind switch
    {
        LayerKind.Dense => (long)Input.Size * Output.Size,
        LayerKind.Conv2d => (long)Output.Size * Input.Channels * Spec.Kernel * Spec.Kernel,
        _ => 0,
    };

    /// <summary>Inputs each output of a parameter layer sums over: in for dense, k·k·C_in for a convolution (the He fan-in).</summary>
    public int FanIn => Spec.Kind == LayerKind.Conv2d ? Spec.Kernel * Spec.Kernel * Input.Channels : Input.Size;
    /// <summary>Outputs of a parameter layer that own a bias: out for dense, C_out for a convolution.</summary>
    public int Units => Spec.Kind == LayerKind.Conv2d ? Output.Channels : Output.Size;
}

/// <summary>
/// A model: the layer list (the part a user writes, <see cref="Body"/>), resolved against the input shape, followed by
/// the classifier <c>dense:C</c> that the engine always appends (softmax cross-entropy on its output). Equal
/// architectures have equal <see cref="Key"/>; <see cref="Text"/> is the canonical model text of the body:
/// <c>mlp:W1,W2,…</c> when the body is dense+ReLU pairs, else the layer list.
/// </summary>
internal sealed class ModelArchitecture : IEquatable<ModelArchitecture>
{
    /// <summary>The CNN model text <c>lenet</c> names (classifier appended): on 1×28×28, 24×24×16 → 12×12×16 → 8×8×32 → 4×4×32 = 512 features.</summary>
    public static readonly LayerSpec[] LeNet =
    [
        LayerSpec.Conv(16, 5), LayerSpec.Relu, LayerSpec.MaxPool,
        LayerSpec.Conv(32, 5), LayerSpec.Relu, LayerSpec.MaxPool,
        LayerSpec.Flatten, LayerSpec.Dense(128), LayerSpec.Relu,
    ];

    public FeatureShape Input { get; }
    /// <summary>The layers before the classifier, as written.</summary>
    public IReadOnlyList<LayerSpec> Body { get; }
    /// <summary>Every layer, classifier last, with its shapes.</summary>
    public IReadOnlyList<ResolvedLayer> Layers { get; }
    public int Classes { get; }
    /// <summary>Canonical model text of <see cref="Body"/>.</summary>
    public string Text { get; }
    /// <summary>Input shape, body and classes: equal exactly when the architectures are.</summary>
    public string Key { get; }

    private ModelArchitecture(FeatureShape input, IReadOnlyList<LayerSpec> body, IReadOnlyList<ResolvedLayer> layers, int classes)
    {
        Input = input;
        Body = body;
        Layers = layers;
        Classes = classes;
        Text = CanonicalText(body);
        Key = $"{input}:{Text}:{classes}";
    }

    /// <summary>
    /// Resolves <paramref name="body"/> on examples of shape <paramref name="input"/> and appends <c>dense:classes</c>.
    /// A layer that does not fit its input throws a <see cref="UserInputException"/> naming it (prefixed with
    /// <paramref name="option"/>).
    /// </summary>
    public static ModelArchitecture Resolve(FeatureShape input, IReadOnlyList<LayerSpec> body, int classes, string option = "model.layers")
    {
        if (input.Size <= 0) throw new UserInputException($"{option}: the input has no features");
        if (classes < 1) throw new UserInputException($"{option}: {classes} classes");
        var layers = new List<ResolvedLayer>();
        var shape = input;
        var all = body.Append(LayerSpec.Dense(classes)).ToArray();
        for (int i = 0; i < all.Length; i++)
        {
            var spec = all[i];
            string where = i < body.Count ? $"{option}: layer {i + 1} ({spec})" : $"{option}: the classifier ({spec})";
            FeatureShape output;
            switch (spec.Kind)
            {
                case LayerKind.Dense:
                    if (spec.Units < 1) throw new UserInputException($"{where}: needs at least one unit");
                    // The network input is stored channel-major, so a dense layer may read it as it is; a convolution's
                    // output must be flattened first, so that the feature order is written down in the model.
                    if (shape.IsImage && i > 0) throw new UserInputException($"{where}: gets a {shape} image; put flatten before it");
                    output = FeatureShape.Flat(spec.Units);
                    break;
                case LayerKind.Relu:
                    output = shape;
                    break;
                case LayerKind.Flatten:
                    output = FeatureShape.Flat(shape.Size);
                    break;
                case LayerKind.Conv2d:
                    if (!shape.IsImage) throw new UserInputException($"{where}: needs an image (C×H×W) input but gets {shape} flat features");
                    if (spec.Units < 1 || spec.Kernel < 1 || spec.Padding < 0)
                        throw new UserInputException($"{where}: channels and kernel must be at least 1 and padding at least 0");
                    int oh = shape.Height + 2 * spec.Padding - spec.Kernel + 1, ow = shape.Width + 2 * spec.Padding - spec.Kernel + 1;
                    if (oh < 1 || ow < 1)
                        throw new UserInputException($"{where}: a {spec.Kernel}×{spec.Kernel} kernel does not fit its {shape} input");
                    output = FeatureShape.Image(spec.Units, oh, ow);
                    break;
                case LayerKind.MaxPool2d:
                    if (!shape.IsImage) throw new UserInputException($"{where}: needs an image (C×H×W) input but gets {shape} flat features");
                    if (shape.Height < 2 || shape.Width < 2) throw new UserInputException($"{where}: a 2×2 window does not fit its {shape} input");
                    output = FeatureShape.Image(shape.Channels, shape.Height / 2, shape.Width / 2);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(body));
            }
            if ((long)output.Channels * output.Height * output.Width > 1 << 26)
                throw new UserInputException($"{where}: output of {output} is too large");
            layers.Add(new ResolvedLayer(spec, shape, output));
            shape = output;
        }
        return new ModelArchitecture(input, body.ToArray(), layers, classes);
    }

    /// <summary>An MLP with widths [inputs, hidden…, classes] (ReLU after every hidden layer) on flat features.</summary>
    public static ModelArchitecture Mlp(int inputs, IReadOnlyList<int> hidden, int classes) =>
        Resolve(FeatureShape.Flat(inputs), MlpBody(hidden), classes);

    /// <summary>
    /// The architecture of <paramref name="body"/> on data of <paramref name="dimension"/> features: an MLP reads flat
    /// features; any other body reads the data's image shape when it has one.
    /// </summary>
    public static ModelArchitecture ForData(IReadOnlyList<LayerSpec> body, int dimension, ImageShape? image, int classes, string option = "model.layers")
    {
        var input = MlpHidden(body) is null && image is { } s && s.Channels * s.Height * s.Width == dimension
            ? FeatureShape.Image(s.Channels, s.Height, s.Width)
            : FeatureShape.Flat(dimension);
        return Resolve(input, body, classes, option);
    }

    /// <summary>The body of an MLP: dense:w, relu for every hidden width.</summary>
    public static LayerSpec[] MlpBody(IReadOnlyList<int> hidden) => hidden.SelectMany(w => new[] { LayerSpec.Dense(w), LayerSpec.Relu }).ToArray();

    /// <summary>The hidden widths when the body is dense+ReLU pairs (an MLP, the model before layer lists), else null.</summary>
    public static int[]? MlpHidden(IReadOnlyList<LayerSpec> body)
    {
        if (body.Count % 2 != 0) return null;
        var hidden = new int[body.Count / 2];
        for (int i = 0; i < hidden.Length; i++)
        {
            if (body[2 * i].Kind != LayerKind.Dense || body[2 * i + 1].Kind != LayerKind.Relu) return null;
            hidden[i] = body[2 * i].Units;
        }
        return hidden;
    }

    /// <summary>Hidden widths if this is an MLP, else null.</summary>
    public int[]? Hidden => MlpHidden(Body);
    public bool IsMlp => Hidden is not null;

    /// <summary>Floats per example at the input.</summary>
    public int InputSize => Input.Size;

    /// <summary>Multiply–adds of one forward pass of one example.</summary>
    public long ForwardMacs() => Layers.Sum(l => l.ForwardMacs);

    /// <summary>
    /// Floating-point operations of training on one example (1 MAC = 2 flop): forward, the weight gradient, and the input
    /// gradient of every parameter layer but the first (whose input needs none).
    /// </summary>
    public double TrainingFlopsPerExample()
    {
        double macs = 0;
        bool first = true;
        foreach (var l in Layers)
        {
            if (!l.Spec.HasParameters) continue;
            macs += l.ForwardMacs * (first ? 2.0 : 3.0);
            first = false;
        }
        return 2 * macs;
    }

    /// <summary>Whether layer i is a ReLU applied to the output of a dense or convolution layer (fused into its epilogue).</summary>
    public bool IsFusedRelu(int i) => Layers[i].Spec.Kind == LayerKind.Relu && i > 0 && Layers[i - 1].Spec.HasParameters;

    /// <summary>
    /// Human-readable: <c>784-128-10</c> for an MLP (as before layer lists, also in ensemble-file config hashes),
    /// else <c>1x28x28 conv:16:5,relu,…,dense:10</c>.
    /// </summary>
    public override string ToString() => Hidden is { } hidden
        ? string.Join("-", new[] { Input.Size }.Concat(hidden).Append(Classes))
        : $"{Input} {string.Join(",", Layers.Select(l => l.Spec))}";

    /// <summary>Canonical text of a body: <c>mlp:W1,W2</c> for dense+ReLU pairs (<c>mlp:</c> for none), else the layer list.</summary>
    public static string CanonicalText(IReadOnlyList<LayerSpec> body) => MlpHidden(body) is { } hidden
        ? "mlp:" + string.Join(",", hidden.Select(w => w.ToString(CultureInfo.InvariantCulture)))
        : string.Join(",", body);

    /// <summary>
    /// Parses model text (<c>model.layers</c>): <c>mlp:W1,W2,…</c>, <c>lenet</c>, or a comma-separated layer list such as
    /// <c>conv:32:3:1,relu,maxpool,flatten,dense:256,relu</c>. Throws a one-line <see cref="UserInputException"/>
    /// naming <paramref name="option"/> and the bad token.
    /// </summary>
    public static LayerSpec[] Parse(string text, string option = "model.layers")
    {
        text = text.Trim();
        if (text == "lenet") return (LayerSpec[])LeNet.Clone();
        if (text.StartsWith("mlp:", StringComparison.Ordinal))
        {
            string widths = text[4..];
            if (widths.Length == 0) return [];
            var hidden = new List<int>();
            foreach (string part in widths.Split(','))
            {
                if (!int.TryParse(part.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int w) || w < 1)
                    throw new UserInputException($"{option}: '{part}' in '{text}' is not a positive width (expected mlp:W1,W2,…)");
                hidden.Add(w);
            }
            return MlpBody(hidden);
        }
        if (text.Length == 0) throw new UserInputException($"{option}: empty model (expected mlp:128, lenet or a layer list)");
        var layers = new List<LayerSpec>();
        foreach (string raw in text.Split(','))
        {
            string token = raw.Trim();
            string[] f = token.Split(':');
            int Arg(int i, string what)
            {
                if (i >= f.Length || !int.TryParse(f[i], NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                    throw new UserInputException($"{option}: '{token}': {what} must be a whole number ({Syntax})");
                return v;
            }
            layers.Add(f[0] switch
            {
                "dense" when f.Length == 2 => LayerSpec.Dense(Arg(1, "units")),
                "conv" when f.Length is 3 or 4 => LayerSpec.Conv(Arg(1, "channels"), Arg(2, "kernel"), f.Length == 4 ? Arg(3, "padding") : 0),
                "relu" when f.Length == 1 => LayerSpec.Relu,
                "maxpool" when f.Length == 1 => LayerSpec.MaxPool,
                "flatten" when f.Length == 1 => LayerSpec.Flatten,
                _ => throw new UserInputException($"{option}: unknown layer '{token}' ({Syntax})"),
            });
        }
        return layers.ToArray();
    }

    private const string Syntax = "layers: dense:UNITS, relu, conv:CHANNELS:KERNEL[:PADDING], maxpool, flatten; or mlp:W1,W2 or lenet";

    public bool Equals(ModelArchitecture? other) => other is not null && Key == other.Key;
    public override bool Equals(object? obj) => obj is ModelArchitecture a && Equals(a);
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Key);
    public static bool operator ==(ModelArchitecture? a, ModelArchitecture? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(ModelArchitecture? a, ModelArchitecture? b) => !(a == b);
}

using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NativeCert.Data;
using NativeCert.Engine;

namespace NativeCert.Spec;

/// <summary>
/// A certification job as data: which data, which attack (if any), which model and training, how the ensemble is
/// smoothed and how many models vote, and how the votes become certificates. The one place the defaults (the
/// no-option run), the rules a valid job follows (<see cref="Validate"/>, errors name the field by its dotted path
/// such as <c>training.batch_size</c>) and the mapping onto the engine (<see cref="ToEnsembleConfig(int, ImageShape?, int)"/>) live.
/// </summary>
/// <remarks>
/// Immutable: change a copy with <c>with</c>. Its canonical JSON (<see cref="ToJson"/>, what config.json holds under
/// <c>spec</c>) carries <see cref="Schema"/>; <see cref="FromJson"/> reads it back strictly (no field missing or
/// unknown). Everything but <see cref="Certification"/> determines the votes (see <see cref="VoteFields"/> and
/// <c>RunConfig.ComputeHash</c>); certification only turns stored votes into certificates, so it may change
/// between a run and its report.
/// </remarks>
public sealed record JobSpec
{
    /// <summary>Schema of the canonical JSON; a change of meaning or layout gets a new one.</summary>
    public const string CurrentSchema = "nativecert-spec/1";

    /// <summary>Schema of this spec's JSON (<see cref="CurrentSchema"/>); another value is refused by <see cref="Validate"/>.</summary>
    public string Schema { get; init; } = CurrentSchema;
    /// <summary>The data: dataset, subset sizes, class selection.</summary>
    public DataSpec Data { get; init; } = new();
    /// <summary>The backdoor attack run against the data; null for none.</summary>
    public AttackSpec? Attack { get; init; }
    /// <summary>The architecture of every model of the ensemble.</summary>
    public ModelSpec Model { get; init; } = new();
    /// <summary>How each model is trained (SGD with momentum).</summary>
    public TrainingSpec Training { get; init; } = new();
    /// <summary>Noise σ, seed, number of models and how their votes are estimated.</summary>
    public SmoothingSpec Smoothing { get; init; } = new();
    /// <summary>
    /// The defense when it is not smoothing: DPA or bagging (NativeCert.Defenses). Null for smoothing, and then not
    /// written, so smoothing runs keep their canonical JSON and config hash.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DefenseSpec? Defense { get; init; }
    /// <summary>How the votes become certificates (α, simultaneous) and what the summary reports; never changes the votes.</summary>
    public CertificationSpec Certification { get; init; } = new();

    /// <summary>The no-option run: MNIST, a configuration that finishes in minutes on 2 CPU cores.</summary>
    public static JobSpec Default { get; } = new();

    /// <summary>All models of the run: Cohen's selection models, then the estimation models.</summary>
    [JsonIgnore] public int TotalModels => Smoothing.SelectionModels + Smoothing.Models;

    /// <summary>
    /// Every rule a job must follow that does not need the data (<see cref="ValidateFor"/> checks those that do);
    /// returns this spec. A violation is a <see cref="SpecException"/> naming the field.
    /// </summary>
    public JobSpec Validate()
    {
        if (Schema != CurrentSchema) throw SpecException.Invalid("schema", Schema, $"unknown (this build reads {CurrentSchema})");
        Data.Validate("data");
        Attack?.Validate("attack");
        Model.Validate("model");
        Training.Validate("training");
        Require(Training.Epochs >= 1, "training.epochs", Training.Epochs, "must be at least 1");
        if (Defense is null) Smoothing.Validate("smoothing");
        else
        {
            // DPA and bagging need no noise (σ ≥ 0) and bound every class from all models.
            Require(Smoothing.Sigma >= 0 && float.IsFinite(Smoothing.Sigma), "smoothing.sigma", Smoothing.Sigma, "must be zero or a positive number");
            Smoothing.ValidateCounts("smoothing");
            Require(Smoothing.Method == SmoothingSpec.SimuEM, "smoothing.method", Smoothing.Method, $"must be simuem with defense {Defense.Kind}");
            Defense.Validate("defense");
            if (Defense.Kind == DefenseSpec.Dpa)
                Require(Smoothing.Models == Defense.Partitions, "smoothing.models", Smoothing.Models, $"must equal defense.partitions {Defense.Partitions} (one model per partition)");
        }
        Certification.Validate("certification");
        return this;
    }

    /// <summary>
    /// The rules on the fields that define a plain ensemble alone (model, training, σ ≥ 0, seed, the model counts):
    /// what training an ensemble without certifying it needs. Returns this spec.
    /// </summary>
    internal JobSpec ValidateEnsemble()
    {
        Model.Validate("model");
        Training.Validate("training");
        Require(Smoothing.Sigma >= 0 && float.IsFinite(Smoothing.Sigma), "smoothing.sigma", Smoothing.Sigma, "must be zero or a positive number");
        Smoothing.ValidateCounts("smoothing");
        return this;
    }

    /// <summary>
    /// The rules that need the loaded data's width <paramref name="inputs"/>, image shape <paramref name="image"/> (null
    /// for flat features) and class count <paramref name="classes"/>: at least two classes, and a model whose every layer
    /// fits its input and whose parameters fit one flat buffer (the engine's layout, docs/engine.md).
    /// </summary>
    internal void ValidateFor(int inputs, ImageShape? image, int classes)
    {
        if (classes < 2) throw SpecException.Invalid("data.dataset", Data.Dataset, "certification needs at least two classes");
        Model.ValidateFor(inputs, image, classes, "model");
    }

    /// <summary>
    /// The engine configuration of this job for data of <paramref name="inputs"/> features (an image of
    /// <paramref name="image"/>, null for flat features) and <paramref name="classes"/> classes: the model resolved on
    /// that shape (<see cref="ModelArchitecture.ForData"/>; a layer that does not fit is a <see cref="SpecException"/>
    /// naming it), the one place a spec becomes an <see cref="EnsembleConfig"/> (new model kinds and training fields are
    /// mapped here and nowhere else).
    /// </summary>
    internal EnsembleConfig ToEnsembleConfig(int inputs, ImageShape? image, int classes) =>
        new(Model.Resolve(inputs, image, classes),
            new TrainingOptions(Training.Epochs, Training.BatchSize, Training.LearningRate, Training.Momentum, Training.WeightDecay, Training.WarmupEpochs),
            Smoothing.Sigma, Smoothing.Seed) { View = Defense?.Settings.View() ?? NativeCert.Defenses.TrainingView.All };

    /// <summary><see cref="ToEnsembleConfig(int, ImageShape?, int)"/> for the shape of <paramref name="train"/>.</summary>
    internal EnsembleConfig ToEnsembleConfig(Dataset train) => ToEnsembleConfig(train.Dimension, train.Shape, train.ClassCount);

    /// <summary><see cref="ToEnsembleConfig(int, ImageShape?, int)"/> on flat features (no image shape: an MLP, or a layer list without convolutions).</summary>
    internal EnsembleConfig ToEnsembleConfig(int inputs, int classes) => ToEnsembleConfig(inputs, null, classes);

    /// <summary>This spec in canonical form: fields that have no effect are at their defaults (n0 is 0 for simuem).</summary>
    internal JobSpec Canonical() => Smoothing.Method == SmoothingSpec.SimuEM && Smoothing.N0 != 0
        ? this with { Smoothing = Smoothing with { N0 = 0 } }
        : this;

    /// <summary>The canonical JSON (indented), as config.json holds it under <c>spec</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(Canonical(), SpecJson.Options);

    internal JsonNode ToJsonNode() => JsonSerializer.SerializeToNode(Canonical(), SpecJson.Options)!;

    /// <summary>
    /// Reads a spec written by <see cref="ToJson"/> and validates it. Any field missing, unknown or not reading back
    /// as itself is a <see cref="UserInputException"/> naming <paramref name="source"/> and the field.
    /// </summary>
    public static JobSpec FromJson(string json, string source)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json); }
        catch (JsonException e) { throw new UserInputException($"{source}: not valid JSON ({e.Message.ReplaceLineEndings(" ")})", e); }
        return FromJsonNode(node, source, "");
    }

    /// <summary><see cref="FromJson"/> on a parsed node; <paramref name="prefix"/> is its path in the file (e.g. "spec").</summary>
    internal static JobSpec FromJsonNode(JsonNode? node, string source, string prefix)
    {
        if (node is JsonObject obj && obj["schema"] is JsonValue schema && schema.TryGetValue(out string? name) && name != CurrentSchema)
            throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix + "." : "")}schema '{name}' is not one this build reads ({CurrentSchema})");
        JobSpec spec = SpecJson.ReadExact<JobSpec>(node, source, prefix);
        if (spec.Smoothing.Method == SmoothingSpec.SimuEM && spec.Smoothing.N0 != 0)
            throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix + "." : "")}smoothing.n0 must be 0 for method simuem");
        try { return spec.Validate(); }
        catch (SpecException e)
        {
            // In a file the field is named by its path there.
            throw new UserInputException($"{source}: {(prefix.Length > 0 ? prefix + "." : "")}{e.Message}", e);
        }
    }

    /// <summary>
    /// The vote-determining part as JSON: everything but <see cref="Certification"/>. Part of what the config hash
    /// covers (with the data fingerprints and the attack facts, see <c>RunConfig</c>).
    /// </summary>
    internal JsonObject VoteFields()
    {
        var node = (JsonObject)ToJsonNode();
        node.Remove("certification");
        return node;
    }

    /// <summary>
    /// The fields whose values differ between this spec and <paramref name="other"/>, as dotted paths with both values
    /// ("smoothing.sigma 0.25 vs 0.5"), in path order; <paramref name="ignore"/> lists path prefixes to skip.
    /// </summary>
    internal List<(string Field, string Mine, string Theirs)> Differences(JobSpec other, params string[] ignore)
    {
        var mine = SpecJson.Leaves(ToJsonNode());
        var theirs = SpecJson.Leaves(other.ToJsonNode());
        var diffs = new List<(string, string, string)>();
        foreach (string path in mine.Keys.Union(theirs.Keys).Order(StringComparer.Ordinal))
        {
            if (ignore.Any(p => path == p || path.StartsWith(p + ".", StringComparison.Ordinal))) continue;
            string a = mine.GetValueOrDefault(path) ?? "(absent)", b = theirs.GetValueOrDefault(path) ?? "(absent)";
            if (a != b) diffs.Add((path, Display(a), Display(b)));
        }
        // An attack on one side only: name the attack itself, not each of its fields.
        if (Attack is null != other.Attack is null)
        {
            diffs.RemoveAll(d => d.Item1.StartsWith("attack", StringComparison.Ordinal));
            diffs.Insert(0, ("attack.kind", Attack?.Kind ?? AttackSpec.None, other.Attack?.Kind ?? AttackSpec.None));
        }
        return diffs;
    }

    /// <summary>A JSON leaf as messages show it: strings unquoted, lists comma-separated, null as (unset).</summary>
    private static string Display(string leaf) => leaf switch
    {
        "null" => "(unset)",
        ['"', .., '"'] => JsonSerializer.Deserialize<string>(leaf) ?? "",
        ['[', .., ']'] => string.Join(",", leaf[1..^1].Split(',').Select(Display)),
        _ => leaf,
    };

    /// <summary>Equal when the canonical JSON is (lists compare by content).</summary>
    public bool Equals(JobSpec? other) => other is not null && ToJson() == other.ToJson();

    /// <summary>Hash of the canonical JSON, consistent with <see cref="Equals(JobSpec)"/>.</summary>
    public override int GetHashCode() => ToJson().GetHashCode(StringComparison.Ordinal);

    internal static void Require(bool ok, string field, object? value, string problem)
    {
        if (!ok) throw SpecException.Invalid(field, value, problem);
    }
}

/// <summary>Which data: a dataset (see <see cref="DatasetCatalog"/>), optionally some classes and a stratified subset.</summary>
public sealed record DataSpec
{
    private IReadOnlyList<int>? _classes;

    /// <summary>Dataset: mnist, fashion-mnist[:DIR], cifar10[:DIR], idx:DIR, csv:FILE or csv:TRAIN,TEST.</summary>
    public string Dataset { get; init; } = DatasetCatalog.DefaultSpec;
    /// <summary>Training rows kept (stratified, seeded by <see cref="Seed"/>); null for all.</summary>
    public int? TrainSize { get; init; }
    /// <summary>Test rows kept (stratified, seeded); null for all.</summary>
    public int? TestSize { get; init; }
    /// <summary>Class ids kept, relabelled 0..k−1 in this order; null for all.</summary>
    public IReadOnlyList<int>? Classes { get => _classes; init => _classes = value is null ? null : [.. value]; }
    /// <summary>Seed of the subset selection.</summary>
    public ulong Seed { get; init; }

    /// <summary>The loader's options for this spec.</summary>
    internal DataLoadOptions LoadOptions() => new() { TrainSize = TrainSize, TestSize = TestSize, Classes = Classes?.ToArray(), Seed = Seed };

    /// <summary>The rules on the data fields alone (<paramref name="at"/> is their path, "data").</summary>
    internal void Validate(string at)
    {
        JobSpec.Require(!string.IsNullOrWhiteSpace(Dataset), $"{at}.dataset", Dataset, $"name a dataset ({DatasetCatalog.SpecHelp})");
        JobSpec.Require(TrainSize is null or >= 1, $"{at}.train_size", TrainSize, "must be at least 1");
        JobSpec.Require(TestSize is null or >= 1, $"{at}.test_size", TestSize, "must be at least 1");
        if (Classes is { } classes)
        {
            JobSpec.Require(classes.All(c => c >= 0), $"{at}.classes", classes, "class ids are zero or positive");
            JobSpec.Require(classes.Count >= 2, $"{at}.classes", classes, "keep at least two classes");
            JobSpec.Require(classes.Distinct().Count() == classes.Count, $"{at}.classes", classes, "a class id is listed twice");
        }
    }
}

/// <summary>
/// A backdoor attack: a trigger (patch, blend or mask) added to <see cref="Poison"/> training examples, relabelled to
/// the target (dirty) or chosen from it (clean), and to every non-target test input.
/// </summary>
public sealed record AttackSpec
{
    /// <summary>Values of <see cref="Kind"/> (<c>none</c> means no attack: a null <see cref="JobSpec.Attack"/>).</summary>
    public const string None = "none", Patch = "patch", Blend = "blend", Mask = "mask";
    /// <summary>Values of <see cref="LabelMode"/>.</summary>
    public const string Dirty = "dirty", Clean = "clean";
    internal static readonly string[] Kinds = [Patch, Blend, Mask];
    internal static readonly string[] Corners = ["bottom-right", "bottom-left", "top-right", "top-left"];

    /// <summary>patch (k×k square at a corner), blend (seeded random pattern of ℓ2 norm <see cref="TriggerNorm"/>) or mask (<see cref="MaskFile"/>).</summary>
    public string Kind { get; init; } = Patch;
    /// <summary>Patch side, pixels.</summary>
    public int TriggerSize { get; init; } = 3;
    /// <summary>Patch pixel value, input units in [0, 1].</summary>
    public float TriggerValue { get; init; } = 1f;
    /// <summary>Blend pattern ℓ2 norm before clipping, input units.</summary>
    public double TriggerNorm { get; init; } = 1.0;
    /// <summary>Corner of the patch: bottom-right, bottom-left, top-right or top-left.</summary>
    public string TriggerCorner { get; init; } = "bottom-right";
    /// <summary>Mask trigger file: one token per feature, '.' unchanged, a number in [0, 1] set; null unless <see cref="Kind"/> is mask.</summary>
    public string? MaskFile { get; init; }
    /// <summary>Training examples poisoned.</summary>
    public int Poison { get; init; }
    /// <summary>Target class id (as in the dataset, before <see cref="DataSpec.Classes"/> relabels it).</summary>
    public int Target { get; init; }
    /// <summary>dirty (poisoned examples relabelled as the target) or clean (target-class examples poisoned, labels kept).</summary>
    public string LabelMode { get; init; } = Dirty;
    /// <summary>Seed of the poisoned-row choice and the blend pattern.</summary>
    public ulong Seed { get; init; }

    /// <summary>The rules on the attack fields alone (<paramref name="at"/> is their path, "attack").</summary>
    internal void Validate(string at)
    {
        JobSpec.Require(Kinds.Contains(Kind), $"{at}.kind", Kind, "expected patch, blend or mask");
        JobSpec.Require(TriggerSize >= 1, $"{at}.trigger_size", TriggerSize, "must be at least 1");
        JobSpec.Require(TriggerValue is >= 0f and <= 1f, $"{at}.trigger_value", TriggerValue, "must be in [0,1]");
        JobSpec.Require(TriggerNorm > 0 && double.IsFinite(TriggerNorm), $"{at}.trigger_norm", TriggerNorm, "must be a positive number");
        JobSpec.Require(Corners.Contains(TriggerCorner), $"{at}.trigger_corner", TriggerCorner, "expected bottom-right, bottom-left, top-right or top-left");
        if (Kind == Mask && string.IsNullOrEmpty(MaskFile))
            throw new SpecException($"{at}.kind mask: give the pattern with {at}.mask_file FILE", $"{at}.kind", $"{at}.mask_file");
        JobSpec.Require(Kind == Mask || MaskFile is null, $"{at}.mask_file", MaskFile, $"only a mask attack reads a pattern file (this one is {Kind})");
        JobSpec.Require(Poison >= 0, $"{at}.poison", Poison, "must be at least 0");
        JobSpec.Require(Target >= 0, $"{at}.target", Target, "class ids are zero or positive");
        JobSpec.Require(LabelMode is Dirty or Clean, $"{at}.label_mode", LabelMode, "expected dirty or clean");
    }
}

/// <summary>
/// The model every ensemble member is, before the classifier <c>dense:C</c> the engine appends for the data's C
/// classes: an MLP (<see cref="Kind"/> mlp, <see cref="Hidden"/> ReLU layers; its JSON is what it was before layer
/// lists, so MLP runs keep their config hash and resume) or any other layer list (<see cref="Kind"/> layers, the
/// canonical list text in <see cref="Layers"/>, e.g. the expansion of <c>lenet</c>). Build one from model text with
/// <see cref="FromText"/>; <see cref="Text"/> is the canonical text of either.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>Value of <see cref="Kind"/> for an MLP (<see cref="Hidden"/>).</summary>
    public const string Mlp = "mlp";
    /// <summary>Value of <see cref="Kind"/> for a layer list (<see cref="Layers"/>).</summary>
    public const string LayerList = "layers";
    private IReadOnlyList<int>? _hidden = [.. TrainingDefaults.Hidden];

    /// <summary>Model family: mlp (dense+ReLU pairs, <see cref="Hidden"/>) or layers (<see cref="Layers"/>).</summary>
    public string Kind { get; init; } = Mlp;
    /// <summary>Hidden layer widths of an MLP, input to output; null (not written) for a layer list.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? Hidden { get => Kind == Mlp ? _hidden : null; init => _hidden = value is null ? null : [.. value]; }
    /// <summary>
    /// Canonical layer-list text of a model that is not an MLP (layers dense:UNITS, relu, conv:CHANNELS:KERNEL[:PADDING],
    /// maxpool, flatten, comma-separated); null (not written) for an MLP.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Layers { get => Kind == Mlp ? null : _layers; init => _layers = value; }
    private readonly string? _layers;

    /// <summary>
    /// The canonical spec of model text <c>mlp:W1,W2</c>, <c>lenet</c> or a layer list: dense+ReLU pairs are an MLP
    /// (whatever way they were written), anything else a layer list. Bad text is a <see cref="SpecException"/> naming
    /// <c>model.layers</c>.
    /// </summary>
    public static ModelSpec FromText(string text)
    {
        LayerSpec[] body;
        try { body = ModelArchitecture.Parse(text, "model.layers"); }
        catch (UserInputException e) when (e is not SpecException) { throw new SpecException(e.Message, "model.layers"); }
        return ModelArchitecture.MlpHidden(body) is { } hidden
            ? new ModelSpec { Hidden = hidden }
            : new ModelSpec { Kind = LayerList, Layers = ModelArchitecture.CanonicalText(body) };
    }

    /// <summary>Canonical model text: <c>mlp:W1,W2</c> for an MLP, else <see cref="Layers"/>.</summary>
    [JsonIgnore]
    public string Text => Kind == Mlp ? ModelArchitecture.CanonicalText(ModelArchitecture.MlpBody(Hidden ?? [])) : Layers ?? "";

    /// <summary>The field path that names this model in messages: <c>model.hidden</c> for an MLP, else <c>model.layers</c>.</summary>
    [JsonIgnore]
    internal string Field => Kind == Mlp ? "model.hidden" : "model.layers";

    /// <summary>The layers before the classifier.</summary>
    internal LayerSpec[] Body()
    {
        if (Kind == Mlp) return ModelArchitecture.MlpBody(Hidden ?? []);
        try { return ModelArchitecture.Parse(Layers ?? "", "model.layers"); }
        catch (UserInputException e) when (e is not SpecException) { throw new SpecException(e.Message, "model.layers"); }
    }

    /// <summary>
    /// The model resolved on data of <paramref name="inputs"/> features (an image of <paramref name="image"/> when
    /// given, which a layer list reads; an MLP reads flat features) and <paramref name="classes"/> classes. A layer
    /// that does not fit its input, or parameters beyond one flat buffer, is a <see cref="SpecException"/> naming the
    /// model's field (<see cref="Field"/>) and the layer.
    /// </summary>
    internal ModelArchitecture Resolve(int inputs, ImageShape? image, int classes)
    {
        string field = Field;
        ModelArchitecture model;
        try { model = ModelArchitecture.ForData(Body(), inputs, image, classes, field); }
        catch (UserInputException e) when (e is not SpecException) { throw new SpecException(e.Message, field); }
        long parameters = model.Layers.Where(l => l.Spec.HasParameters).Sum(l => (long)l.FanIn * l.Units + l.Units);
        if (parameters > int.MaxValue)
            throw SpecException.Invalid(field, Kind == Mlp ? Hidden : Layers,
                $"{parameters:N0} parameters per model for {inputs} inputs and {classes} classes; one flat buffer holds at most {int.MaxValue:N0}");
        return model;
    }

    /// <summary>Parameters of one MLP (weights and biases) for the data's width and class count.</summary>
    internal long ParameterCount(int inputs, int classes)
    {
        // Saturates (at 2^62) instead of overflowing: any count that large is refused anyway.
        const long Cap = 1L << 62;
        long count = 0, width = inputs;
        foreach (long h in (Hidden ?? []).Append(classes))
        {
            count = Math.Min(Cap, count + width * h + h);
            width = h;
        }
        return count;
    }

    /// <summary>
    /// The model must fit the data (every layer its input) and its parameters one flat buffer (the engine's layout,
    /// docs/engine.md).
    /// </summary>
    internal void ValidateFor(int inputs, ImageShape? image, int classes, string at)
    {
        if (Kind == Mlp)
        {
            // Checked first in saturating arithmetic: widths whose product overflows must not reach the layout.
            long parameters = ParameterCount(inputs, classes);
            if (parameters > int.MaxValue)
                throw SpecException.Invalid($"{at}.hidden", Hidden,
                    $"{parameters:N0} parameters per model for {inputs} inputs and {classes} classes; one flat buffer holds at most {int.MaxValue:N0}");
        }
        Resolve(inputs, image, classes);
    }

    /// <summary><see cref="ValidateFor(int, ImageShape?, int, string)"/> on flat features.</summary>
    internal void ValidateFor(int inputs, int classes, string at) => ValidateFor(inputs, null, classes, at);

    internal void Validate(string at)
    {
        JobSpec.Require(Kind is Mlp or LayerList, $"{at}.kind", Kind, "expected mlp or layers");
        if (Kind == Mlp)
        {
            JobSpec.Require(Hidden is not null, $"{at}.hidden", Hidden, "an mlp needs its hidden widths (an empty list for none)");
            JobSpec.Require(Hidden!.All(h => h >= 1), $"{at}.hidden", Hidden, "every layer width must be at least 1");
            return;
        }
        JobSpec.Require(!string.IsNullOrWhiteSpace(Layers), $"{at}.layers", Layers, "a layer list needs its layers");
        var body = Body();
        JobSpec.Require(ModelArchitecture.MlpHidden(body) is null, $"{at}.layers", Layers, "dense+relu pairs are an mlp: give them as kind mlp with model.hidden");
        JobSpec.Require(ModelArchitecture.CanonicalText(body) == Layers, $"{at}.layers", Layers, $"not in canonical form ({ModelArchitecture.CanonicalText(body)})");
    }
}

/// <summary>
/// SGD with momentum and weight decay (PyTorch semantics), a constant step after an optional linear warm-up. The defaults are the engine's tuned
/// hyperparameters (<see cref="TrainingDefaults"/>, chosen on MNIST 8,000/2,000 at σ = 0), referenced, not copied.
/// </summary>
public sealed record TrainingSpec
{
    /// <summary>Passes over the training set per model.</summary>
    public int Epochs { get; init; } = TrainingDefaults.Epochs;
    /// <summary>Training examples per SGD step.</summary>
    public int BatchSize { get; init; } = TrainingDefaults.BatchSize;
    /// <summary>SGD step η.</summary>
    public float LearningRate { get; init; } = TrainingDefaults.LearningRate;
    /// <summary>Momentum μ (no dampening).</summary>
    public float Momentum { get; init; } = TrainingDefaults.Momentum;
    /// <summary>L2 weight decay λ added to the gradient (weights and biases).</summary>
    public float WeightDecay { get; init; } = TrainingDefaults.WeightDecay;
    /// <summary>
    /// Epochs of linear learning-rate warm-up per model: step t (0-based, counted over the model's own epochs) uses
    /// η·(t + 1)/W for t + 1 &lt; W, W = warm-up epochs · the model's steps per epoch, then η (docs/engine.md). 0 (the
    /// default, and what the CLI uses for an MLP; the CLI's default for any other model is
    /// <see cref="TrainingDefaults.ConvWarmupEpochs"/>) is a constant step and is not written, so specs without
    /// warm-up keep the canonical JSON and config hash they had before the field existed.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int WarmupEpochs { get; init; }

    /// <summary>
    /// The training defaults for <paramref name="model"/>'s kind, the ones the CLI uses: an MLP gets a property
    /// initialiser's values (η = 0.1, no warm-up); any other model (LeNet, a layer list) η = 0.05 with
    /// <see cref="TrainingDefaults.ConvWarmupEpochs"/> epochs of warm-up, without which noisy LeNets collapse to
    /// constant predictors (README). <c>new TrainingSpec()</c> is the MLP's, so a spec for another model should start
    /// from this: <c>Training = TrainingSpec.DefaultsFor(model) with { Epochs = 3 }</c>.
    /// </summary>
    public static TrainingSpec DefaultsFor(ModelSpec model)
    {
        ArgumentNullException.ThrowIfNull(model);
        bool mlp = model.Kind == ModelSpec.Mlp;
        return new TrainingSpec { LearningRate = TrainingDefaults.LearningRateFor(mlp), WarmupEpochs = TrainingDefaults.WarmupEpochsFor(mlp) };
    }

    internal void Validate(string at)
    {
        JobSpec.Require(Epochs >= 0, $"{at}.epochs", Epochs, "must be at least 0");
        JobSpec.Require(BatchSize >= 1, $"{at}.batch_size", BatchSize, "must be at least 1");
        JobSpec.Require(LearningRate > 0 && float.IsFinite(LearningRate), $"{at}.learning_rate", LearningRate, "must be a positive number");
        JobSpec.Require(Momentum is >= 0f and < 1f, $"{at}.momentum", Momentum, "must be in [0, 1)");
        JobSpec.Require(WeightDecay >= 0 && float.IsFinite(WeightDecay), $"{at}.weight_decay", WeightDecay, "must be zero or a positive number");
        JobSpec.Require(WarmupEpochs >= 0, $"{at}.warmup_epochs", WarmupEpochs, "must be zero (no warm-up) or a positive number of epochs");
    }
}

/// <summary>
/// The smoothed ensemble: noise σ on every training and test feature, the seed of all noise, initialisation and
/// shuffles, how many models vote and how their votes are estimated.
/// </summary>
public sealed record SmoothingSpec
{
    /// <summary>Values of <see cref="Method"/>.</summary>
    public const string SimuEM = "simuem", Cohen = "cohen";

    /// <summary>Smoothing noise standard deviation σ, input units.</summary>
    public float Sigma { get; init; } = 0.5f;
    /// <summary>Seed of all training and test noise, initialisation and shuffles.</summary>
    public ulong Seed { get; init; }
    /// <summary>Models N that estimate the vote probabilities.</summary>
    public int Models { get; init; } = 1000;
    /// <summary>simuem (all N models bound every class) or cohen (<see cref="N0"/> more models select the class, N bound it).</summary>
    public string Method { get; init; } = SimuEM;
    /// <summary>Cohen's selection models n0 (0 in the canonical form of simuem).</summary>
    public int N0 { get; init; } = 100;

    /// <summary>Models that only select the class: n0 for cohen, 0 for simuem.</summary>
    [JsonIgnore] public int SelectionModels => Method == Cohen ? N0 : 0;

    internal void Validate(string at)
    {
        JobSpec.Require(Sigma > 0 && float.IsFinite(Sigma), $"{at}.sigma", Sigma, "must be a positive number");
        ValidateCounts(at);
    }

    /// <summary>The rules on the model counts and method alone (σ aside: a plain ensemble may have σ = 0).</summary>
    internal void ValidateCounts(string at)
    {
        JobSpec.Require(Models >= 1, $"{at}.models", Models, "must be at least 1");
        JobSpec.Require(Method is SimuEM or Cohen, $"{at}.method", Method, "expected simuem or cohen");
        if (Method == Cohen)
        {
            JobSpec.Require(N0 >= 1, $"{at}.n0", N0, "must be at least 1");
            JobSpec.Require((long)N0 + Models <= int.MaxValue, $"{at}.n0", N0, $"n0 + models must be at most {int.MaxValue} (models {Models})");
        }
    }
}

/// <summary>How stored votes become certificates and what the summary shows; never changes the votes.</summary>
public sealed record CertificationSpec
{
    private IReadOnlyList<double> _triggerNorms = [0.05, 0.1, 0.2, 0.5], _radii = [0, 0.25, 0.5, 0.75, 1];

    /// <summary>Failure probability α of each certificate, one-sided (of all T jointly with <see cref="Simultaneous"/>).</summary>
    public double Alpha { get; init; } = 0.001;
    /// <summary>Whether α bounds the failure of all T certificates of a set jointly (α/T per input); clean and triggered inputs are two sets.</summary>
    public bool Simultaneous { get; init; }
    /// <summary>Trigger ℓ2 norms (input units) of the certified-accuracy-vs-poison table and plot.</summary>
    public IReadOnlyList<double> TriggerNorms { get => _triggerNorms; init => _triggerNorms = [.. value]; }
    /// <summary>Radii (input units) at which the summary reports certified accuracy.</summary>
    public IReadOnlyList<double> Radii { get => _radii; init => _radii = [.. value]; }

    internal void Validate(string at)
    {
        JobSpec.Require(Alpha is > 0 and < 1, $"{at}.alpha", Alpha, "must be in (0, 1)");
        JobSpec.Require(TriggerNorms.All(t => t > 0 && double.IsFinite(t)), $"{at}.trigger_norms", TriggerNorms, "must be positive numbers");
        JobSpec.Require(Radii.All(r => r >= 0 && double.IsFinite(r)), $"{at}.radii", Radii, "must be zero or positive numbers");
    }
}

/// <summary>
/// A defense that certifies a number of training examples changed in any way (labels included): dpa (one model per
/// feature-hash partition, <see cref="Partitions"/> of them) or bagging (models on bags of <see cref="BagSize"/> rows
/// drawn with replacement). See NativeCert.Defenses.
/// </summary>
public sealed record DefenseSpec
{
    /// <summary>Values of <see cref="Kind"/>.</summary>
    public const string Dpa = NativeCert.Defenses.DefenseSettings.Dpa, Bagging = NativeCert.Defenses.DefenseSettings.Bagging;

    /// <summary>dpa or bagging.</summary>
    public string Kind { get; init; } = Dpa;
    /// <summary>DPA: partitions k (0 for bagging).</summary>
    public int Partitions { get; init; }
    /// <summary>Bagging: rows per bag (0 for DPA).</summary>
    public int BagSize { get; init; }

    /// <summary>The engine-side settings of this defense.</summary>
    [JsonIgnore] internal NativeCert.Defenses.DefenseSettings Settings => new(Kind, Partitions, BagSize);

    internal void Validate(string at)
    {
        JobSpec.Require(Kind is Dpa or Bagging, $"{at}.kind", Kind, "expected dpa or bagging");
        if (Kind == Dpa)
        {
            JobSpec.Require(Partitions >= 1, $"{at}.partitions", Partitions, "must be at least 1");
            JobSpec.Require(BagSize == 0, $"{at}.bag_size", BagSize, "must be 0 for dpa");
        }
        else
        {
            JobSpec.Require(BagSize >= 1, $"{at}.bag_size", BagSize, "must be at least 1");
            JobSpec.Require(Partitions == 0, $"{at}.partitions", Partitions, "must be 0 for bagging");
        }
    }
}

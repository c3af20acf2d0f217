using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using NativeCert.Cli;
using NativeCert.Cli.Options;
using NativeCert.Runs;
using NativeCert.Spec;

namespace NativeCert.Tests.Runs;

/// <summary>
/// The job spec on its own: canonical JSON round-trips exactly and is read strictly, validation names the field,
/// the engine mapping carries every field, and every field a flag fills is a real spec (or execution) path.
/// </summary>
public sealed class JobSpecTests
{
    private static readonly JobSpec Custom = JobSpec.Default with
    {
        Data = new DataSpec { Dataset = "csv:a.csv", TrainSize = 100, Classes = [3, 1], Seed = 9 },
        Attack = new AttackSpec { Kind = AttackSpec.Blend, TriggerNorm = 0.75, Poison = 12, Target = 3, LabelMode = AttackSpec.Clean, Seed = 4 },
        Model = new ModelSpec { Hidden = [64, 32] },
        Training = new TrainingSpec { Epochs = 3, BatchSize = 16, LearningRate = 0.05f, Momentum = 0.5f, WeightDecay = 0, WarmupEpochs = 2 },
        Smoothing = new SmoothingSpec { Sigma = 0.3f, Seed = ulong.MaxValue, Models = 50, Method = SmoothingSpec.Cohen, N0 = 7 },
        Certification = new CertificationSpec { Alpha = 1e-6, Simultaneous = true, TriggerNorms = [0.2], Radii = [0, 0.1] },
    };

    [Fact]
    public void CanonicalJsonRoundTripsExactly()
    {
        foreach (JobSpec spec in new[] { JobSpec.Default, Custom })
        {
            string json = spec.Validate().ToJson();
            JobSpec back = JobSpec.FromJson(json, "spec.json");
            Assert.Equal(spec, back);
            Assert.Equal(json, back.ToJson());
        }
        Assert.Contains("\"schema\": \"nativecert-spec/1\"", JobSpec.Default.ToJson());
        // simuem has no selection models: n0 is 0 in canonical form, and a stored n0 for simuem is refused.
        Assert.Equal(0, JobSpec.FromJson(JobSpec.Default.ToJson(), "s").Smoothing.N0);
        var node = JobSpec.Default.ToJsonNode();
        node["smoothing"]!["n0"] = 5;
        Assert.Contains("smoothing.n0", Assert.ThrowsAny<UserInputException>(() => JobSpec.FromJsonNode(node, "s", "")).Message);
    }

    [Theory]
    [InlineData("training.batch_size", 0, "training.batch_size 0: must be at least 1")]
    [InlineData("training.warmup_epochs", -1, "training.warmup_epochs -1: must be zero (no warm-up) or a positive number of epochs")]
    [InlineData("smoothing.sigma", 0, "smoothing.sigma 0: must be a positive number")]
    [InlineData("certification.alpha", 1, "certification.alpha 1: must be in (0, 1)")]
    [InlineData("data.train_size", 0, "data.train_size 0: must be at least 1")]
    [InlineData("model.hidden", 0, "model.hidden 0: every layer width must be at least 1")]
    public void FileErrorsNameTheFieldByItsPath(string field, int value, string message)
    {
        var node = Custom.ToJsonNode();
        string[] path = field.Split('.');
        node[path[0]]![path[1]] = field == "model.hidden" ? new JsonArray(value) : value;
        var e = Assert.ThrowsAny<UserInputException>(() => JobSpec.FromJsonNode(node, "f.json", "spec"));
        Assert.Equal($"f.json: spec.{message}", e.Message);
    }

    [Fact]
    public void ValidationErrorsAreSpecExceptionsTheCliShowsByFlag()
    {
        var e = Assert.Throws<SpecException>(() => (JobSpec.Default with { Training = new TrainingSpec { BatchSize = 0 } }).Validate());
        Assert.Equal(["training.batch_size"], e.Fields);
        Assert.Equal("--batch 0: must be at least 1", SpecFlags.Translate(e));
        e = Assert.Throws<SpecException>(() => (JobSpec.Default with { Smoothing = new SmoothingSpec { Method = SmoothingSpec.Cohen, N0 = int.MaxValue } }).Validate());
        Assert.StartsWith("--n0 2147483647", SpecFlags.Translate(e));
    }

    [Fact]
    public void TheEngineMappingCarriesEveryField()
    {
        var config = Custom.ToEnsembleConfig(inputs: 20, classes: 2);
        Assert.Equal([64, 32], config.Model.Hidden!);
        Assert.Equal("20-64-32-2", config.Model.ToString());
        Assert.Equal(new NativeCert.Engine.TrainingOptions(3, 16, 0.05f, 0.5f, 0f, WarmupEpochs: 2), config.Training);
        Assert.Equal(0.3f, config.Sigma);
        Assert.Equal(ulong.MaxValue, config.Seed);
        Assert.Equal(57, Custom.TotalModels);
    }

    [Fact]
    public void NoWarmupIsNotWrittenSoSpecsWithoutOneKeepTheirJsonAndHash()
    {
        // Specs (and so config.json and the run's config hash) from before the field existed read as no warm-up and write back the same.
        string json = JobSpec.Default.ToJson();
        Assert.DoesNotContain("warmup", json);
        Assert.Equal(0, JobSpec.FromJson(json, "spec.json").Training.WarmupEpochs);
        Assert.Contains("\"warmup_epochs\": 2", Custom.ToJson());
        var e = Assert.Throws<SpecException>(() => (JobSpec.Default with { Training = new TrainingSpec { WarmupEpochs = -3 } }).Validate());
        Assert.Equal(["training.warmup_epochs"], e.Fields);
        Assert.Equal("--warmup-epochs -3: must be zero (no warm-up) or a positive number of epochs", SpecFlags.Translate(e));
    }

    [Fact]
    public void AnMlpKeepsItsJsonAndALayerListIsCanonicalModelText()
    {
        // An MLP's model JSON is what it was before layer lists (so its config hash and resume are unchanged), however written.
        Assert.Equal("""{"kind":"mlp","hidden":[128]}""", JsonSerializer.Serialize(ModelSpec.FromText("dense:128,relu"), SpecJson.Compact));
        Assert.Equal(JobSpec.Default.ToJson(), (JobSpec.Default with { Model = ModelSpec.FromText("mlp:128") }).ToJson());
        var lenet = Custom with { Model = ModelSpec.FromText("lenet") };
        Assert.Equal("conv:16:5,relu,maxpool,conv:32:5,relu,maxpool,flatten,dense:128,relu", lenet.Model.Layers);
        Assert.Null(lenet.Model.Hidden);
        Assert.Equal(lenet, JobSpec.FromJson(lenet.ToJson(), "spec.json"));
        var config = lenet.ToEnsembleConfig(28 * 28, new NativeCert.Data.ImageShape(1, 28, 28), 10);
        Assert.Equal(512, config.Model.Layers.Single(l => l.Spec.Kind == NativeCert.Engine.LayerKind.Flatten).Output.Size);
        // A layer list that does not fit the data is refused naming the layer, by the model's field (the CLI shows --model).
        var e = Assert.Throws<SpecException>(() => lenet.ToEnsembleConfig(20, 2));
        Assert.Equal(["model.layers"], e.Fields);
        Assert.StartsWith("--model: layer 1 (conv:16:5)", SpecFlags.Translate(e));
        // Hand-edited JSON that is not canonical is refused by field.
        string edited = lenet.ToJson().Replace("conv:16:5,relu", "conv:16:5:0,relu");
        Assert.Contains("model.layers", Assert.ThrowsAny<UserInputException>(() => JobSpec.FromJson(edited, "spec.json")).Message);
    }

    [Fact]
    public void EveryFlagFillsARealFieldAndIsAnOptionOfCertify()
    {
        var leaves = SpecJson.Leaves(Custom.ToJsonNode())
            .Concat(SpecJson.Leaves((Custom with { Model = ModelSpec.FromText("lenet") }).ToJsonNode()))
            .Concat(SpecJson.Leaves((Custom with { Defense = new DefenseSpec { Kind = DefenseSpec.Bagging, BagSize = 10 } }).ToJsonNode()))
            .Concat(SpecJson.Leaves(JsonSerializer.SerializeToNode(new RunExecution { Shard = new ModelRange(0, 1) }, SpecJson.Options), "execution"))
            .Select(kv => kv.Key).ToHashSet();
        Command certify = Program.BuildRoot().Subcommands.Single(c => c.Name == "certify");
        var options = certify.Options.Select(o => o.Name).ToHashSet();
        foreach (var (field, flag) in SpecFlags.FlagOfField)
        {
            Assert.True(leaves.Contains(field) || leaves.Any(l => l.StartsWith(field + ".", StringComparison.Ordinal)), $"{field} is not a spec field");
            Assert.Contains(flag, options);
        }
    }
}

// Trains a small noisy ensemble on the built-in MNIST (shipped in the NativeCert package) and certifies the first
// 10 test digits: one TSV row each with the smoothed prediction (-1 = abstain) and the certified l2 radius in pixel
// units (pixels in [0,1]). Progress goes to stderr, the table to stdout.
using System.Globalization;
using NativeCert;
using NativeCert.Certification;
using NativeCert.Data;
using NativeCert.Spec;

// 2,000 of the 8,000 training digits keep this to seconds; the 2,000 test digits are all loaded.
DataSplit mnist = DatasetCatalog.Load("mnist", new DataLoadOptions { TrainSize = 2000 });

// 100 MLPs 784-64-10, each trained 3 epochs on its own copy of the training set with Gaussian noise sigma = 0.25 on
// every pixel; everything not set here (learning rate, batch, seed, alpha, ...) is the CLI's default.
JobSpec spec = JobSpec.Default with
{
    Model = new ModelSpec { Hidden = [64] },
    Training = new TrainingSpec { Epochs = 3 },
    Smoothing = new SmoothingSpec { Sigma = 0.25f, Models = 100 },
};
var progress = new Progress<JobProgress>(p => { if (p.ModelsDone % 25 == 0) Console.Error.WriteLine($"trained {p.ModelsDone}/{p.ModelsTotal} models"); });
SmoothedClassifier classifier = await SmoothedClassifier.TrainAsync(spec, mnist, progress: progress);

Console.WriteLine("idx\tlabel\tprediction\tradius");
for (int i = 0; i < 10; i++)
{
    Certificate c = classifier.Certify(mnist.Test.Row(i));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i}\t{mnist.Test.Labels[i]}\t{c.Prediction}\t{c.Radius:0.######}"));
}

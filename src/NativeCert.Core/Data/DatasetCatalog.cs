using NativeCert.Spec;

namespace NativeCert.Data;

/// <summary>
/// Turns a dataset spec into a train/test split:
/// <list type="bullet">
/// <item><c>mnist</c>: the built-in 10,000 real MNIST digits (data/mnist), split 8,000/2,000 stratified with a fixed seed;</item>
/// <item><c>fashion-mnist</c> or <c>fashion-mnist:DIR</c>: Fashion-MNIST IDX files (default
/// /usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist), its own 60,000/10,000 split;</item>
/// <item><c>cifar10</c> or <c>cifar10:DIR</c>: CIFAR-10 binary batches (default /usr/share/datasets/cifar10);</item>
/// <item><c>idx:DIR</c>: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-… (or test-…) files;</item>
/// <item><c>csv:FILE</c> (split 80/20 stratified, fixed seed) or <c>csv:TRAIN,TEST</c>.</item>
/// </list>
/// Image pixels are scaled to [0,1]; CSV features are used as they are.
/// </summary>
public static class DatasetCatalog
{
    /// <summary>The dataset a spec names when it names none: the built-in MNIST.</summary>
    public const string DefaultSpec = "mnist";
    internal const string DefaultFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";
    internal const string DefaultCifar10Directory = "/usr/share/datasets/cifar10";
    /// <summary>Seed of the fixed splits (built-in MNIST 8,000/2,000 and single-file CSV 80/20); never changes.</summary>
    internal const ulong SplitSeed = 20200601;
    internal const string SpecHelp = "mnist, fashion-mnist[:DIR], cifar10[:DIR], idx:DIR, csv:FILE or csv:TRAIN,TEST";

    internal static readonly string[] FashionMnistClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    internal static readonly string[] Cifar10ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Loads <paramref name="spec"/>, keeps the requested classes (relabelled 0..k−1), then the requested subset sizes.</summary>
    public static DataSplit Load(string spec, DataLoadOptions? options = null)
    {
        options ??= new DataLoadOptions();
        DataSplit split = LoadFull(spec.Trim());
        if (options.Classes is { } classes) split = SelectClasses(split, classes);
        return Subset(split, options.TrainSize, options.TestSize, options.Seed);
    }

    private static DataSplit LoadFull(string spec)
    {
        int colon = spec.IndexOf(':');
        string kind = (colon < 0 ? spec : spec[..colon]).ToLowerInvariant();
        string? arg = colon < 0 ? null : spec[(colon + 1)..];
        if (arg is { Length: 0 }) throw new SpecException($"data.dataset '{spec}': missing path after '{kind}:'", "data.dataset");
        return (kind, arg) switch
        {
            ("mnist", null) => LoadBuiltInMnist(),
            ("fashion-mnist", _) => LoadIdxDirectory(arg ?? DefaultDirectory("fashion-mnist", DefaultFashionMnistDirectory, "install the Debian package dataset-fashion-mnist"),
                spec, 10, FashionMnistClassNames),
            ("cifar10", _) => LoadCifar10(arg ?? DefaultDirectory("cifar10", DefaultCifar10Directory, "unpack cifar-10-binary.tar.gz there"), spec),
            ("idx", not null) => LoadIdxDirectory(arg, spec, null, null),
            ("csv", not null) => LoadCsv(arg, spec),
            _ => throw new SpecException($"data.dataset '{spec}': unknown dataset (expected {SpecHelp})", "data.dataset"),
        };
    }

    /// <summary>The default directory of a named dataset: $NATIVECERT_DATA/NAME when present, else the system path.</summary>
    private static string DefaultDirectory(string name, string systemDirectory, string hint)
    {
        string? env = Environment.GetEnvironmentVariable(DataRoot.EnvironmentVariable);
        if (!string.IsNullOrEmpty(env) && Directory.Exists(Path.Combine(env, name))) return Path.Combine(env, name);
        if (Directory.Exists(systemDirectory)) return systemDirectory;
        throw new SpecException($"data.dataset {name}: {systemDirectory}: directory not found ({hint}, or use data.dataset {name}:DIR)", "data.dataset");
    }

    private static DataSplit LoadBuiltInMnist()
    {
        string dir = Path.Combine(DataRoot.Find(), "mnist");
        string images = Path.Combine(dir, DataRoot.MnistImages), labels = Path.Combine(dir, DataRoot.MnistLabels);
        Dataset all = IdxFormat.Load(images, labels, 10, "mnist");
        var (train, test) = StratifiedSampler.Split(all.Labels, all.ClassCount, all.Count - all.Count / 5, SplitSeed);
        return new DataSplit(all.Select(train, "mnist (train)"), all.Select(test, "mnist (test)")) { Name = "mnist", Location = dir };
    }

    private static void RequireDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new UserInputException($"{dir}: directory not found");
    }

    /// <summary>The first existing file among the IDX naming variants (prefix-kind-idxN-ubyte, with '.' or '-', optionally .gz).</summary>
    private static string FindIdxFile(string dir, string[] prefixes, string kind, int rank)
    {
        foreach (string prefix in prefixes)
            foreach (string sep in new[] { "-", "." })
                foreach (string ext in new[] { "", ".gz" })
                {
                    string path = Path.Combine(dir, $"{prefix}-{kind}{sep}idx{rank}-ubyte{ext}");
                    if (File.Exists(path)) return path;
                }
        throw new UserInputException($"{dir}: no {prefixes[0]}-{kind}-idx{rank}-ubyte[.gz] file");
    }

    private static DataSplit LoadIdxDirectory(string dir, string spec, int? classCount, string[]? classNames)
    {
        RequireDirectory(dir);
        string trainImages = FindIdxFile(dir, ["train"], "images", 3), trainLabels = FindIdxFile(dir, ["train"], "labels", 1);
        string testImages = FindIdxFile(dir, ["t10k", "test"], "images", 3), testLabels = FindIdxFile(dir, ["t10k", "test"], "labels", 1);
        byte[]? labels = classCount is null ? IdxFormat.ReadLabels(trainLabels) : null;
        int k = classCount ?? InferClassCount(labels!.Select(b => (int)b), labels!.Length, trainLabels);
        Dataset train = IdxFormat.Load(trainImages, trainLabels, k, $"{spec} (train)");
        Dataset test = IdxFormat.Load(testImages, testLabels, k, $"{spec} (test)");
        CheckSameShape(train, test, trainImages, testImages);
        return Named(new DataSplit(train, test) { Name = spec, Location = dir }, classNames);
    }

    private static DataSplit LoadCifar10(string dir, string spec)
    {
        RequireDirectory(dir);
        // The official archive unpacks to cifar-10-batches-bin/; accept that directory or its parent.
        string nested = Path.Combine(dir, "cifar-10-batches-bin");
        if (!File.Exists(Path.Combine(dir, "test_batch.bin")) && Directory.Exists(nested)) dir = nested;
        string[] trainFiles = Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"data_batch_{i}.bin")).ToArray();
        string testFile = Path.Combine(dir, "test_batch.bin");
        foreach (string f in trainFiles.Append(testFile))
            if (!File.Exists(f)) throw new UserInputException($"{f}: file not found (a CIFAR-10 binary directory holds data_batch_1..5.bin and test_batch.bin)");
        Dataset train = CifarBinary.Load(trainFiles, $"{spec} (train)");
        Dataset test = CifarBinary.Load([testFile], $"{spec} (test)");
        string[] names = Cifar10ClassNames;
        string meta = Path.Combine(dir, "batches.meta.txt");
        if (File.Exists(meta))
        {
            string[] lines = File.ReadAllLines(meta).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            if (lines.Length == CifarBinary.ClassCount) names = lines;
        }
        return new DataSplit(train, test) { Name = spec, Location = dir, ClassNames = names };
    }

    private static DataSplit LoadCsv(string arg, string spec)
    {
        string[] files = arg.Split(',', StringSplitOptions.TrimEntries);
        if (files.Length > 2 || files.Any(f => f.Length == 0))
            throw new SpecException($"data.dataset '{spec}': expected csv:FILE or csv:TRAIN,TEST", "data.dataset");
        CsvFormat.Table trainTable = CsvFormat.Read(files[0]);
        int k = InferClassCount(trainTable.Labels, trainTable.Count, files[0]);
        Dataset train = CsvFormat.ToDataset(trainTable, files[0], k, $"{spec} (train)");
        if (files.Length == 2)
        {
            Dataset test = CsvFormat.Load(files[1], k, $"{spec} (test)");
            CheckSameShape(train, test, files[0], files[1]);
            return new DataSplit(train, test) { Name = spec, Location = arg };
        }
        int testCount = train.Count / 5;
        if (testCount < 1) throw new UserInputException($"{files[0]}: {train.Count} rows are too few to split 80/20 into train and test");
        var (trainRows, testRows) = StratifiedSampler.Split(train.Labels, k, train.Count - testCount, SplitSeed);
        return new DataSplit(train.Select(trainRows), train.Select(testRows, $"{spec} (test)")) { Name = spec, Location = arg };
    }

    /// <summary>
    /// Class count = largest label + 1, bounded by <see cref="Dataset.MaxClasses"/> and by the number of rows (labels
    /// are class indices 0..k−1, so more classes than rows means a label is not an index), before anything is
    /// allocated per class.
    /// </summary>
    private static int InferClassCount(IEnumerable<int> labels, int rows, string path)
    {
        long k = (long)labels.Max() + 1;
        if (k < 2) throw new UserInputException($"{path}: every label is 0; a classifier needs at least two classes");
        if (k > Dataset.MaxClasses)
            throw new UserInputException($"{path}: largest label {k - 1} would make {k} classes, more than the {Dataset.MaxClasses} allowed");
        if (k > rows)
            throw new UserInputException($"{path}: largest label {k - 1} would make {k} classes but there are only {rows} rows (labels must be class indices 0..k-1)");
        return (int)k;
    }

    private static void CheckSameShape(Dataset train, Dataset test, string trainPath, string testPath)
    {
        if (train.Dimension != test.Dimension || train.Shape != test.Shape)
            throw new UserInputException($"{testPath}: test records have {DescribeShape(test)} but the training records ({trainPath}) have {DescribeShape(train)}");
    }

    private static string DescribeShape(Dataset d) => d.Shape is { } s ? $"shape {s}" : $"{d.Dimension} features";

    private static DataSplit Named(DataSplit split, string[]? names) => names is null ? split : split with { ClassNames = names };

    /// <summary>Keeps rows of the given original class ids, relabelled 0..k−1 in the given order.</summary>
    internal static DataSplit SelectClasses(DataSplit split, IReadOnlyList<int> classIds)
    {
        string list = string.Join(",", classIds);
        if (classIds.Count < 2) throw new SpecException($"data.classes {list}: give at least two classes", "data.classes");
        if (classIds.Distinct().Count() != classIds.Count) throw new SpecException($"data.classes {list}: a class is repeated", "data.classes");
        var labelOf = new int[split.Train.ClassCount];
        Array.Fill(labelOf, -1);
        for (int k = 0; k < classIds.Count; k++)
        {
            int label = split.LabelOfClassId(classIds[k]);
            if (label < 0)
                throw new SpecException($"data.classes {list}: class {classIds[k]} is not in {split.Name} (classes {string.Join(",", split.ClassIds)})", "data.classes");
            labelOf[label] = k;
        }
        Dataset Keep(Dataset d, string part)
        {
            var rows = new List<int>();
            for (int i = 0; i < d.Count; i++) if (labelOf[d.Labels[i]] >= 0) rows.Add(i);
            if (rows.Count == 0) throw new SpecException($"data.classes {list}: {split.Name} has no {part} rows of these classes", "data.classes");
            Dataset kept = d.Select(rows.ToArray());
            var labels = kept.Labels.Select(y => labelOf[y]).ToArray();
            return new Dataset(kept.Features, labels, kept.Dimension, classIds.Count, kept.Shape, kept.Source);
        }
        return split with
        {
            Train = Keep(split.Train, "training"),
            Test = Keep(split.Test, "test"),
            ClassIds = classIds.Select(id => split.ClassIds[split.LabelOfClassId(id)]).ToArray(),
            ClassNames = classIds.Select(id => split.ClassNames[split.LabelOfClassId(id)]).ToArray(),
        };
    }

    /// <summary>Keeps stratified seeded subsets of the given sizes (null keeps a part whole).</summary>
    internal static DataSplit Subset(DataSplit split, int? trainSize, int? testSize, ulong seed)
    {
        Dataset Cut(Dataset d, int? size, string option, string part, ulong stream)
        {
            if (size is not { } n) return d;
            if (n < 1) throw new SpecException($"{option} {n}: must be at least 1", option);
            if (n > d.Count) throw new SpecException($"{option} {n}: {split.Name} has only {d.Count} {part} rows", option);
            if (n == d.Count) return d;
            return d.Select(StratifiedSampler.Split(d.Labels, d.ClassCount, n, seed ^ stream).Selected);
        }
        return split with
        {
            Train = Cut(split.Train, trainSize, "data.train_size", "training", 0),
            Test = Cut(split.Test, testSize, "data.test_size", "test", 0x7E57),
        };
    }
}

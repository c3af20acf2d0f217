// A certification service: loads an ensemble made by `nativecert train` and certifies one input per request.
//   dotnet run --project samples/CertifyService -- --ensemble FILE --urls http://127.0.0.1:5000 [--alpha A]
//   POST /certify  {"input":[...D floats, input units...]}
//     200 {"prediction":7,"p_a":0.98,"p_b":0.01,"radius":0.61}     (prediction -1 = abstain, radius 0)
//     400 {"error":"..."}  malformed JSON, no input, wrong length, or a non-finite value
//   GET /health    200 {"status":"ok","models":N,"classes":C,"input_dimension":D,"sigma":S,"alpha":A}
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using NativeCert;
using NativeCert.Certification;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);    // no line per request
string? ensemblePath = builder.Configuration["ensemble"];
if (string.IsNullOrEmpty(ensemblePath))
    return Fail("--ensemble FILE: required (an ensemble file made by `nativecert train`)");
string alphaText = builder.Configuration["alpha"] ?? SmoothedClassifier.DefaultAlpha.ToString("R", CultureInfo.InvariantCulture);
if (!double.TryParse(alphaText, NumberStyles.Float, CultureInfo.InvariantCulture, out double alpha) || !(alpha > 0 && alpha < 1))
    return Fail($"--alpha {alphaText}: must be a number in (0, 1)");

SmoothedClassifier classifier;
try
{
    // One thread per request: concurrency comes from concurrent requests, at most one per core at a time (below).
    classifier = SmoothedClassifier.Load(ensemblePath, alpha, threads: 1);
}
catch (UserInputException e)
{
    return Fail($"--ensemble {e.Message}");
}

var json = new JsonSerializerOptions
{
    PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,   // so "NaN" reaches the finiteness check
    Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,                  // readable quotes in error messages
};
var cores = new SemaphoreSlim(Environment.ProcessorCount);

var app = builder.Build();
app.MapGet("/health", () => Results.Json(new Health("ok", classifier.Models, classifier.Classes, classifier.InputDimension,
                                                       classifier.Sigma, classifier.Alpha), json));
app.MapPost("/certify", async (HttpRequest request, CancellationToken cancellation) =>
{
    CertifyRequest? body;
    try
    {
        body = await JsonSerializer.DeserializeAsync<CertifyRequest>(request.Body, json, cancellation);
    }
    catch (JsonException e)
    {
        return BadRequest($"malformed JSON: {e.Message.Split('\n')[0]}");
    }
    if (body?.Input is not { } input) return BadRequest("body must be {\"input\":[...]} with an array of numbers");

    await cores.WaitAsync(cancellation);    // queue without blocking a thread while every core is busy
    try
    {
        Certificate c = await Task.Run(() => classifier.Certify(input, cancellation), cancellation);
        return Results.Json(new CertifyResponse(c.Prediction, c.PA, c.PB, c.Radius), json);
    }
    catch (ArgumentException e)
    {
        return BadRequest(e.Message);         // wrong length or a non-finite feature
    }
    finally
    {
        cores.Release();
    }
});
app.Run();
return 0;

IResult BadRequest(string error) => Results.Json(new ErrorResponse(error), json, statusCode: StatusCodes.Status400BadRequest);

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 2;
}

record CertifyRequest(float[]? Input);
record CertifyResponse(int Prediction, [property: JsonPropertyName("p_a")] double PA, [property: JsonPropertyName("p_b")] double PB, double Radius);
record ErrorResponse(string Error);
record Health(string Status, int Models, int Classes, int InputDimension, double Sigma, double Alpha);

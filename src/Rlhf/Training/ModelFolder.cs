// A self-contained Hugging Face model folder: config.json, model.safetensors, tokenizer files,
// tokenizer_config.json and generation_config.json — loaded and saved together, for any model family.
using Rlhf.Models;
using Rlhf.Models.Generation;
using Rlhf.Text;

namespace Rlhf.Training;

internal sealed class ModelFolder : IDisposable
{
    public ICausalLm Model { get; }
    public BpeTokenizer Tokenizer { get; }
    public GenerationConfig Generation { get; }

    public ModelFolder(ICausalLm model, BpeTokenizer tokenizer, GenerationConfig? generation = null)
    {
        if (tokenizer.VocabSize > model.Config.VocabSize)
            throw new ArgumentException($"The tokenizer has {tokenizer.VocabSize} tokens but the model's vocabulary holds only {model.Config.VocabSize}.");
        Model = model;
        Tokenizer = tokenizer;
        Generation = generation ?? DefaultGeneration(model.Config, tokenizer);
    }

    /// <summary>The id used for padding: the tokenizer's pad token, else EOS (GPT-2's convention), else 0.</summary>
    public int PadTokenId => Tokenizer.PadTokenId ?? Tokenizer.EosTokenId ?? Model.Config.EosTokenId ?? 0;

    public int? EosTokenId => Tokenizer.EosTokenId ?? Model.Config.EosTokenId;

    public static ModelFolder Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"The model folder '{directory}' does not exist.");
        var model = CausalLmRegistry.Load(directory);
        try
        {
            var tokenizer = BpeTokenizer.FromFolder(directory);
            string generationPath = Path.Combine(directory, GenerationConfig.FileName);
            var generation = File.Exists(generationPath) ? GenerationConfig.Load(generationPath) : null;
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new ModelFormatException(Path.Combine(directory, ICausalLm.ConfigFileName),
                    $"vocab_size is {model.Config.VocabSize}, but the folder's tokenizer has {tokenizer.VocabSize} tokens; the tokenizer files do not belong to this model");
            return new ModelFolder(model, tokenizer, generation);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Writes everything (each file atomically) so the folder loads here and in transformers.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        Model.Save(directory);
        SaveConfig(directory);
        Tokenizer.Save(directory);
        Generation.Save(Path.Combine(directory, GenerationConfig.FileName));
    }

    /// <summary>Everything but the weights: tokenizer files, generation_config.json and config.json (a trainer's save hook).</summary>
    public void SaveTokenizerAndConfigs(string directory)
    {
        Tokenizer.Save(directory);
        Generation.Save(Path.Combine(directory, GenerationConfig.FileName));
        SaveConfig(directory);
    }

    /// <summary>Rewrites config.json with the tokenizer's pad token (as transformers' tokenizer and model agree on it).</summary>
    public void SaveConfig(string directory) =>
        (Model.Config with { PadTokenId = Tokenizer.PadTokenId ?? Model.Config.PadTokenId }).Save(Path.Combine(directory, ICausalLm.ConfigFileName));

    private static GenerationConfig DefaultGeneration(CausalLmConfig config, BpeTokenizer tokenizer) => new()
    {
        BosTokenId = tokenizer.BosTokenId ?? config.BosTokenId,
        EosTokenId = tokenizer.EosTokenId ?? config.EosTokenId,
        PadTokenId = tokenizer.PadTokenId ?? config.PadTokenId,
    };

    public void Dispose() => Model.Dispose();
}

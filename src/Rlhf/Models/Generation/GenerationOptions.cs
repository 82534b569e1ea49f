// Decoding settings, with Hugging Face's names and defaults (greedy unless sampling is asked for).
namespace Rlhf.Models.Generation;

/// <summary>Decoding settings, with Hugging Face's generate() names and defaults (greedy unless <see cref="DoSample"/>).</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens generated per prompt, ≥ 0. Default 20.</summary>
    public int MaxNewTokens { get; init; } = 20;

    /// <summary>Sample from the (filtered) distribution; false = greedy argmax.</summary>
    public bool DoSample { get; init; }

    /// <summary>Logits are divided by this before sampling, &gt; 0 when sampling. Default 1.</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Keep the k most likely tokens (ties at the k-th logit kept); 0 = no limit.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose mass reaches p; 1 = no limit.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Seed of the sampling (same seed, same output). Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>Stop a row when it emits this id (null: the model config's eos_token_id).</summary>
    public int? EosTokenId { get; init; }

    /// <summary>Further ids that also end a row (generation_config.json's eos_token_id list; Llama 3 Instruct lists three).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>Id used to left-pad shorter prompts (never attended to; null: eos, else 0).</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Drop prompt tokens from the left when prompt + new tokens exceed the context; otherwise an error.</summary>
    public bool TruncatePromptLeft { get; init; }

    /// <summary>Checks the settings against their ranges.</summary>
    /// <exception cref="ArgumentException">A setting is out of range (the message names it, its range and value).</exception>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"max_new_tokens must be ≥ 0 (got {MaxNewTokens}).");
        if (DoSample && !(Temperature > 0)) throw new ArgumentException($"temperature must be > 0 when sampling (got {Temperature}).");
        if (TopK < 0) throw new ArgumentException($"top_k must be ≥ 0 (got {TopK}).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must lie in (0, 1] (got {TopP}).");
    }
}

/// <summary>
/// One prompt's continuation: the generated ids (EOS included when emitted) and, for each, its log-probability
/// under the distribution the policy defines at this temperature — log softmax(logits / T) — the quantity
/// PPO's ratio and KL are computed from (top-k/top-p only restrict which tokens can be drawn).
/// </summary>
internal sealed record GenerationResult(int[] PromptIds, int[] Ids, float[] LogProbs, bool EndedWithEos);

// Tests for PromptTemplate: the seeds' default, prompt/response split, escapes and malformed templates.
using Rlhf.Data;
using Xunit;

namespace Rlhf.Tests.Data;

public sealed class PromptTemplateTests
{
    [Fact]
    public void Default_MatchesTheSeed()
    {
        var t = PromptTemplate.Default;
        Assert.Equal("### Question: Why?\n### Answer: ", t.RenderPrompt("Why?"));
        Assert.Equal("Because.<|endoftext|>", t.RenderResponse("Because.", "<|endoftext|>"));
        Assert.Equal("### Question: Why?\n### Answer: Because.<|endoftext|>", t.Render("Why?", "Because.", "<|endoftext|>"));
        Assert.True(t.HasEos);
    }

    [Fact]
    public void EosTokenAlias_And_LiteralBraces()
    {
        var t = PromptTemplate.Parse("{{sys}} Q: {instruction}\nA: {response}{eos_token} }}");
        Assert.Equal("{sys} Q: x\nA: ", t.RenderPrompt("x"));
        Assert.Equal("y</s> }", t.RenderResponse("y", "</s>"));
    }

    [Fact]
    public void Values_AreNotReinterpreted()
    {
        var t = PromptTemplate.Default;
        Assert.Equal("### Question: {response} {eos}\n### Answer: ", t.RenderPrompt("{response} {eos}"));
    }

    [Fact]
    public void Raw_HasNoDecorationAndNoEos()
    {
        Assert.Equal("p", PromptTemplate.Raw.RenderPrompt("p"));
        Assert.Equal("r", PromptTemplate.Raw.RenderResponse("r", "<eos>"));
        Assert.False(PromptTemplate.Raw.HasEos);
    }

    [Theory]
    [InlineData("Q: {question} A: {response}", "unknown placeholder '{question}'")]
    [InlineData("Q: {instruction} A:", "{response} exactly once (found 0)")]
    [InlineData("{instruction}{response}{response}", "{response} exactly once (found 2)")]
    [InlineData("{instruction}{instruction}{response}", "{instruction} at most once")]
    [InlineData("{response} {instruction}", "{instruction} must come before {response}")]
    [InlineData("{instruction}{eos}{response}", "{eos} must come after {response}")]
    [InlineData("{instruction {response}", "unknown placeholder")]
    [InlineData("{instruction}{response} {", "unclosed '{'")]
    [InlineData("{instruction}} {response}", "unmatched '}'")]
    public void BadTemplates_ThrowWithAClearMessage(string template, string expected)
    {
        var e = Assert.Throws<TemplateFormatException>(() => PromptTemplate.Parse(template));
        Assert.Contains(expected, e.Message);
    }
}

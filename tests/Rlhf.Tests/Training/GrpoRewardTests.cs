// Reward functions for GRPO/RLOO: the rule rewards, weights, missing columns named before training, and an external
// command that misbehaves (wrong line count, non-numbers, a failing exit, a hang bounded by its timeout).
using System.Text.Json;
using Rlhf.Data;
using Rlhf.Training.Grpo;
using Xunit;

namespace Rlhf.Tests.Training;

public class GrpoRewardTests
{
    private static DataRow Row(string json, int line = 1) => new("math.jsonl", line, false, JsonDocument.Parse(json).RootElement.Clone());

    private static CompletionSample Sample(string completion, DataRow? row = null, string prompt = "What is 37 + 45?") =>
        new(prompt, completion, [1, 2], [3], true, row);

    [Fact]
    public void RuleRewardsScoreOneOrZero()
    {
        var row = Row("{\"prompt\": \"What is 37 + 45?\", \"answer\": \"82\", \"value\": 82}");
        CompletionSample[] samples = [Sample(" 82 ", row), Sample("It is 80 + 2 = 82.", row), Sample("1,234.5", row), Sample("no idea", row)];
        Assert.Equal([1, 0, 0, 0], new ExactMatchReward("answer").Score(samples));
        Assert.Equal([1, 1, 0, 0], new NumericAnswerReward("answer").Score(samples));
        Assert.Equal([1, 1, 0, 0], new NumericAnswerReward("value").Score(samples));
        Assert.Equal([0, 1, 0, 0], new RegexReward(@"=\s*\d+").Score(samples));
        Assert.Equal([0, 0, 0, 1], new ContainsReward("idea").Score(samples));
        Assert.Equal([1, 0, 1, 1], new LengthReward(0, 8).Score(samples));
        Assert.Equal(1234.5, NumericAnswerReward.LastNumber("total: 1,234.5"));
        Assert.Equal(-3, NumericAnswerReward.LastNumber("from 5 to -3"));
        Assert.Null(NumericAnswerReward.LastNumber("none"));
    }

    [Fact]
    public void WeightsCombineTheFunctions()
    {
        var set = new RewardSet([new ContainsReward("a"), new DelegateCompletionReward("len", (_, c, _) => c.Length)], [2, 0.5]);
        var each = set.ScoreEach([Sample("abc"), Sample("xy")]);
        Assert.Equal([2 * 1 + 0.5 * 3, 2 * 0 + 0.5 * 2], set.Combine(each));
        Assert.Throws<ArgumentException>(() => new RewardSet([new ContainsReward("a")], [1, 2]));
    }

    [Fact]
    public void AMissingColumnIsNamedWithItsRowBeforeTraining()
    {
        var set = new RewardSet([new ExactMatchReward("answer")]);
        var error = Assert.Throws<DataFormatException>(() => set.CheckColumns([Row("{\"prompt\": \"a\", \"answer\": \"1\"}"), Row("{\"prompt\": \"b\"}", 2)]));
        Assert.Contains("math.jsonl:2", error.Message);
        Assert.Contains("'answer'", error.Message);
    }

    [Fact]
    public void ACommandScoresEachLineOfJson()
    {
        // The completion's length, read back from the JSON the command receives.
        var reward = new CommandReward("while IFS= read -r line; do case \"$line\" in *'\"completion\":\"abc\"'*) echo 3;; *) echo 0.5;; esac; done");
        var row = Row("{\"answer\": \"82\"}");
        Assert.Equal([3, 0.5], reward.Score([Sample("abc", row), Sample("zz")]));
        Assert.True(double.IsNaN(new CommandReward("cat >/dev/null; echo nan").Score([Sample("x")])[0]));
    }

    // The hang gets a 1 s limit; the others a generous one, so a slow process start on a busy machine is not a hang.
    [Theory]
    [InlineData("cat >/dev/null; echo 1", "printed 1 scores for 2 completions", 60)]
    [InlineData("cat >/dev/null; echo 1; echo abc", "printed 'abc' on line 2, for row math.jsonl:7", 60)]
    [InlineData("cat >/dev/null; echo broken >&2; exit 3", "exited with status 3: broken", 60)]
    [InlineData("sleep 30", "did not finish within 1 s", 1)]
    public void AMisbehavingCommandIsAClearError(string command, string message, int timeoutSeconds)
    {
        var reward = new CommandReward(command, TimeSpan.FromSeconds(timeoutSeconds));
        var error = Assert.Throws<RewardCommandException>(() => reward.Score([Sample("a", Row("{}", 6)), Sample("b", Row("{}", 7))]));
        Assert.Contains(message, error.Message);
    }
}

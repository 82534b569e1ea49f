// NFC/NFD from the project's Unicode table against JavaScript's String.prototype.normalize (Node 20, ICU 78).
using Rlhf.Text.Pipeline;
using Xunit;

namespace Rlhf.Tests.Text;

public sealed class CanonicalNormalizationTests
{
    /// <summary>(input, NFC, NFD) as Node printed them: composition, singletons (Å), Hangul, reordering of marks,
    /// blocked pairs, composition exclusions (U+1D15E, U+0958-style nukta), astral characters.</summary>
    public static TheoryData<string, string, string> Cases() => new()
    {
        { "Cafe\u0301", "Caf\u00e9", "Cafe\u0301" },
        { "\u212b", "\u00c5", "A\u030a" },
        { "\u1100\u1161\u11a8", "\uac01", "\u1100\u1161\u11a8" },
        { "e\u0323\u0302", "\u1ec7", "e\u0323\u0302" },
        { "a\u0302\u0323", "\u1ead", "a\u0323\u0302" },
        { "A\u030a\u0301", "\u01fa", "A\u030a\u0301" },
        { "q\u0307\u0323", "q\u0323\u0307", "q\u0323\u0307" },
        { "\u1e0b\u0323", "\u1e0d\u0307", "d\u0323\u0307" },
        { "\ud834\udd5e", "\ud834\udd57\ud834\udd65", "\ud834\udd57\ud834\udd65" },
        { "\u00c5\u0301ok", "\u01faok", "A\u030a\u0301ok" },
        { "\u0915\u093c", "\u0915\u093c", "\u0915\u093c" },
        { "plain ASCII", "plain ASCII", "plain ASCII" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesJavaScript(string input, string nfc, string nfd)
    {
        Assert.Equal(nfc, CanonicalNormalization.Nfc(input));
        Assert.Equal(nfd, CanonicalNormalization.Nfd(input));
    }
}

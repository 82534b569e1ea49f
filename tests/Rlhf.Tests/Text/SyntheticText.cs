// Deterministic pseudo-English text (Zipf-distributed words, punctuation, numbers, code-like lines) for tokenizer tests.
using System.Text;

namespace Rlhf.Tests.Text;

internal static class SyntheticText
{
    private static readonly string[] Words =
    (
        "the of and to a in is it you that he was for on are with as I his they be at one have this from or had by " +
        "word but what some we can out other were all there when up use your how said an each she which do their time " +
        "if will way about many then them write would like so these her long make thing see him two has look more day " +
        "could go come did number sound no most people my over know water than call first who may down side been now " +
        "find any new work part take get place made live where after back little only round man year came show every " +
        "good me give our under name very through just form sentence great think say help low line differ turn cause " +
        "much mean before move right boy old too same tell does set three want air well also play small end put home " +
        "read hand port large spell add even land here must big high such follow act why ask men change went light " +
        "kind off need house picture try us again animal point mother world near build self earth father head stand " +
        "own page should country found answer school grow study still learn plant cover food sun four between state " +
        "keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late run " +
        "don't while press close night real life few north open seem together next white children begin got walk " +
        "example ease paper group always music those both mark often letter until mile river car feet care second " +
        "book carry took science eat room friend began idea fish mountain stop once base hear horse cut sure watch " +
        "color face wood main enough plain girl usual young ready above ever red list though feel talk bird soon body " +
        "dog family direct pose leave song measure door product black short numeral class wind question happen " +
        "complete ship area half rock order fire south problem piece told knew pass since top whole king space heard " +
        "best hour better true during hundred five remember step early hold west ground interest reach fast verb sing " +
        "listen six table travel less morning ten simple several vowel toward war lay against pattern slow center love " +
        "person money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly " +
        "fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done beauty " +
        "drive stood contain front teach week final gave green oh quick develop ocean warm free minute strong special " +
        "mind behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object " +
        "decide surface deep moon island foot system busy test record boat common gold possible plane stead dry wonder " +
        "laugh thousand ago ran check game shape equate hot miss brought heat snow tire bring yes distant fill east " +
        "paint language among café naïve über"
    ).Split(' ');

    /// <summary>About <paramref name="characters"/> characters of text in paragraphs, deterministic for a seed.</summary>
    public static string Generate(int characters, int seed = 7)
    {
        var random = new Random(seed);
        // Zipf-like weights: cumulative 1/(rank+1).
        var cumulative = new double[Words.Length];
        double total = 0;
        for (int i = 0; i < Words.Length; i++) cumulative[i] = total += 1.0 / (i + 1);

        var builder = new StringBuilder(characters + 200);
        while (builder.Length < characters)
        {
            int sentences = random.Next(2, 6);
            for (int s = 0; s < sentences; s++)
            {
                int length = random.Next(4, 18);
                for (int w = 0; w < length; w++)
                {
                    int k = Array.BinarySearch(cumulative, random.NextDouble() * total);
                    string word = Words[Math.Min(k < 0 ? ~k : k, Words.Length - 1)];
                    if (w == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
                    builder.Append(word);
                    int roll = random.Next(100);
                    if (roll < 5) builder.Append(',');
                    else if (roll < 7) builder.Append(' ').Append(random.Next(0, 2000));
                    if (w < length - 1) builder.Append(' ');
                }
                builder.Append(random.Next(10) switch { 0 => "?", 1 => "!", _ => "." });
                builder.Append(' ');
            }
            builder.Append(random.Next(8) == 0 ? "\n\n    int x = 42;\n\n" : "\n\n");
        }
        return builder.ToString();
    }
}

// Python's datetime.strftime for transformers' `strftime_now(format)` global (Llama 3.x dates its system header).
using System.Globalization;
using System.Text;

namespace Rlhf.Text.Templates;

internal static class TemplateStrftime
{
    private static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
    private static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

    /// <summary>Formats with the C locale's names, as Python does by default.</summary>
    public static string Format(DateTime time, string format)
    {
        var b = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { b.Append(format[i]); continue; }
            char code = format[++i];
            string month = Months[time.Month - 1], day = Days[(int)time.DayOfWeek];
            b.Append(code switch
            {
                'a' => day[..3],
                'A' => day,
                'b' or 'h' => month[..3],
                'B' => month,
                'd' => time.Day.ToString("00", CultureInfo.InvariantCulture),
                'e' => time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'm' => time.Month.ToString("00", CultureInfo.InvariantCulture),
                'y' => (time.Year % 100).ToString("00", CultureInfo.InvariantCulture),
                'Y' => time.Year.ToString(CultureInfo.InvariantCulture),
                'H' => time.Hour.ToString("00", CultureInfo.InvariantCulture),
                'I' => ((time.Hour + 11) % 12 + 1).ToString("00", CultureInfo.InvariantCulture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'M' => time.Minute.ToString("00", CultureInfo.InvariantCulture),
                'S' => time.Second.ToString("00", CultureInfo.InvariantCulture),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture),
                'j' => time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => throw new InvalidOperationException($"strftime_now: the directive '%{code}' is not supported."),
            });
        }
        return b.ToString();
    }
}

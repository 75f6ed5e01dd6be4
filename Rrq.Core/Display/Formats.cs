namespace Rrq.Display;

/// <summary>How times are shown to people, the same in the dashboard and in <c>rrq-worker info</c>.</summary>
internal static class Formats
{
    /// <summary>How long ago, in the largest unit that says it: "now" under a second, then s, min, h (up to two days), d.</summary>
    public static string Ago(TimeSpan t) => t.TotalSeconds < 1 ? "now"
        : t.TotalSeconds < 60 ? $"{t.TotalSeconds:0} s ago"
        : t.TotalMinutes < 60 ? $"{t.TotalMinutes:0} min ago"
        : t.TotalHours < 48 ? $"{t.TotalHours:0} h ago" : $"{t.TotalDays:0} d ago";
}

using System.Net;

namespace Rrq.Display;

// Polyglot Notebooks (.NET Interactive) find formatters by convention: a type carrying an attribute
// named TypeFormatterSourceAttribute whose FormatterSourceType has CreateTypeFormatters(), each
// formatter having MimeType and Format(object, TextWriter). Declaring them here keeps Rrq free of
// any notebook package; outside a notebook they are inert.

/// <summary>Names the class that makes the notebook formatters of the type it decorates.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Enum, Inherited = true)]
internal sealed class TypeFormatterSourceAttribute(Type formatterSourceType) : Attribute
{
    public Type FormatterSourceType { get; } = formatterSourceType;

    public string[] PreferredMimeTypes { get; set; } = ["text/html"];
}

/// <summary>The HTML and plain-text formatters of Rrq's public types.</summary>
internal sealed class RrqFormatterSource
{
#pragma warning disable CA1822 // Found by name by .NET Interactive, as an instance method.
    public IEnumerable<object> CreateTypeFormatters()
#pragma warning restore CA1822
    {
        yield return new ConventionFormatter("text/html", RrqHtml.TryWrite);
        yield return new ConventionFormatter("text/plain", RrqHtml.TryWriteText);
    }
}

/// <summary>One formatter, in the shape .NET Interactive looks for.</summary>
internal sealed class ConventionFormatter(string mimeType, Func<object, TextWriter, bool> format)
{
    public string MimeType { get; } = mimeType;

    public bool Format(object instance, TextWriter writer) => format(instance, writer);
}

/// <summary>Small, readable HTML for Rrq's values: a failed task's error with its trace, task
/// info, worker info, statuses and the controller.</summary>
internal static class RrqHtml
{
    public static bool TryWriteText(object instance, TextWriter writer)
    {
        switch (instance)
        {
            case RrqTaskStatus s:
                writer.Write(s.ToRedisString());
                return true;
            case RrqWorkerStatus s:
                writer.Write(s.ToRedisString());
                return true;
            case RrqTaskError or RrqController or RrqValueSnapshot or RrqWorkerInfoDictionary:
                writer.Write(instance.ToString());
                return true;
            default:
                return false;
        }
    }

    public static bool TryWrite(object instance, TextWriter writer)
    {
        switch (instance)
        {
            case RrqTaskErrorGroup g:
                writer.Write($"<div class=\"rrq-error-group\"><b>{E(g.Message)}</b>");
                foreach (var e in g.Errors)
                {
                    WriteError(e, writer);
                }
                writer.Write("</div>");
                return true;
            case RrqTaskError e:
                WriteError(e, writer);
                return true;
            case RrqTaskStatus s:
                writer.Write($"<code>{s.ToRedisString()}</code>");
                return true;
            case RrqWorkerStatus s:
                writer.Write($"<code>{s.ToRedisString()}</code>");
                return true;
            case RrqTaskInfo i:
                Table(writer, "&lt;rrq_task_info&gt;",
                [
                    ("id", Code(i.Id)), ("status", Code(i.Status.ToRedisString())), ("queue", E(i.Queue)),
                    ("separate process", i.SeparateProcess ? "yes" : "no"),
                    ("timeout", i.Timeout is { } t ? E(t.ToString()) : "none"),
                    ("worker", i.Worker is null ? "none" : Code(i.Worker)), ("pid", i.Pid?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"),
                    ("depends on", Ids(i.Depends.Up)), ("depended on by", Ids(i.Depends.Down)),
                    ("retried from", Ids(i.Moved.Up)), ("retried as", Ids(i.Moved.Down)),
                ]);
                return true;
            case RrqWorkerInfo w:
                Table(writer, "&lt;rrq_worker_info&gt;",
                [
                    ("worker", Code(w.WorkerId)), ("host", E(w.Hostname)), ("pid", w.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    ("user", E(w.Username)), ("config", E(w.Config)), ("queues", E(string.Join(", ", w.Queues))),
                    ("rrq", E(w.RrqVersion)), ("runtime", E(w.Runtime)), ("started", E(w.Started.ToString("u", System.Globalization.CultureInfo.InvariantCulture))),
                    ("heartbeat key", w.HeartbeatKey is null ? "none" : Code(w.HeartbeatKey)),
                ]);
                return true;
            case RrqController c:
                writer.Write($"<code>{E(c.ToString())}</code>");
                return true;
            case RrqWorkerInfoDictionary table:
                writer.Write("<table class=\"rrq\"><thead><tr>");
                foreach (var column in RrqWorkerInfoDictionary.Columns)
                {
                    writer.Write($"<th>{column}</th>");
                }
                writer.Write("</tr></thead><tbody>");
                foreach (var w in table.Values)
                {
                    writer.Write("<tr>" + string.Concat(RrqWorkerInfoDictionary.Row(w).Select((cell, i) => i == 0 ? $"<td>{Code(cell)}</td>" : $"<td>{E(cell)}</td>")) + "</tr>");
                }
                writer.Write("</tbody></table>");
                return true;
            case RrqValueSnapshot v when v.Value is IReadOnlyDictionary<string, object?> members:
                Table(writer, E(v.ToString().Split(' ')[0]),
                    members.Select(m => (E(m.Key), E(RrqValueSnapshot.FormatValue(m.Value)))));
                return true;
            case RrqValueSnapshot v:
                writer.Write($"<code>{E(v.ToString())}</code>");
                return true;
            default:
                return false;
        }
    }

    private static void WriteError(RrqTaskError e, TextWriter writer)
    {
        writer.Write("<div class=\"rrq-task-error\" style=\"border-left: 3px solid #c33; padding-left: 0.6em\">");
        writer.Write($"<b>&lt;rrq_task_error&gt;</b> <code>{e.Status.ToRedisString()}</code><br/>");
        writer.Write($"<b>error:</b> {E(e.Message)}<br/>");
        if (e.From is not null)
        {
            writer.Write($"<b>from:</b> <code>{E(e.From)}</code><br/>");
        }
        if (e.ExceptionType is not null)
        {
            writer.Write($"<b>type:</b> <code>{E(e.ExceptionType)}</code><br/>");
        }
        writer.Write($"<b>task:</b> <code>{E(e.TaskId)}</code> in queue <code>{E(e.QueueId)}</code>");
        if (e.Warnings.Count > 0)
        {
            writer.Write("<br/><b>warnings:</b><ul>");
            foreach (var w in e.Warnings)
            {
                writer.Write($"<li>{E(w)}</li>");
            }
            writer.Write("</ul>");
        }
        if (e.Trace is not null)
        {
            writer.Write($"<details><summary>stack trace</summary><pre>{E(e.Trace)}</pre></details>");
        }
        writer.Write("</div>");
    }

    private static void Table(TextWriter writer, string title, IEnumerable<(string Name, string Html)> rows)
    {
        writer.Write($"<table class=\"rrq\"><thead><tr><th colspan=\"2\">{title}</th></tr></thead><tbody>");
        foreach (var (name, html) in rows)
        {
            writer.Write($"<tr><td>{name}</td><td>{html}</td></tr>");
        }
        writer.Write("</tbody></table>");
    }

    private static string Ids(IReadOnlyList<string> ids) => ids.Count == 0 ? "none" : string.Join(", ", ids.Select(Code));

    private static string Code(string s) => $"<code>{E(s)}</code>";

    private static string E(string s) => WebUtility.HtmlEncode(s);
}

using System.ComponentModel;

// The dashboard's own view models. They are public only because Razor components are (their parameters must be as
// visible as they are); hidden from IntelliSense, and not an API: they change with the pages.
namespace Rrq.Dashboard.Pages;

/// <summary>What every component of a page needs to know: where the dashboard lives, its options, and whether this
/// user may act (retry, cancel, delete; stop, kill).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record PageContext(string Prefix, RrqDashboardOptions Options, bool CanAct);

/// <summary>A task and its status, for a link.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct TaskRef(string Id, RrqTaskStatus Status);

/// <summary>A button of a page: it posts to <paramref name="Url"/> (after <paramref name="Confirm"/>, when set).</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record ActionButton(string Url, string Label, string? Confirm, string Name, bool Danger = false);

/// <summary>The tasks of one group, one page of them.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record TaskListView(string Name, RrqTaskGroup Group, long Page, long Pages, RrqTaskPage Tasks);

/// <summary>Tasks linked to one (its dependencies, or its dependents): the first 100, and how many more.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record LinkedTasks(IReadOnlyList<TaskRef> Shown, int More);

/// <summary>Source lines around a place an error names in the worker environment.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record SourceExcerpt(string Path, int Line, IReadOnlyList<(int Number, string Text)> Lines);

/// <summary>A finished task's outcome: its value, or its error with the .csx lines it names; or why it could not be read.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record OutcomeView(object? Value, RrqTaskError? Error, string? Problem, IReadOnlyList<SourceExcerpt> Sources, long EnvirVersion);

/// <summary>Everything the page of one task shows.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record TaskView(string Id, RrqTaskInfo Info, RrqTaskTimes Times, IReadOnlyList<TaskRef> Chain, LinkedTasks WaitsFor,
    LinkedTasks NeededBy, RrqTaskData? Data, string? DataProblem, object? Progress, OutcomeView? Outcome, IReadOnlyList<string> Warnings,
    IReadOnlyList<string> Log, IReadOnlyList<ActionButton> Actions);

/// <summary>Everything the page of one worker shows.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record WorkerView(string Id, RrqWorkerStatus Status, bool Live, RrqWorkerInfo? Info, IReadOnlyList<string> Tasks,
    IReadOnlyList<RrqWorkerLogEntry> Log, IReadOnlyList<string> Output, IReadOnlyList<ActionButton> Actions);

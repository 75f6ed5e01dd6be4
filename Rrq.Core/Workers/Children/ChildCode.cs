namespace Rrq.Workers;

/// <summary>
/// What a worker hands the child process of a separate-process task, so that the child runs code and
/// never compiles it: the worker environment as compiled assemblies (one file per environment
/// version, read when the child starts), and each task expression as one more assembly (one file per
/// compiled expression). The worker's evaluator writes them (<see cref="IChildCompiler"/>); the
/// child's runtime loads them (<see cref="IChildRuntime"/>). Files are in <see cref="ChildWire"/>'s form.
/// </summary>
internal sealed class ChildAssembly
{
    /// <summary>The assembly's name, as later submissions refer to it.</summary>
    public string Name { get; set; } = "";

    public byte[] Image { get; set; } = [];

    /// <summary>Its portable PDB, which gives traces their <c>.csx</c> files and lines.</summary>
    public byte[]? Symbols { get; set; }

    /// <summary>The type and static method that run it (<c>Func&lt;object[], Task&lt;object&gt;&gt;</c>);
    /// null for a submission with no code.</summary>
    public string? EntryType { get; set; }

    public string? EntryMethod { get; set; }

    internal void Write(BinaryWriter w)
    {
        w.Write(Name);
        ChildWire.WriteBytes(w, Image);
        ChildWire.WriteBytes(w, Symbols);
        ChildWire.WriteNullable(w, EntryType);
        ChildWire.WriteNullable(w, EntryMethod);
    }

    internal static ChildAssembly Read(BinaryReader r) => new()
    {
        Name = r.ReadString(),
        Image = ChildWire.ReadBytes(r) ?? [],
        Symbols = ChildWire.ReadBytes(r),
        EntryType = ChildWire.ReadNullable(r),
        EntryMethod = ChildWire.ReadNullable(r),
    };
}

/// <summary>A worker environment, compiled, as a child loads it.</summary>
internal sealed class ChildEnvironment
{
    private const int Format = 1;

    public long Version { get; set; }

    /// <summary>The environment's submissions, in the order they run.</summary>
    public ChildAssembly[] Submissions { get; set; } = [];

    /// <summary>Assemblies the code refers to by file (<c>#r</c>, the environment's references): names and paths.</summary>
    public string[] ReferenceNames { get; set; } = [];

    public string[] ReferencePaths { get; set; } = [];

    /// <summary>Full source paths, and the paths as the user gave them, for traces.</summary>
    public string[] SourcePaths { get; set; } = [];

    public string[] DisplayPaths { get; set; } = [];

    /// <summary>A trivial expression (<c>__rrq_warm + 1</c>, one int local) compiled against the environment,
    /// which the child runs the whole way while it waits: so a task's first run in the process does not pay
    /// for loading and JIT-compiling the path every task takes.</summary>
    public ChildTaskCode? WarmUp { get; set; }

    public static ChildEnvironment Read(string file) => ChildWire.ReadFile(file, r =>
    {
        if (r.ReadInt32() != Format)
        {
            throw new InvalidDataException("not a compiled environment of this version of Rrq");
        }
        var e = new ChildEnvironment { Version = r.ReadInt64() };
        var n = r.ReadInt32();
        e.Submissions = new ChildAssembly[n];
        for (var i = 0; i < n; i++)
        {
            e.Submissions[i] = ChildAssembly.Read(r);
        }
        (e.ReferenceNames, e.ReferencePaths) = (ChildWire.ReadStrings(r), ChildWire.ReadStrings(r));
        (e.SourcePaths, e.DisplayPaths) = (ChildWire.ReadStrings(r), ChildWire.ReadStrings(r));
        e.WarmUp = r.ReadBoolean() ? ChildTaskCode.Read(r) : null;
        return e;
    });

    public void Write(string file) => ChildWire.WriteFile(file, w =>
    {
        w.Write(Format);
        w.Write(Version);
        w.Write(Submissions.Length);
        foreach (var s in Submissions)
        {
            s.Write(w);
        }
        ChildWire.WriteStrings(w, ReferenceNames);
        ChildWire.WriteStrings(w, ReferencePaths);
        ChildWire.WriteStrings(w, SourcePaths);
        ChildWire.WriteStrings(w, DisplayPaths);
        w.Write(WarmUp is not null);
        WarmUp?.Write(w);
    });
}

/// <summary>One task expression, compiled against an environment for its locals' names and types.</summary>
internal sealed class ChildTaskCode
{
    public string Expression { get; set; } = "";

    /// <summary>The locals in the order the compiled code reads them.</summary>
    public string[] LocalNames { get; set; } = [];

    public ChildAssembly Submission { get; set; } = new();

    /// <summary>Assemblies of the locals' types, beyond the environment's: names and paths.</summary>
    public string[] ReferenceNames { get; set; } = [];

    public string[] ReferencePaths { get; set; } = [];

    /// <summary>The compiler's warnings on the expression.</summary>
    public string[] Warnings { get; set; } = [];

    public static ChildTaskCode Read(string file) => ChildWire.ReadFile(file, Read);

    public void Write(string file) => ChildWire.WriteFile(file, Write);

    internal static ChildTaskCode Read(BinaryReader r) => new()
    {
        Expression = r.ReadString(),
        LocalNames = ChildWire.ReadStrings(r),
        Submission = ChildAssembly.Read(r),
        ReferenceNames = ChildWire.ReadStrings(r),
        ReferencePaths = ChildWire.ReadStrings(r),
        Warnings = ChildWire.ReadStrings(r),
    };

    internal void Write(BinaryWriter w)
    {
        w.Write(Expression);
        ChildWire.WriteStrings(w, LocalNames);
        Submission.Write(w);
        ChildWire.WriteStrings(w, ReferenceNames);
        ChildWire.WriteStrings(w, ReferencePaths);
        ChildWire.WriteStrings(w, Warnings);
    }
}

/// <summary>One task as the worker hands it to its child: the compiled code to run and the locals.
/// Each local is plain or the value codec's bytes (see <see cref="ChildWire"/>).</summary>
internal static class ChildTaskInput
{
    public static void Write(string file, string codeFile, IReadOnlyList<string> names, IReadOnlyDictionary<string, object?> locals,
        IReadOnlyList<byte[]> stored, string? traceParent = null) => ChildWire.WriteFile(file, w =>
    {
        w.Write(codeFile);
        w.Write(traceParent ?? "");
        w.Write(names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            w.Write(names[i]);
            var index = i;
            ChildWire.WriteValue(w, locals[names[i]], () => stored[index]);
        }
    });

    /// <summary>The code file, the locals (codec bytes decoded with <paramref name="decode"/> (name, bytes)) and the
    /// W3C trace context the task's code runs in (null when it has none).</summary>
    public static (string CodeFile, Dictionary<string, object?> Locals, string? TraceParent) Read(string file, Func<string, byte[], object?> decode) =>
        ChildWire.ReadFile(file, r =>
        {
            var code = r.ReadString();
            var trace = r.ReadString();
            var n = r.ReadInt32();
            var locals = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < n; i++)
            {
                var name = r.ReadString();
                locals[name] = ChildWire.ReadValue(r, bytes => decode(name, bytes));
            }
            return (code, locals, trace.Length == 0 ? null : trace);
        });
}

/// <summary>What a child reports: success with its value (plain, or the codec's bytes), or the parts of an
/// error; and the warnings either way. The worker turns it into the stored outcome.</summary>
internal sealed record ChildOutcome(bool Success, object? Plain, byte[]? Stored, RrqEvaluation? Failure, string[] Warnings)
{
    public void Write(string file) => ChildWire.WriteFile(file, w =>
    {
        w.Write(Success);
        ChildWire.WriteStrings(w, Warnings);
        if (Success)
        {
            if (Stored is not null)
            {
                ChildWire.WriteCodec(w, Stored);
            }
            else
            {
                ChildWire.WritePlain(w, Plain);
            }
            return;
        }
        ChildWire.WriteNullable(w, Failure?.Message);
        ChildWire.WriteNullable(w, Failure?.ExceptionType);
        ChildWire.WriteNullable(w, Failure?.From);
        ChildWire.WriteNullable(w, Failure?.Trace);
    });

    public static ChildOutcome Read(string file) => ChildWire.ReadFile(file, r =>
    {
        var success = r.ReadBoolean();
        var warnings = ChildWire.ReadStrings(r);
        if (success)
        {
            byte[]? stored = null;
            var plain = ChildWire.ReadValue(r, b => stored = b);
            return new ChildOutcome(true, stored is null ? plain : null, stored, null, warnings);
        }
        var failure = new RrqEvaluation
        {
            Message = ChildWire.ReadNullable(r),
            ExceptionType = ChildWire.ReadNullable(r),
            From = ChildWire.ReadNullable(r),
            Trace = ChildWire.ReadNullable(r),
            Warnings = warnings,
        };
        return new ChildOutcome(false, null, null, failure, warnings);
    });
}

/// <summary>What the worker's evaluator does for separate-process tasks: compile here, once, what
/// the children run (<c>Rrq.Scripting.RoslynTaskEvaluator</c>).</summary>
internal interface IChildCompiler
{
    /// <summary>Writes the loaded environment, compiled, into <paramref name="directory"/> (once per
    /// version) and returns the file a child is started with.</summary>
    string WriteEnvironment(string directory);

    /// <summary>Compiles an expression for these locals (or takes it from the cache) and writes it into
    /// <paramref name="directory"/>: the file to hand the child, or why it does not compile.</summary>
    (string? File, RrqEvaluation? Failure) WriteTaskCode(string expression, IReadOnlyDictionary<string, object?> locals, string directory);

    /// <summary>Compiles and emits a throwaway script, touching nothing the worker uses: the first compile in a
    /// process loads and JIT-compiles the compiler (a second or more of CPU), and the rrq-worker program does
    /// that before it joins the queue rather than on its first task's clock.</summary>
    void WarmUp();
}

/// <summary>The child's side: load a compiled environment (running its top-level code) and run
/// compiled expressions in it, with no compiler in the process.</summary>
internal interface IChildRuntime
{
    /// <summary>Throws <see cref="RrqEnvirException"/> when the environment's code throws.</summary>
    void LoadEnvironment(ChildEnvironment environment);

    /// <summary>Runs one compiled expression with its locals. Never throws for a failing task.</summary>
    Task<RrqEvaluation> RunAsync(RrqTaskContext context, ChildTaskCode code, IReadOnlyDictionary<string, object?> locals);
}

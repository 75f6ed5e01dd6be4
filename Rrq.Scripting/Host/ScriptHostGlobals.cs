namespace Rrq.Scripting;

/// <summary>What a hosted <c>.csx</c> file sees as globals, as under dotnet-script.</summary>
public sealed class ScriptHostGlobals
{
    /// <summary>Creates the globals with the script's arguments.</summary>
    public ScriptHostGlobals(IList<string> args) => Args = args;

    /// <summary>The arguments after the script's path.</summary>
    public IList<string> Args { get; }
}

namespace Rrq.Envir;

/// <summary>
/// Compiles an environment to check it before it is stored. <c>Rrq.Core</c> has no compiler: when
/// the <c>Rrq.Scripting</c> assembly can be loaded, its implementation is used; otherwise the
/// environment is stored unchecked and workers report errors when they load it.
/// </summary>
internal interface IEnvirValidator
{
    void Validate(RrqEnvirSpec spec);

    static IEnvirValidator? Find()
    {
        var type = Type.GetType("Rrq.Scripting.RoslynEnvirValidator, Rrq.Scripting", throwOnError: false);
        return type is null ? null : Activator.CreateInstance(type) as IEnvirValidator;
    }
}

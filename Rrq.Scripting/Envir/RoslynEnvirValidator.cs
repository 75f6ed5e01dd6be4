using Rrq.Envir;

namespace Rrq.Scripting;

/// <summary>Compiles an environment before the controller stores it (found by Rrq.Core by name).</summary>
internal sealed class RoslynEnvirValidator : IEnvirValidator
{
    public void Validate(RrqEnvirSpec spec) => Envir.CompiledEnvironment.Compile(spec);
}

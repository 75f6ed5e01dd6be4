#!/usr/bin/env bash
# Runs every test against a real redis-server (installed here with apt-get when missing) and real
# rrq-worker processes. Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; then
  echo "redis-server is missing: installing it with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # The package may start a system-wide server on 6379; the tests start their own on a free port.
  ($SUDO service redis-server stop || true) >/dev/null 2>&1
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT=1
# The notebook test runs examples/rrq.ipynb with dotnet-repl, from the tool manifest in .config/.
dotnet tool restore >/dev/null
results=$(mktemp -d)
status=0
dotnet test tests/Rrq.Tests/Rrq.Tests.csproj -c Release --logger "trx;LogFileName=results.trx" \
  --results-directory "$results" -- RunConfiguration.TreatNoTestsAsError=true || status=$?

trx="$results/results.trx"
if [ -f "$trx" ]; then
  passed=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')
  failed=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
else
  passed=0
  failed=1
fi
echo "${passed:-0} passed, ${failed:-0} failed"
exit $status

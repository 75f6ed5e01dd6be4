#!/usr/bin/env bash
# Runs every test against a real redis-server and real rrq-worker processes (the dashboard's in Debian's chromium,
# the Slurm launcher's through a single-node Slurm started here; each installed with apt-get when missing), then the
# life-cycle, retry and fault tests against Garnet, then the packed packages; it executes the example notebook with
# dotnet-repl (from the tool manifest). Ends with one line: "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")"

# openssl makes the TLS tests' certificates; the dashboard tests drive Debian's chromium (no browser is downloaded).
if { ! command -v redis-server >/dev/null 2>&1 && [ ! -x /usr/bin/redis-server ]; } || ! command -v openssl >/dev/null 2>&1 \
   || [ ! -x /usr/bin/chromium ]; then
  echo "redis-server, openssl or chromium is missing: installing them with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server openssl chromium >/dev/null
  # The package may start a system-wide server on 6379; the tests start their own on a free port.
  ($SUDO service redis-server stop || true) >/dev/null 2>&1
fi

# The Slurm tests run workers through a real single-node Slurm (Debian's slurm-wlm and munge), started here and
# stopped at the end (tests/slurm/slurm.sh; its slurm.conf is tests/slurm/slurm.conf.in).
if ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "Slurm is missing: installing slurm-wlm and munge with apt-get" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
  # The packages may start daemons with no configuration; ours start with the tests' own.
  ($SUDO service slurmctld stop; $SUDO service slurmd stop) >/dev/null 2>&1 || true
fi
trap 'tests/slurm/slurm.sh stop' EXIT
if SLURM_CONF=$(tests/slurm/slurm.sh start); then
  export SLURM_CONF
else
  echo "Slurm did not start: the Slurm tests will fail, saying so" >&2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT=1
# The notebook test runs examples/rrq.ipynb with dotnet-repl, from the tool manifest in .config/.
dotnet tool restore >/dev/null
results=$(mktemp -d)
# Test artifacts (the dashboard's screenshots, one per page) are kept here.
export RRQ_ARTIFACTS="$PWD/artifacts"
status=0
total_passed=0
total_failed=0

# run NAME [dotnet test arguments...]: one test run, its counts added to the totals.
run() {
  local name=$1
  shift
  dotnet test tests/Rrq.Tests/Rrq.Tests.csproj -c Release --logger "trx;LogFileName=$name.trx" \
    --results-directory "$results" "$@" -- RunConfiguration.TreatNoTestsAsError=true || status=$?
  local trx="$results/$name.trx" passed failed
  if [ -f "$trx" ]; then
    passed=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')
    failed=$(grep -o '<Counters [^>]*' "$trx" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
  else
    passed=0
    failed=1
  fi
  echo "$name: ${passed:-0} passed, ${failed:-0} failed"
  total_passed=$((total_passed + ${passed:-0}))
  total_failed=$((total_failed + ${failed:-0}))
}

# Every test against a private redis-server; then the life-cycle, retry and fault tests again
# against Garnet (the embedded server), started in the test process; then the packages.
run redis --filter "Category!=Packages"
RRQ_TEST_SERVER=garnet run garnet --no-build --filter "Garnet=yes"
# The packages as users get them: packed into a folder, then used by a fresh app, a fresh notebook and
# `dotnet tool install`. Alone, so that its builds do not compete with the timed tests above.
run packages --no-build --filter "Category=Packages"

[ -d "$RRQ_ARTIFACTS/dashboard" ] && echo "Screenshots of the dashboard's pages: $RRQ_ARTIFACTS/dashboard/"
echo "$total_passed passed, $total_failed failed"
exit $status

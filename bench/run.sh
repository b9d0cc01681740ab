#!/bin/sh
# Runs the benchmarks and writes bench/RESULTS.md. Peer programs (snmptrapd,
# rsyslog, upstream Alertmanager) join the table as their components land;
# each section says what it was measured against.
set -eu
cd "$(dirname "$0")/.."
raw=$(mktemp)
go test -run='^$' -bench=. -benchmem -count=1 -timeout 30m ./... | tee "$raw"

{
  echo "# Benchmark results"
  echo
  echo "Written by \`make bench\` on $(date -u +%Y-%m-%d) ($(nproc) cores, $(go version | cut -d' ' -f3))."
  echo
  echo "## Go benchmarks"
  echo
  echo "| package | benchmark | ns/op | B/op | allocs/op | other |"
  echo "| --- | --- | ---: | ---: | ---: | --- |"
  awk '
    /^pkg: / { pkg = $2; sub(/^github.com\/kusanagi-dev\/kusanagi\//, "", pkg) }
    /^Benchmark/ {
      name = $1; sub(/-[0-9]+$/, "", name)
      ns = ""; bytes = ""; allocs = ""; other = ""
      for (i = 3; i < NF; i += 2) {
        if ($(i+1) == "ns/op") ns = $i
        else if ($(i+1) == "B/op") bytes = $i
        else if ($(i+1) == "allocs/op") allocs = $i
        else other = other $i " " $(i+1) " "
      }
      printf "| %s | %s | %s | %s | %s | %s |\n", pkg, name, ns, bytes, allocs, other
    }' "$raw"
  echo
} > bench/RESULTS.md

# Upstream Alertmanager v0.35.0, built from the module cache
# (bench/upstream-alertmanager.sh).
upstream_dir=$(mktemp -d)
trap 'rm -f "$raw"; rm -rf "$upstream_dir"' EXIT
upstream=$(./bench/upstream-alertmanager.sh "$upstream_dir/alertmanager")
go run ./test/bench/ambench -kusanagi bin/kusanagi -upstream "$upstream" -alerts "${AMBENCH_ALERTS:-100000}" >> bench/RESULTS.md

# SNMP traps, side by side with net-snmp's snmptrapd (Debian package).
command -v snmptrapd >/dev/null || { apt-get update && apt-get install -y snmptrapd; }
echo >> bench/RESULTS.md
go run ./test/bench/trapbench -kusanagi bin/kusanagi >> bench/RESULTS.md

# The embedded log store's two candidates, SQLite FTS5 and Bleve, on the
# same records and queries. The benchmark is a module of its own so that
# only it depends on Bleve.
echo >> bench/RESULTS.md
(cd test/bench/logstorebench && go vet . && go run . -records "${LOGSTORE_RECORDS:-1000000}") >> bench/RESULTS.md

# Syslog, side by side with rsyslog (Debian package; an instance of its own
# writing to a file): UDP rates without loss, TCP throughput, indexing, CPU.
command -v rsyslogd >/dev/null || { apt-get update && apt-get install -y rsyslog; }
echo >> bench/RESULTS.md
go run ./test/bench/syslogbench -kusanagi bin/kusanagi >> bench/RESULTS.md

# Line-to-alert latency of the all-in-one, syslog line to Alertmanager.
echo >> bench/RESULTS.md
go run ./test/bench/latencybench -kusanagi bin/kusanagi >> bench/RESULTS.md
# The chaos harness's last `make chaos` report (it takes a quarter of an
# hour, so make bench does not rerun it).
if [ -f bench/CHAOS.md ]; then
  echo >> bench/RESULTS.md
  cat bench/CHAOS.md >> bench/RESULTS.md
fi
echo "wrote bench/RESULTS.md"

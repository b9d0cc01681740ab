#!/bin/sh
# Runs the benchmarks and writes bench/RESULTS.md. Peer programs (snmptrapd,
# rsyslog, upstream Alertmanager) join the table as their components land;
# each section says what it was measured against.
set -eu
cd "$(dirname "$0")/.."
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
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
  echo "No peer program is compared yet: the components measured against"
  echo "snmptrapd, rsyslog and upstream Alertmanager add their ratio tables here."
} > bench/RESULTS.md
echo "wrote bench/RESULTS.md"

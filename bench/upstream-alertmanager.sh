#!/bin/sh
# Builds upstream Alertmanager v0.35.0 from the module cache into $1 and
# prints its path; its UI assets are not in the module zip, so
# placeholders stand in (the API is what the benchmarks and the chaos
# harness use). Falls back to Debian's prometheus-alertmanager (0.25).
set -eu
out=$1
if go mod download github.com/prometheus/alertmanager@v0.35.0 >/dev/null 2>&1; then
  src=$(mktemp -d)
  cp -r "$(go env GOMODCACHE)/github.com/prometheus/alertmanager@v0.35.0/." "$src"
  chmod -R u+w "$src"
  mkdir -p "$src/ui/app/dist/elm" "$src/ui/app/dist/mantine"
  echo placeholder > "$src/ui/app/dist/elm/index.html"
  echo placeholder > "$src/ui/app/dist/mantine/index.html"
  if (cd "$src" && go build -o "$out" ./cmd/alertmanager) >&2; then
    rm -rf "$src"
    echo "$out"
    exit 0
  fi
  rm -rf "$src"
fi
echo "upstream v0.35.0 did not build; falling back to Debian's prometheus-alertmanager" >&2
command -v prometheus-alertmanager >/dev/null || { apt-get update >&2 && apt-get install -y prometheus-alertmanager >&2; }
command -v prometheus-alertmanager

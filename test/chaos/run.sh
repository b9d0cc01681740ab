#!/bin/sh
# `make chaos`: five 60 s seeds of the schedule on one etcd and on three,
# and the same schedule against upstream Alertmanager v0.35 in gossip
# mode; writes bench/CHAOS.md (make bench adds it to bench/RESULTS.md).
set -eu
cd "$(dirname "$0")/../.."
seeds=${CHAOS_SEEDS:-1,2,3,4,5}
duration=${CHAOS_DURATION:-60s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/chaos" ./test/chaos
upstream=$(./bench/upstream-alertmanager.sh "$tmp/alertmanager")
status=0
for target in "-etcd 1" "-etcd 3" "-upstream $upstream"; do
  # shellcheck disable=SC2086
  "$tmp/chaos" -kusanagi bin/kusanagi -seeds "$seeds" -duration "$duration" $target > "$tmp/$(echo "$target" | tr -c 'a-z0-9' _).md" || status=1
done
{
  echo "## Chaos: kill -9 and cuts while alerts flow (make chaos, $(date -u +%Y-%m-%d))"
  echo
  echo "\`test/chaos\`: three replicas as real processes, a recording webhook (it answers after 300 ms, so a notification is in flight long enough for a kill to land in it), alerts posted 5 every half second (each to one random replica; upstream: to every live replica, as Prometheus does), a quarter resolved at random, and about every 5 s (seeded) one of: kill -9 of a random replica restarted a second later, kill -9 of an etcd member restarted two seconds later (with three), a replica cut from etcd for twice its session TTL (\`--etcd.session-ttl=2s --cluster.peer-timeout=1s\`, group_wait 1s, group_interval 2s, repeat_interval 1h). A duplicate is explained when the sender of the first delivery was killed or cut from etcd while that delivery was in flight: the receiver had it, the sender could not record it."
  echo
  echo "| target | alerts | resolves | notifications | kills and cuts | lost | lost resolves | duplicates | unexplained | longest POST → firing notification |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  cat "$tmp"/*.md | grep -E '^\| (Kusanagi|upstream).*seeds'
  echo
  echo "### Each run"
  cat "$tmp"/*.md | grep -vE '^\| (Kusanagi|upstream).*seeds'
} > bench/CHAOS.md
echo "wrote bench/CHAOS.md"
exit $status

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// result is what the checker found.
type result struct {
	o                         options
	alerts, resolves          int
	lost, lostResolves        []string
	notifications             int
	duplicates, unexplained   []string // instance, status and why
	sentWhileCut              []string // deliveries a replica began while cut from etcd
	slowest                   string   // the alert of longestFire
	kills, killsExplaining    int
	longestFire, longestClear time.Duration
	bound                     time.Duration
	deliveriesBySender        map[string]int
}

// check compares what was posted with what the webhook received. A
// notification of an alert's firing (or resolve) beyond the first is a
// duplicate; it is explained when the sender of the delivery before it
// was killed while that delivery was in flight (the receiver had taken
// the request, the sender never saw the answer), at most one per kill.
func (c *cluster) check(start time.Time) *result {
	c.mu.Lock()
	defer c.mu.Unlock()
	res := &result{o: c.o, kills: len(c.kills), deliveriesBySender: map[string]int{},
		bound: c.o.sessionTTL + c.o.peerTimeout + c.o.groupWait}
	type key struct{ inst, status string }
	got := map[key][]delivery{}
	for _, d := range c.hook.all() {
		for _, kl := range c.kills {
			if kl.cut && kl.replica == d.Sender && d.Began.After(kl.at.Add(markSentSlack)) && (kl.until.IsZero() || d.Began.Before(kl.until)) {
				res.sentWhileCut = append(res.sentWhileCut, fmt.Sprintf("%s %v sent by %s at %s, cut from etcd since %s",
					d.Status, d.Instances, short(d.Sender), d.Began.Format("15:04:05.000"), kl.at.Format("15:04:05.000")))
			}
		}
		res.notifications++
		res.deliveriesBySender[d.Sender]++
		for _, inst := range d.Instances {
			got[key{inst, d.Status}] = append(got[key{inst, d.Status}], d)
		}
	}
	usedKill := map[int]bool{} // kills that explained a duplicate
	insts := make([]string, 0, len(c.alerts))
	for inst := range c.alerts {
		insts = append(insts, inst)
	}
	slices.Sort(insts)
	for _, inst := range insts {
		p := c.alerts[inst]
		res.alerts++
		fired := got[key{inst, "firing"}]
		if len(fired) == 0 {
			res.lost = append(res.lost, inst)
		} else {
			if d := fired[0].Began.Sub(p.firedAt); d > res.longestFire {
				res.longestFire = d
				res.slowest = fmt.Sprintf("%s posted at %s, first notified by %s at %s", inst, p.firedAt.Format("15:04:05.000"), short(fired[0].Sender), fired[0].Began.Format("15:04:05.000"))
			}
		}
		if !p.resolvedAt.IsZero() {
			res.resolves++
			cleared := got[key{inst, "resolved"}]
			if len(cleared) == 0 {
				res.lostResolves = append(res.lostResolves, inst)
			} else {
				res.longestClear = max(res.longestClear, cleared[0].Began.Sub(p.resolvedAt))
			}
		}
		for _, status := range []string{"firing", "resolved"} {
			ds := got[key{inst, status}]
			for i := 1; i < len(ds); i++ {
				prev, d := ds[i-1], ds[i]
				why := "no kill explains it"
				explained := false
				for k, kl := range c.kills {
					// A cut lands in flight up to the moment the sender
					// would have marked the notification sent in etcd.
					end := prev.End
					if kl.cut {
						end = end.Add(markSentSlack)
					}
					// A request the sender wrote just before its kill can
					// arrive just after it.
					if kl.replica == prev.Sender && !kl.at.Before(prev.Began.Add(-arrivalSlack)) && !kl.at.After(end) {
						usedKill[k], explained = true, true
						what := "killed"
						if kl.cut {
							what = "cut from etcd"
						}
						why = fmt.Sprintf("its first sender %s was %s at %s, in flight: it could not record the notification as sent", short(prev.Sender), what, kl.at.Format("15:04:05.000"))
						break
					}
				}
				line := fmt.Sprintf("%s %s: sent by %s at %s, again by %s at %s (%s after): %s", inst, status,
					short(prev.Sender), prev.Began.Format("15:04:05.000"), short(d.Sender), d.Began.Format("15:04:05.000"),
					d.Began.Sub(prev.Began).Round(time.Millisecond), why)
				res.duplicates = append(res.duplicates, line)
				if !explained {
					res.unexplained = append(res.unexplained, line)
				}
			}
		}
	}
	res.killsExplaining = len(usedKill)
	return res
}

// markSentSlack is how long after the receiver's answer a sender marks a
// notification sent in etcd, at most (loopback).
const markSentSlack = 200 * time.Millisecond

// arrivalSlack is how long a request on loopback may take to arrive.
const arrivalSlack = 50 * time.Millisecond

func short(url string) string { return strings.TrimPrefix(url, "http://") }

// met tells whether the targets hold: nothing lost, every duplicate
// explained by a kill in flight, and the longest delay within the bound.
func (r *result) met() bool {
	return len(r.lost) == 0 && len(r.lostResolves) == 0 && len(r.unexplained) == 0 && len(r.sentWhileCut) == 0 &&
		(r.o.upstream != "" || r.longestFire <= r.bound+time.Second)
}

func (r *result) markdown() string {
	var b strings.Builder
	target := fmt.Sprintf("kusanagi alertmanager, %d replicas, %d etcd member(s)", r.o.replicas, r.o.members)
	if r.o.upstream != "" {
		target = fmt.Sprintf("upstream Alertmanager, %d replicas, gossip, each alert posted to every live replica", r.o.replicas)
	}
	fmt.Fprintf(&b, "\n### Chaos: %s, seed %d, %s\n\n", target, r.o.seed, r.o.duration)
	b.WriteString("| alerts | resolves | notifications | kills and cuts (of them explaining a duplicate) | lost | lost resolves | duplicates | of them unexplained | longest POST → firing notification | bound (session TTL + peer timeout + group_wait) |\n")
	b.WriteString("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d (%d) | %d | %d | %d | %d | %s | %s |\n\n", r.alerts, r.resolves, r.notifications, r.kills, r.killsExplaining,
		len(r.lost), len(r.lostResolves), len(r.duplicates), len(r.unexplained), r.longestFire.Round(time.Millisecond), r.bound)
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s (%d):\n\n", title, len(items))
		for i, it := range items {
			if i == 20 {
				fmt.Fprintf(&b, "- … %d more\n", len(items)-20)
				break
			}
			fmt.Fprintf(&b, "- %s\n", it)
		}
		b.WriteString("\n")
	}
	if r.slowest != "" {
		fmt.Fprintf(&b, "Slowest: %s.\n\n", r.slowest)
	}
	list("Lost", r.lost)
	list("Lost resolves", r.lostResolves)
	list("Duplicates", r.duplicates)
	list("Sent by a replica cut from etcd", r.sentWhileCut)
	return b.String()
}

// summary is one row over several seeds' runs.
func summary(rs []*result) string {
	var alerts, resolves, notes, kills, lost, lostRes, dups, unexplained int
	var longest time.Duration
	var seeds []string
	for _, r := range rs {
		alerts += r.alerts
		resolves += r.resolves
		notes += r.notifications
		kills += r.kills
		lost += len(r.lost)
		lostRes += len(r.lostResolves)
		dups += len(r.duplicates)
		unexplained += len(r.unexplained)
		longest = max(longest, r.longestFire)
		seeds = append(seeds, fmt.Sprint(r.o.seed))
	}
	o := rs[0].o
	target := fmt.Sprintf("Kusanagi, %d replicas, %d etcd member(s)", o.replicas, o.members)
	if o.upstream != "" {
		target = fmt.Sprintf("upstream v0.35, %d replicas, gossip, each alert posted to every live replica", o.replicas)
	}
	return fmt.Sprintf("\n| %s, seeds %s, %s each | %d | %d | %d | %d | %d | %d | %d | %d | %s |\n", target, strings.Join(seeds, ","), o.duration,
		alerts, resolves, notes, kills, lost, lostRes, dups, unexplained, longest.Round(time.Millisecond))
}

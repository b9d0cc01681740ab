package logeval

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

type captured struct {
	mu     sync.Mutex
	alerts []sender.Alert
}

func (c *captured) Send(a ...sender.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alerts = append(c.alerts, a...)
	return nil
}

func (c *captured) take() []sender.Alert {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.alerts
	c.alerts = nil
	return out
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type harness struct {
	t     *testing.T
	store *embedded.Store
	sent  *captured
	ev    *Evaluator
	rule  Rule
}

func newHarness(t *testing.T, source string) *harness {
	t.Helper()
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(`alerts:
  - name: LinkFlap
    severity: warning
    summary: '{{ $value }} link changes on {{ $labels.host_ip }}'
    logs:
` + source)})
	if errs != nil {
		t.Fatal(errs)
	}
	store, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h := &harness{t: t, store: store, sent: &captured{}}
	h.ev, err = New(Options{Catalogue: func() *rules.Catalogue { return c }, Store: store, Sender: h.sent, ExternalURL: "http://[::1]:9180"})
	if err != nil {
		t.Fatal(err)
	}
	h.rule = Rules(c)[0]
	return h
}

func (h *harness) log(at time.Time, host string) {
	h.t.Helper()
	err := h.store.Write(context.Background(), []logs.Record{{
		Timestamp: at, HostIP: host, Message: "Interface Gi0/1, changed state to down",
		Fields: map[string]string{"event.code": "LINK-3-UPDOWN"},
	}})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) eval(at time.Time) []sender.Alert {
	h.t.Helper()
	if err := h.ev.Eval(context.Background(), h.rule, at); err != nil {
		h.t.Fatal(err)
	}
	return h.sent.take()
}

const countRule = `      - query: 'event.code:"LINK-3-UPDOWN"'
        every: 1m
        window: 5m
        group_by: [host.ip]
        condition: count > 1
        for: 2m
`

func TestPendingFiringResolve(t *testing.T) {
	h := newHarness(t, countRule)
	h.log(t0.Add(10*time.Second), "2001:db8::1")
	h.log(t0.Add(20*time.Second), "2001:db8::1")
	h.log(t0.Add(30*time.Second), "192.0.2.7") // one line only: below the threshold

	if got := h.eval(t0.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("pending must not send: %+v", got)
	}
	if got := h.eval(t0.Add(2 * time.Minute)); len(got) != 0 {
		t.Fatalf("still pending (for: 2m): %+v", got)
	}
	got := h.eval(t0.Add(3 * time.Minute))
	if len(got) != 1 {
		t.Fatalf("after for: %d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if a.Labels["alertname"] != "LinkFlap" || a.Labels["host_ip"] != "2001:db8::1" || a.Labels["severity"] != "warning" {
		t.Fatalf("labels %v", a.Labels)
	}
	if a.Annotations["summary"] != "2 link changes on 2001:db8::1" || a.Annotations["count"] != "2" || a.Annotations["window"] != "5m" {
		t.Fatalf("annotations %v", a.Annotations)
	}
	if !a.StartsAt.Equal(t0.Add(3*time.Minute)) || !a.EndsAt.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("startsAt %v endsAt %v: want fired now, endsAt four intervals ahead", a.StartsAt, a.EndsAt)
	}
	if a.GeneratorURL == "" {
		t.Fatal("no generatorURL")
	}
	if n := strings.Count(a.Annotations["samples"], "changed state to down"); n != 2 || strings.Contains(a.Annotations["samples"], "192.0.2.7") {
		t.Fatalf("samples: %q", a.Annotations["samples"])
	}
	st := h.ev.Status()
	if len(st) != 1 || len(st[0].Groups) != 2 {
		t.Fatalf("status: %+v", st)
	}
	states := map[string]string{}
	for _, g := range st[0].Groups {
		states[g.Group["host.ip"]] = g.State
	}
	if states["2001:db8::1"] != "firing" || states["192.0.2.7"] != "inactive" {
		t.Fatalf("group states %v", states)
	}
	// Re-sent every evaluation while it holds.
	if got := h.eval(t0.Add(4 * time.Minute)); len(got) != 1 || !got[0].StartsAt.Equal(a.StartsAt) {
		t.Fatalf("re-send: %+v", got)
	}
	// The lines leave the 5m window at 5m20s: resolved explicitly.
	got = h.eval(t0.Add(6 * time.Minute))
	if len(got) != 1 || !got[0].EndsAt.Equal(t0.Add(6*time.Minute)) {
		t.Fatalf("resolve: %+v", got)
	}
	if got := h.eval(t0.Add(7 * time.Minute)); len(got) != 0 {
		t.Fatalf("resolved alert sent again: %+v", got)
	}
}

func TestKeepFiringFor(t *testing.T) {
	h := newHarness(t, `      - query: 'event.code:"LINK-3-UPDOWN"'
        window: 1m
        group_by: [host.ip]
        keep_firing_for: 2m
`)
	h.log(t0.Add(10*time.Second), "192.0.2.7")
	if got := h.eval(t0.Add(time.Minute)); len(got) != 1 {
		t.Fatalf("fire: %+v", got)
	}
	for _, m := range []time.Duration{2, 3} {
		if got := h.eval(t0.Add(m * time.Minute)); len(got) != 1 || !got[0].EndsAt.After(t0.Add(m*time.Minute)) {
			t.Fatalf("at %dm, within keep_firing_for: %+v", m, got)
		}
	}
	if got := h.eval(t0.Add(4 * time.Minute)); len(got) != 1 || !got[0].EndsAt.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("resolve after keep_firing_for: %+v", got)
	}
}

func TestFlatline(t *testing.T) {
	h := newHarness(t, `      - query: 'event.code:"LINK-3-UPDOWN"'
        window: 1m
        group_by: [host.ip]
        condition: count < 1
`)
	h.log(t0.Add(10*time.Second), "192.0.2.7")
	if got := h.eval(t0.Add(time.Minute)); len(got) != 0 {
		t.Fatalf("the group logs: no alert: %+v", got)
	}
	got := h.eval(t0.Add(2 * time.Minute))
	if len(got) != 1 || got[0].Labels["host_ip"] != "192.0.2.7" || got[0].Annotations["count"] != "0" {
		t.Fatalf("the group went quiet: %+v", got)
	}
	h.log(t0.Add(2*time.Minute+30*time.Second), "192.0.2.7")
	if got := h.eval(t0.Add(3 * time.Minute)); len(got) != 1 || got[0].EndsAt.After(t0.Add(3*time.Minute)) {
		t.Fatalf("it logs again: resolve: %+v", got)
	}
}

func TestSpike(t *testing.T) {
	h := newHarness(t, `      - query: 'event.code:"LINK-3-UPDOWN"'
        window: 1m
        group_by: [host.ip]
        condition: spike >= 3
`)
	h.log(t0.Add(10*time.Second), "192.0.2.7")
	for i := range 4 {
		h.log(t0.Add(time.Minute+time.Duration(i+1)*time.Second), "192.0.2.7")
	}
	got := h.eval(t0.Add(2 * time.Minute))
	if len(got) != 1 || got[0].Annotations["count"] != "4" {
		t.Fatalf("4 lines after 1: spike of 4: %+v", got)
	}
}

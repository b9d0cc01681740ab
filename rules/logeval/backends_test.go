package logeval

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// step of a scenario: records written, or an evaluation at a time.
type step struct {
	write []logs.Record
	eval  time.Duration // after t0
}

func line(at time.Duration, host, code, msg string) logs.Record {
	return logs.Record{Timestamp: t0.Add(at), HostIP: host, Message: msg, Fields: map[string]string{"event.code": code}}
}

// backendScenarios are catalogue log rules of each kind (a count above a
// threshold per group with for:, a flatline, a spike, a text and CIDR
// query grouped by two fields) with the lines and evaluations that make
// them fire and resolve.
var backendScenarios = []struct {
	name, source string
	steps        []step
}{
	{"count above threshold", `      - query: 'event.code:"LINK-3-UPDOWN" AND message:"changed state to down"'
        every: 1m
        window: 5m
        group_by: [host.ip]
        condition: count > 1
        for: 2m
`, []step{
		{write: []logs.Record{
			line(10*time.Second, "2001:db8::1", "LINK-3-UPDOWN", "Interface Gi0/1, changed state to down"),
			line(20*time.Second, "2001:db8::1", "LINK-3-UPDOWN", "Interface Gi0/2, changed state to down"),
			line(25*time.Second, "2001:db8::1", "LINK-3-UPDOWN", "Interface Gi0/2, changed state to up"),
			line(30*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "Interface Gi0/1, changed state to down"),
		}},
		{eval: time.Minute}, {eval: 2 * time.Minute}, {eval: 3 * time.Minute}, {eval: 4 * time.Minute}, {eval: 6 * time.Minute}, {eval: 7 * time.Minute},
	}},
	{"flatline", `      - query: 'event.code:"LINK-3-UPDOWN"'
        window: 1m
        group_by: [host.ip]
        condition: count < 1
`, []step{
		{write: []logs.Record{line(10*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "Interface Gi0/1, changed state to down")}},
		{eval: time.Minute}, {eval: 2 * time.Minute},
		{write: []logs.Record{line(2*time.Minute+30*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "Interface Gi0/1, changed state to up")}},
		{eval: 3 * time.Minute},
	}},
	{"spike", `      - query: 'event.code:"LINK-3-UPDOWN"'
        window: 1m
        group_by: [host.ip]
        condition: spike >= 3
`, []step{
		{write: []logs.Record{
			line(10*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "down"),
			line(61*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "down"), line(62*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "down"),
			line(63*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "down"), line(64*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "down"),
			line(65*time.Second, "192.0.2.8", "LINK-3-UPDOWN", "down"),
		}},
		{eval: 2 * time.Minute}, {eval: 3 * time.Minute},
	}},
	{"text and CIDR grouped by two fields", `      - query: 'message:Gigabit* AND NOT message:up AND host.ip:10.0.0.0/8'
        window: 2m
        group_by: [host.ip, event.code]
`, []step{
		{write: []logs.Record{
			line(5*time.Second, "10.1.1.1", "LINK-3-UPDOWN", "Interface GigabitEthernet0/1, changed state to down"),
			line(6*time.Second, "10.1.1.1", "LINEPROTO-5-UPDOWN", "Line protocol on Interface GigabitEthernet0/1, changed state to down"),
			line(7*time.Second, "10.1.1.2", "LINK-3-UPDOWN", "Interface GigabitEthernet0/3, changed state to up"),
			line(8*time.Second, "192.0.2.7", "LINK-3-UPDOWN", "Interface GigabitEthernet0/4, changed state to down"),
		}},
		{eval: time.Minute}, {eval: 3 * time.Minute},
	}},
}

// alertsOn plays a scenario on a store and returns what was sent at each
// evaluation, in a stable order.
func alertsOn(t *testing.T, store logs.Store, source string, steps []step) [][]sender.Alert {
	t.Helper()
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(`alerts:
  - name: LinkFlap
    severity: warning
    summary: '{{ $value }} lines on {{ $labels.host_ip }}'
    logs:
` + source)})
	if errs != nil {
		t.Fatal(errs)
	}
	sent := &captured{}
	ev, err := New(Options{Catalogue: func() *rules.Catalogue { return c }, Store: store, Sender: sent, ExternalURL: "http://[::1]:9180"})
	if err != nil {
		t.Fatal(err)
	}
	rule := Rules(c)[0]
	var out [][]sender.Alert
	for _, s := range steps {
		if s.write != nil {
			if err := store.Write(context.Background(), s.write); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := ev.Eval(context.Background(), rule, t0.Add(s.eval)); err != nil {
			t.Fatal(err)
		}
		got := sent.take()
		slices.SortFunc(got, func(a, b sender.Alert) int { return strings.Compare(fmt.Sprint(a.Labels), fmt.Sprint(b.Labels)) })
		out = append(out, got)
	}
	return out
}

// TestRulesSameOnElasticsearch evaluates the catalogue's kinds of log rule
// on the embedded store and on the Elasticsearch backend (through its wire
// format, on the test server) and gets the same alerts from both.
func TestRulesSameOnElasticsearch(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	for i, sc := range backendScenarios {
		t.Run(sc.name, func(t *testing.T) {
			emb, err := embedded.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer emb.Close()
			es := startElasticsearch(t, srv.URL(), fmt.Sprintf("logs-kusanagi-rules%d", i))
			want := alertsOn(t, emb, sc.source, sc.steps)
			got := alertsOn(t, es, sc.source, sc.steps)
			fired := 0
			for _, a := range want {
				fired += len(a)
			}
			if fired == 0 {
				t.Fatal("the scenario raises no alert on the embedded store: it proves nothing")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("alerts per evaluation differ:\nelasticsearch %+v\nembedded      %+v", got, want)
			}
		})
	}
}

func startElasticsearch(t *testing.T, url, stream string) *elasticsearch.Store {
	t.Helper()
	s, err := elasticsearch.New(elasticsearch.Options{URLs: []string{url}, DataStream: stream, SpoolDir: t.TempDir(), Refresh: "wait_for"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		s.Close()
	})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Elasticsearch store not ready")
	}
	return s
}

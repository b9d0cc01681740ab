package amfork

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

// webhook is a receiver on loopback that records every notification.
type webhook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []webhookMessage
}

type webhookMessage struct {
	Status   string `json:"status"`
	GroupKey string `json:"groupKey"`
	Alerts   []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var m webhookMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.msgs = append(w.msgs, m)
		w.mu.Unlock()
	}))
	w.srv.Listener = ln
	w.srv.Start()
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) messages() []webhookMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]webhookMessage(nil), w.msgs...)
}

// config writes an Alertmanager configuration with short timers.
func writeConfig(t *testing.T, hookURL, groupWait string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: %s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: '%s'
        send_resolved: true
`, groupWait, hookURL)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type replica struct {
	name   string
	am     *Alertmanager
	reg    *prometheus.Registry
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startReplica(t *testing.T, name, configFile string, endpoints []string) *replica {
	t.Helper()
	return startReplicaWaiting(t, name, configFile, endpoints, 500*time.Millisecond)
}

// startReplicaWaiting starts a replica whose non-leader wait is peerTimeout;
// a tiny wait leaves the claims alone to prevent duplicates.
func startReplicaWaiting(t *testing.T, name, configFile string, endpoints []string, peerTimeout time.Duration) *replica {
	t.Helper()
	reg := prometheus.NewRegistry()
	am, err := New(Options{
		ConfigFile:    configFile,
		StoragePath:   t.TempDir(),
		ListenAddress: "[::1]:0",
		PeerName:      name,
		PeerTimeout:   peerTimeout,
		Etcd:          EtcdOptions{Endpoints: endpoints, SessionTTL: 2 * time.Second, Prefix: "/test/am/"},
		Registerer:    reg,
		Gatherer:      reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{name: name, am: am, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- am.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 30*time.Second)
	defer acancel()
	addr, err := am.Addr(actx)
	if err != nil {
		t.Fatalf("replica %s did not start: %v", name, err)
	}
	r.url = "http://" + addr.String()
	t.Cleanup(r.stop)
	return r
}

func (r *replica) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // let a second stop return
}

func (r *replica) postAlerts(t *testing.T, body string) {
	t.Helper()
	resp, err := http.Post(r.url+"/api/v2/alerts", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST alerts to %s: %d %s", r.name, resp.StatusCode, b)
	}
}

type apiAlert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Status      struct {
		State      string   `json:"state"`
		SilencedBy []string `json:"silencedBy"`
	} `json:"status"`
}

func (r *replica) alerts(t *testing.T) []apiAlert {
	t.Helper()
	return getJSON[[]apiAlert](t, r.url+"/api/v2/alerts")
}

// getJSON decodes what a GET of url answers.
func getJSON[T any](t *testing.T, url string) T {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out T
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %d: %v", url, resp.StatusCode, err)
	}
	return out
}

func startEtcd(t *testing.T) []string {
	t.Helper()
	e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Endpoints()
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func metricValue(t *testing.T, r *replica, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// proxy forwards TCP to etcd until cut, standing in for a network link.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	isCut  bool
}

func newProxy(t *testing.T, targetURL string) *proxy {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: u.Host}
	go p.serve()
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.isCut {
			p.mu.Unlock()
			in.Close()
			out.Close()
			return
		}
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close() }()
		go func() { io.Copy(in, out); in.Close() }()
	}
}

// cut drops every connection and refuses new ones: the replica behind it
// can no longer reach etcd.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startEtcdCluster starts n embedded etcd members forming one cluster and
// returns their client URLs.
func startEtcdCluster(t *testing.T, n int) []string {
	t.Helper()
	var peers, clients, initial []string
	for i := range n {
		peers = append(peers, fmt.Sprintf("http://[::1]:%d", freePort(t)))
		clients = append(clients, fmt.Sprintf("http://[::1]:%d", freePort(t)))
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i]))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{
				Dir: t.TempDir(), Name: fmt.Sprintf("m%d", i),
				ClientURL: clients[i], PeerURL: peers[i], InitialCluster: strings.Join(initial, ","),
			})
			errs[i] = err
			if err == nil {
				t.Cleanup(e.Close)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return clients
}

// createSilence silences alertname for an hour through r's API and returns
// the silence's ID.
func createSilence(t *testing.T, r *replica, alertname string) string {
	t.Helper()
	now := time.Now().UTC()
	sil := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":%q,"isRegex":false,"isEqual":true}],
		"startsAt":%q,"endsAt":%q,"createdBy":"test","comment":"planned work"}`,
		alertname, now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	resp, err := http.Post(r.url+"/api/v2/silences", "application/json", strings.NewReader(sil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != 200 || created.SilenceID == "" {
		t.Fatalf("create silence on %s: %d %+v %v", r.name, resp.StatusCode, created, err)
	}
	return created.SilenceID
}

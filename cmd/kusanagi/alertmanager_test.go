package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

func amConfig(t *testing.T, hookURL, groupWait string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertmanager.yml")
	writeFile(t, path, fmt.Sprintf(`route:
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
`, groupWait, hookURL))
	return path
}

// startAM starts `kusanagi alertmanager` and returns its base URL.
func startAM(t *testing.T, args ...string) (*process, string) {
	t.Helper()
	p := startKusanagi(t, append([]string{"alertmanager", "--web.listen-address=[::1]:0"}, args...)...)
	addr := p.waitLog(`msg="alertmanager ready".* address=(\S+)`)[1]
	return p, "http://" + addr
}

func postJSON(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestAlertmanagerKill9Restart kills the process with SIGKILL and checks
// that the restarted one serves every alert and silence as soon as it
// answers, from the embedded etcd in --storage.path.
func TestAlertmanagerKill9Restart(t *testing.T) {
	storage := t.TempDir()
	cfg := amConfig(t, "http://[::1]:1/", "1h")
	p, base := startAM(t, "--config.file="+cfg, "--storage.path="+storage)

	var alerts []string
	for i := range 500 {
		alerts = append(alerts, fmt.Sprintf(`{"labels":{"alertname":"LinkDown","instance":"sw%d"}}`, i))
	}
	if code, body := postJSON(t, base+"/api/v2/alerts", "["+strings.Join(alerts, ",")+"]"); code != 200 {
		t.Fatalf("post alerts: %d %s", code, body)
	}
	now := time.Now().UTC()
	code, body := postJSON(t, base+"/api/v2/silences", fmt.Sprintf(`{"matchers":[{"name":"instance","value":"sw1","isRegex":false}],
		"startsAt":%q,"endsAt":%q,"createdBy":"t","comment":"c"}`, now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339)))
	if code != 200 {
		t.Fatalf("post silence: %d %s", code, body)
	}

	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()

	begin := time.Now()
	_, base = startAM(t, "--config.file="+cfg, "--storage.path="+storage)
	var got []map[string]any
	getJSON(t, base+"/api/v2/alerts", &got)
	var sils []map[string]any
	getJSON(t, base+"/api/v2/silences", &sils)
	took := time.Since(begin)
	t.Logf("after kill -9: %d alerts and %d silences served %s after the restart began", len(got), len(sils), took)
	if len(got) != 500 || len(sils) != 1 {
		t.Fatalf("after kill -9 and restart: %d alerts, %d silences; want 500 and 1", len(got), len(sils))
	}
}

// TestMetricsShowTheEmbeddedEtcd: with its etcd embedded, /metrics carries
// the member's etcd_* series (an operator's view of WAL fsyncs and database
// size); with an external etcd it carries none, since they would be zeros.
func TestMetricsShowTheEmbeddedEtcd(t *testing.T) {
	cfg := amConfig(t, "http://[::1]:1/", "1h")
	_, embedded := startAM(t, "--config.file="+cfg, "--storage.path="+t.TempDir())
	if code, body := postJSON(t, embedded+"/api/v2/alerts", `[{"labels":{"alertname":"LinkDown","instance":"sw1"}}]`); code != 200 {
		t.Fatalf("post alerts: %d %s", code, body)
	}
	_, body := httpDo(t, "GET", embedded+"/metrics")
	fsyncs := regexp.MustCompile(`(?m)^etcd_disk_wal_fsync_duration_seconds_count ([0-9]+)$`).FindStringSubmatch(body)
	if fsyncs == nil || fsyncs[1] == "0" {
		t.Errorf("embedded etcd: no WAL fsync counted in /metrics (%v)", fsyncs)
	}
	for _, series := range []string{"etcd_mvcc_db_total_size_in_bytes ", "etcd_server_has_leader 1", "alertmanager_alerts_received_total{status=\"firing\",version=\"v2\"} 1", "kusanagi_alertstore_"} {
		if !strings.Contains(body, "\n"+series) {
			t.Errorf("embedded etcd: /metrics has no %q", series)
		}
	}

	e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the process, which cleans up first: an etcd closed under
	// a connected client waits for its streams to time out.
	t.Cleanup(func() { e.Close() })
	_, external := startAM(t, "--config.file="+cfg, "--storage.path="+t.TempDir(), "--etcd.endpoints="+strings.Join(e.Endpoints(), ","))
	_, body = httpDo(t, "GET", external+"/metrics")
	if strings.Contains(body, "\netcd_") || !strings.Contains(body, "\nkusanagi_alertstore_") {
		t.Errorf("external etcd: /metrics should have kusanagi_alertstore_* and no etcd_* series:\n%s", body)
	}
}

// TestAutoGoMemLimit: upstream's --auto-gomemlimit flags set the Go
// runtime's memory limit to the share asked of the cgroup's limit, or else
// of the machine's memory, and refuse a share outside (0, 1].
func TestAutoGoMemLimit(t *testing.T) {
	detected, err := memlimit.ApplyFallback(memlimit.FromCgroup, memlimit.FromSystem)()
	if err != nil {
		t.Fatalf("this machine's memory limit: %v", err)
	}
	cfg := amConfig(t, "http://[::1]:1/", "1h")
	_, base := startAM(t, "--config.file="+cfg, "--storage.path="+t.TempDir(), "--auto-gomemlimit", "--auto-gomemlimit.ratio=0.5")
	_, body := httpDo(t, "GET", base+"/metrics")
	m := regexp.MustCompile(`(?m)^go_gc_gomemlimit_bytes (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no go_gc_gomemlimit_bytes in /metrics")
	}
	got, err := strconv.ParseFloat(m[1], 64)
	if want := float64(detected) / 2; err != nil || math.Abs(got-want) > 1<<20 {
		t.Errorf("GOMEMLIMIT %s, want half of %d", m[1], detected)
	}

	for _, bad := range []string{"--auto-gomemlimit.ratio=1.5", "--auto-gomemlimit.ratio=0"} {
		code, _, stderr := runCLI(t, "alertmanager", "--auto-gomemlimit", bad, "--storage.path="+t.TempDir())
		if code != 2 || !strings.Contains(stderr, "--auto-gomemlimit.ratio must be greater than 0 and at most 1") {
			t.Errorf("%s: exit %d, stderr %q", bad, code, stderr)
		}
	}
}

// countingHook records notifications per group key, slowly, so that a
// replica killed while notifying is likely to die mid-send.
type countingHook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	groups map[string]int
	first  map[string][2]time.Time // when the first request of a group began and ended
	total  int
}

func newCountingHook(t *testing.T, delay time.Duration) *countingHook {
	t.Helper()
	h := &countingHook{groups: map[string]int{}, first: map[string][2]time.Time{}}
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		var m struct {
			GroupKey string `json:"groupKey"`
			Status   string `json:"status"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		time.Sleep(delay)
		key := m.GroupKey + " " + m.Status
		h.mu.Lock()
		if h.groups[key] == 0 {
			h.first[key] = [2]time.Time{began, time.Now()}
		}
		h.groups[key]++
		h.total++
		h.mu.Unlock()
	}))
	h.srv.Listener = ln
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// TestKillingTheNotifyingReplicaLosesNothing streams new alert groups into
// a three-replica cluster and kills -9 the notification leader in the
// middle: every group must still be notified, by the replica that takes
// over.
func TestKillingTheNotifyingReplicaLosesNothing(t *testing.T) {
	e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() }) // after the replicas
	hook := newCountingHook(t, 300*time.Millisecond)
	cfg := amConfig(t, hook.srv.URL, "200ms")
	common := []string{"--config.file=" + cfg, "--etcd.endpoints=" + strings.Join(e.Endpoints(), ","),
		"--etcd.session-ttl=2s", "--cluster.peer-timeout=1s"}
	var procs []*process
	var urls []string
	for _, name := range []string{"a", "b", "c"} {
		p, u := startAM(t, append(common, "--cluster.peer-name="+name, "--storage.path="+t.TempDir())...)
		procs = append(procs, p)
		urls = append(urls, u)
		time.Sleep(200 * time.Millisecond) // a becomes the leader
	}

	const groups = 30
	var killedAt time.Time
	for i := range groups {
		target := urls[1+i%2] // post to b and c; a is the one killed
		if code, body := postJSON(t, target+"/api/v2/alerts", fmt.Sprintf(`[{"labels":{"alertname":"Stream%02d","instance":"x"}}]`, i)); code != 200 {
			t.Fatalf("post: %d %s", code, body)
		}
		if i == groups/3 {
			killedAt = time.Now()
			procs[0].cmd.Process.Signal(syscall.SIGKILL)
			procs[0].wait()
			t.Logf("killed the leader after %d groups", i+1)
		}
		time.Sleep(150 * time.Millisecond)
	}
	if killedAt.IsZero() {
		t.Fatal("leader not killed")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		hook.mu.Lock()
		n := len(hook.groups)
		hook.mu.Unlock()
		if n == groups {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d groups notified: a notification was lost", n, groups)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	hook.mu.Lock()
	defer hook.mu.Unlock()
	dups := hook.total - len(hook.groups)
	t.Logf("%d groups, %d notifications, %d duplicates", len(hook.groups), hook.total, dups)
	// A notification the killed replica had sent but whose answer it never
	// got is sent again by the next one: the receiver cannot be asked
	// whether it took it. That is the only duplicate allowed: its first
	// delivery must have been in flight when the kill happened.
	for key, n := range hook.groups {
		if n == 1 {
			continue
		}
		f := hook.first[key]
		if n > 2 || !(f[0].Before(killedAt) && f[1].After(killedAt)) {
			t.Errorf("group %s notified %d times; its first delivery ran %s..%s, the kill was at %s",
				key, n, f[0].Format("15:04:05.000"), f[1].Format("15:04:05.000"), killedAt.Format("15:04:05.000"))
		}
	}
}

// amtoolPath finds the pinned upstream amtool that `make test` installs.
func amtoolPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"../../bin/amtool"} {
		if _, err := os.Stat(p); err == nil {
			abs, _ := filepath.Abs(p)
			return abs
		}
	}
	if p, err := exec.LookPath("amtool"); err == nil {
		return p
	}
	t.Fatal("amtool not found: run `make test` (it installs github.com/prometheus/alertmanager/cmd/amtool@v0.35.0 into bin/)")
	return ""
}

// TestAmtoolAgainstKusanagi drives the Alertmanager with upstream's own
// command-line client.
func TestAmtoolAgainstKusanagi(t *testing.T) {
	amtool := amtoolPath(t)
	cfg := amConfig(t, "http://[::1]:1/", "1h")
	_, base := startAM(t, "--config.file="+cfg, "--storage.path="+t.TempDir())
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(amtool, append([]string{"--alertmanager.url=" + base}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("alert", "add", "alertname=InterfaceDown", "instance=fd00::1", "severity=major", "--annotation=summary=Gi0/1 down")
	if out := run("alert", "query", "alertname=InterfaceDown"); !strings.Contains(out, "InterfaceDown") || !strings.Contains(out, "Gi0/1 down") {
		t.Fatalf("amtool alert query:\n%s", out)
	}
	id := strings.TrimSpace(run("silence", "add", "instance=fd00::1", "--comment=maintenance", "--duration=1h"))
	if out := run("silence", "query"); !strings.Contains(out, id) {
		t.Fatalf("amtool silence query lacks %s:\n%s", id, out)
	}
	if out := run("alert", "query", "--silenced"); !strings.Contains(out, "InterfaceDown") {
		t.Fatalf("alert not silenced:\n%s", out)
	}
	run("silence", "expire", id)
	if out := run("cluster", "show"); !strings.Contains(out, "ready") {
		t.Fatalf("amtool cluster show:\n%s", out)
	}
	cmd := exec.Command(amtool, "check-config", "../../examples/alertmanager.yml")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("amtool check-config examples/alertmanager.yml: %v\n%s", err, out)
	}
}

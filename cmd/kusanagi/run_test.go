package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds kusanagi once per test run, so that signals and exit
// codes are tested on the real process.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kusanagi-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kusanagi")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

type process struct {
	t   *testing.T
	cmd *exec.Cmd
	mu  sync.Mutex
	log strings.Builder
	// logged is closed once the whole log is read: exec.Cmd.Wait closes
	// the pipe when the process exits, and its last lines are lost if
	// Wait comes first.
	logged chan struct{}
}

func startKusanagi(t *testing.T, args ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: exec.Command(bin, args...), logged: make(chan struct{})}
	p.cmd.Dir = t.TempDir()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.logged)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			p.mu.Lock()
			p.log.WriteString(s.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.wait()
		if t.Failed() {
			t.Logf("kusanagi log:\n%s", p.logText())
		}
	})
	return p
}

// wait waits for the process to exit, after reading all it logged.
func (p *process) wait() error {
	<-p.logged
	return p.cmd.Wait()
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits for a log line matching re, anywhere in the log since the
// process started, and returns its submatches.
func (p *process) waitLog(re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile("(?m)" + re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := rx.FindStringSubmatch(p.logText()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no log line matching %q within 20s", re)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func metric(t *testing.T, base, name string) string {
	t.Helper()
	_, body := httpDo(t, "GET", base+"/metrics")
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("metric %s not exposed", name)
	}
	return m[1]
}

const runCatalogue = `alerts:
  - name: TargetDown
    severity: major
    summary: '{{ $labels.instance }} is down'
    metrics: [{expr: up == 0}]
`

// TestRunReloadsAndKeepsLastGood runs the real binary on a config file and
// checks every reload path: file change, POST /-/reload and SIGHUP.
func TestRunReloadsAndKeepsLastGood(t *testing.T) {
	dir := t.TempDir()
	catalogue := filepath.Join(dir, "catalogue.yml")
	writeFile(t, catalogue, runCatalogue)
	// The config is .yaml so that the catalogue glob *.yml does not match it.
	cfg := filepath.Join(dir, "kusanagi.yaml")
	writeFile(t, cfg, "catalogue:\n  files: ['*.yml']\nalerting:\n  alertmanagers: ['http://[::1]:1']\n")

	p := startKusanagi(t, "run", "--config.file="+cfg, "--data.dir="+filepath.Join(dir, "data"), "--web.listen-address=[::1]:0", "--alertmanager.listen-address=[::1]:0", "--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	addr := p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	base := "http://" + addr
	if code, body := httpDo(t, "GET", base+"/-/healthy"); code != 200 {
		t.Fatalf("/-/healthy: %d %s", code, body)
	}
	waitUntil(t, func() bool { code, _ := httpDo(t, "GET", base+"/-/ready"); return code == 200 })
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("data dir not created: %v", err)
	}
	if code, _ := httpDo(t, "GET", base+"/-/reload"); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /-/reload: %d, want 405", code)
	}

	// A bad edit: the file watch rejects it, the old catalogue stays.
	writeFile(t, catalogue, strings.Replace(runCatalogue, "major", "urgent", 1))
	p.waitLog(`catalogue rejected, the previous catalogue stays in force.*unknown severity`)
	if v := metric(t, base, "kusanagi_catalogue_last_reload_successful"); v != "0" {
		t.Fatalf("last_reload_successful = %s after a bad edit", v)
	}
	code, body := httpDo(t, "POST", base+"/-/reload")
	if code != 500 || !strings.Contains(body, `catalogue.yml:3:15: alert "TargetDown": unknown severity "urgent"`) {
		t.Fatalf("POST /-/reload of a bad catalogue: %d %s", code, body)
	}
	if _, body := httpDo(t, "GET", base+"/api/v1/catalogue"); !strings.Contains(body, `"severity": "major"`) {
		t.Fatalf("last good catalogue not served:\n%s", body)
	}

	// SIGHUP picks up the fix.
	fixed := strings.Replace(runCatalogue, "TargetDown", "NodeDown", 1)
	if err := os.WriteFile(catalogue, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool {
		_, body := httpDo(t, "GET", base+"/api/v1/catalogue")
		return strings.Contains(body, `"NodeDown"`)
	})
	if v := metric(t, base, "kusanagi_catalogue_last_reload_successful"); v != "1" {
		t.Fatalf("last_reload_successful = %s after the fix", v)
	}
	if _, body := httpDo(t, "GET", base+"/"); !strings.Contains(body, "NodeDown") {
		t.Fatal("status page does not list the catalogue")
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func TestRunOnEmbeddedDefaults(t *testing.T) {
	p := startKusanagi(t, "run", "--web.listen-address=[::1]:0", "--alertmanager.listen-address=[::1]:0", "--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	addr := p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	_, body := httpDo(t, "GET", "http://"+addr+"/api/v1/catalogue")
	for _, name := range []string{"InterfaceDown", "BGPPeerDown", "DiskAlmostFull"} {
		if !strings.Contains(body, `"`+name+`"`) {
			t.Errorf("embedded catalogue lacks %s", name)
		}
	}
	if v := metric(t, "http://"+addr, "kusanagi_catalogue_alerts"); v != "16" {
		t.Errorf("kusanagi_catalogue_alerts = %s, want 16", v)
	}
}

func TestRunRefusesBadCatalogueAtStart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "c.yml"), "alerts:\n  - name: X\n")
	writeFile(t, filepath.Join(dir, "k.yaml"), "catalogue:\n  files: [c.yml]\n")
	p := startKusanagi(t, "run", "--config.file="+filepath.Join(dir, "k.yaml"), "--web.listen-address=[::1]:0", "--alertmanager.listen-address=[::1]:0", "--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	err := p.wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if log := p.logText(); !strings.Contains(log, "c.yml:2:5: alert \"X\": severity is required") {
		t.Fatalf("log lacks the catalogue error:\n%s", log)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Command latencybench measures line-to-alert latency (issue 6): the time
// from a syslog line arriving at `kusanagi run` to its log rule's alert
// arriving at the embedded Alertmanager, and on to a webhook receiver, for
// a rule with `for: 0`. Lines are sent at random phases of the evaluation
// cycle, one new group_by value each, so that each raises a new alert. It
// also measures the resolve path: the line is the only one of its group,
// so the alert resolves once the line leaves the window. It prints a
// Markdown section.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const alertName = "LatencyProbe"

func main() {
	bin := flag.String("kusanagi", "bin/kusanagi", "kusanagi binary")
	everyFlag := flag.String("every", "5s,1s", "the log rule's every, one measurement each (comma separated)")
	trials := flag.Int("trials", 20, "lines sent per measurement, each a new alert")
	flag.Parse()
	var results []result
	for _, f := range strings.Split(*everyFlag, ",") {
		every, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || every <= 0 {
			log.Fatalf("bad -every %q", f)
		}
		r, err := measure(*bin, every, *trials)
		if err != nil {
			log.Fatal(err)
		}
		results = append(results, r)
	}
	report(os.Stdout, results)
}

// trial is one line and the alert it raised.
type trial struct {
	host     string
	sent     time.Time
	atAM     time.Time // first seen in GET /api/v2/alerts
	notified time.Time // first firing webhook notification
	goneAM   time.Time // no longer in GET /api/v2/alerts (resolved)
	resolved time.Time // resolved webhook notification
}

type result struct {
	every, window time.Duration
	trials        []*trial
}

// tracker records when each probe alert appears and leaves, by host.
type tracker struct {
	mu     sync.Mutex
	trials map[string]*trial
}

func (t *tracker) update(host string, f func(*trial)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.trials[host]; tr != nil {
		f(tr)
	}
}

func (t *tracker) get(host string) trial {
	t.mu.Lock()
	defer t.mu.Unlock()
	return *t.trials[host]
}

// webhookMessage is the part of Alertmanager's webhook payload read here.
type webhookMessage struct {
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// serveWebhook is the stand-in for the SaaS receiver: it notes when each
// probe alert's firing and resolved notifications arrive.
func (t *tracker) serveWebhook(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var m webhookMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, a := range m.Alerts {
		if a.Labels["alertname"] != alertName {
			continue
		}
		t.update(a.Labels["host_name"], func(tr *trial) {
			switch {
			case a.Status == "firing" && tr.notified.IsZero():
				tr.notified = now
			case a.Status == "resolved" && tr.resolved.IsZero():
				tr.resolved = now
			}
		})
	}
}

// pollAlertmanager reads the probe alerts from the Alertmanager API every
// 10 ms until stop closes: an alert is there from when the rule's alert
// arrives until it is resolved (the API leaves out alerts whose endsAt
// has passed).
func (t *tracker) pollAlertmanager(am string, stop <-chan struct{}) {
	u := am + "/api/v2/alerts?filter=" + url.QueryEscape(fmt.Sprintf("alertname=%q", alertName))
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		resp, err := http.Get(u)
		if err != nil {
			continue
		}
		var alerts []struct {
			Labels map[string]string `json:"labels"`
		}
		err = json.NewDecoder(resp.Body).Decode(&alerts)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			continue
		}
		now := time.Now()
		present := map[string]bool{}
		for _, a := range alerts {
			present[a.Labels["host_name"]] = true
		}
		t.mu.Lock()
		for host, tr := range t.trials {
			switch {
			case present[host] && tr.atAM.IsZero():
				tr.atAM = now
			case !present[host] && !tr.atAM.IsZero() && tr.goneAM.IsZero():
				tr.goneAM = now
			}
		}
		t.mu.Unlock()
	}
}

// process is a running kusanagi with its log kept in memory.
type process struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log strings.Builder
}

func (p *process) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits for a log line matching re and returns its submatches.
func (p *process) waitLog(re string, timeout time.Duration) ([]string, error) {
	rx := regexp.MustCompile("(?m)" + re)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := rx.FindStringSubmatch(p.logText()); m != nil {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no log line matching %q within %s; kusanagi's log:\n%s", re, timeout, p.logText())
}

func start(bin string, args ...string) (*process, error) {
	p := &process{cmd: exec.Command(bin, args...)}
	// The kernel kills kusanagi when the benchmark exits, however it exits.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start kusanagi: %w", err)
	}
	go func() {
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 1<<20), 1<<20)
		for s.Scan() {
			p.mu.Lock()
			p.log.WriteString(s.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	return p, nil
}

func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// window is twice every: a line whose timestamp precedes an evaluation
// but which reaches the store after it (the writer flushes every 200 ms)
// is then counted by the next evaluation; with window equal to every it
// would never be counted (query_delay is the other cure, at the cost of
// its own length in latency).
func window(every time.Duration) time.Duration { return 2 * every }

func measure(bin string, every time.Duration, n int) (result, error) {
	res := result{every: every, window: window(every)}
	dir, err := os.MkdirTemp("", "latencybench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	tr := &tracker{trials: map[string]*trial{}}
	hookLn, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return res, fmt.Errorf("cannot listen for webhooks: %w", err)
	}
	hook := &http.Server{Handler: http.HandlerFunc(tr.serveWebhook)}
	go hook.Serve(hookLn)
	defer hook.Close()

	amPort, err := freeTCPPort()
	if err != nil {
		return res, err
	}
	files := map[string]string{
		"catalogue.yml": fmt.Sprintf(`alerts:
  - name: %s
    severity: major
    summary: 'link down on {{ $labels.host_name }}'
    logs:
      - query: 'event.code:"LINK-3-UPDOWN" AND message:"changed state to down"'
        every: %s
        window: %s
        group_by: [host.name]
        for: 0s
`, alertName, every, res.window),
		// Every alert a group of its own, notified at once.
		"alertmanager.yml": fmt.Sprintf(`route:
  receiver: bench
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: bench
    webhook_configs:
      - url: 'http://%s/hook'
        send_resolved: true
`, hookLn.Addr()),
		"kusanagi.yaml": fmt.Sprintf(`catalogue:
  files: [catalogue.yml]
alerting:
  alertmanagers: ['http://[::1]:%d']
alertmanager:
  config_file: alertmanager.yml
syslog:
  tls_listen_addresses: []
`, amPort),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return res, err
		}
	}
	p, err := start(bin, "run", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", fmt.Sprintf("--alertmanager.listen-address=[::1]:%d", amPort),
		"--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0")
	if err != nil {
		return res, err
	}
	defer func() { p.cmd.Process.Kill(); p.cmd.Wait() }()
	m, err := p.waitLog(`msg="listening for syslog" .*transport=udp address=(\S+)`, 30*time.Second)
	if err != nil {
		return res, err
	}
	syslogAddr := m[1]
	if _, err := p.waitLog(`msg="alertmanager ready"`, 30*time.Second); err != nil {
		return res, err
	}
	if _, err := p.waitLog(`msg=listening component=web`, 30*time.Second); err != nil {
		return res, err
	}
	conn, err := net.Dial("udp", syslogAddr)
	if err != nil {
		return res, fmt.Errorf("cannot send syslog: %w", err)
	}
	defer conn.Close()

	stop := make(chan struct{})
	defer close(stop)
	go tr.pollAlertmanager(fmt.Sprintf("http://[::1]:%d", amPort), stop)

	// The first evaluation may fall before the store has opened its first
	// partition; let one cycle pass.
	time.Sleep(every + time.Second)
	timeout := 2*every + 10*time.Second
	run := time.Now().Format("150405")
	for i := range n {
		// A random phase of the evaluation cycle.
		time.Sleep(rand.N(every))
		host := fmt.Sprintf("lat-%s-%s-%02d", every, run, i)
		t := &trial{host: host}
		tr.mu.Lock()
		tr.trials[host] = t
		tr.mu.Unlock()
		now := time.Now().UTC()
		line := fmt.Sprintf("<187>%s %s 52: %%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down", now.Format("Jan _2 15:04:05.000"), host)
		tr.update(host, func(t *trial) { t.sent = time.Now() })
		if _, err := conn.Write([]byte(line)); err != nil {
			return res, fmt.Errorf("cannot send syslog: %w", err)
		}
		if err := waitFor(timeout, func() bool { t := tr.get(host); return !t.atAM.IsZero() && !t.notified.IsZero() }); err != nil {
			return res, fmt.Errorf("every %s, trial %d (%s): no alert at Alertmanager and webhook within %s", every, i, host, timeout)
		}
		got := tr.get(host)
		log.Printf("every %s: %s at Alertmanager after %s, notified after %s", every, host,
			got.atAM.Sub(got.sent).Round(time.Millisecond), got.notified.Sub(got.sent).Round(time.Millisecond))
	}
	// Resolves: the last line leaves the window within window + every.
	resolveTimeout := res.window + every + 10*time.Second
	if err := waitFor(resolveTimeout, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, t := range tr.trials {
			if t.goneAM.IsZero() || t.resolved.IsZero() {
				return false
			}
		}
		return true
	}); err != nil {
		log.Printf("every %s: not every alert resolved within %s of the last line", every, resolveTimeout)
	}
	tr.mu.Lock()
	for _, t := range tr.trials {
		res.trials = append(res.trials, t)
	}
	tr.mu.Unlock()
	slices.SortFunc(res.trials, func(a, b *trial) int { return a.sent.Compare(b.sent) })
	return res, nil
}

var errTimeout = errors.New("timeout")

func waitFor(timeout time.Duration, cond func() bool) error {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return errTimeout
}

// stats are the min, median, p90 and max (nearest rank) of the latencies
// measured, and how many were.
type stats struct {
	min, median, p90, max time.Duration
	n                     int
}

func summarize(trials []*trial, from, to func(*trial) time.Time) stats {
	var d []time.Duration
	for _, t := range trials {
		if a, b := from(t), to(t); !a.IsZero() && !b.IsZero() {
			d = append(d, b.Sub(a))
		}
	}
	if len(d) == 0 {
		return stats{}
	}
	slices.Sort(d)
	rank := func(q float64) time.Duration { return d[max(0, int(math.Ceil(q*float64(len(d))))-1)] }
	return stats{min: d[0], median: rank(0.5), p90: rank(0.9), max: d[len(d)-1], n: len(d)}
}

func (s stats) String() string {
	if s.n == 0 {
		return "none measured"
	}
	f := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }
	return fmt.Sprintf("%s / %s / %s / %s", f(s.min), f(s.median), f(s.p90), f(s.max))
}

func report(w io.Writer, results []result) {
	sent := func(t *trial) time.Time { return t.sent }
	fmt.Fprintf(w, "## Line-to-alert latency: kusanagi run\n\n")
	fmt.Fprintf(w, "`kusanagi run` (all-in-one: syslog receiver, embedded log store, log rules, embedded Alertmanager with etcd) with one log rule (`for: 0`, `group_by: [host.name]`, `window` = 2 × `every`); ")
	fmt.Fprintf(w, "its embedded Alertmanager routes every alert to a group of its own (`group_by: ['...']`, `group_wait: 0s`) and notifies a webhook receiver served by the benchmark on loopback. ")
	fmt.Fprintf(w, "Each trial sends one Cisco IOS `%%LINK-3-UPDOWN` line over UDP, with a new hostname so that it raises a new alert, after a random wait within one `every` (a random phase of the evaluation cycle). ")
	fmt.Fprintf(w, "*At Alertmanager* is when the alert first appears in `GET /api/v2/alerts`, polled every 10 ms; *notified* is when the webhook receives it. ")
	fmt.Fprintf(w, "Seconds, min / median / p90 / max, one run of `test/bench/latencybench` on a machine shared with other work.\n\n")
	fmt.Fprintf(w, "Why `window` = 2 × `every`: a line stamped just before an evaluation but stored just after it (the store writer flushes every 200 ms) is outside the next evaluation's window when `window` = `every`, and would never raise the alert; `query_delay` would cure that too, but adds its own length to the latency.\n\n")
	fmt.Fprintf(w, "| every | window | trials | line → alert at Alertmanager (s) | line → webhook notified (s) | target: under every + 1 s | met (p100 at Alertmanager) |\n")
	fmt.Fprintf(w, "| ---: | ---: | ---: | --- | --- | ---: | --- |\n")
	var verdicts []string
	for _, r := range results {
		atAM := summarize(r.trials, sent, func(t *trial) time.Time { return t.atAM })
		notified := summarize(r.trials, sent, func(t *trial) time.Time { return t.notified })
		target := r.every + time.Second
		met := "yes"
		if atAM.n < len(r.trials) || atAM.max >= target {
			met = "no"
		}
		within := 0
		for _, t := range r.trials {
			if !t.atAM.IsZero() && t.atAM.Sub(t.sent) < target {
				within++
			}
		}
		fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %.1f s | %s |\n", r.every, r.window, len(r.trials), atAM, notified, target.Seconds(), met)
		verdicts = append(verdicts, fmt.Sprintf("- every %s: %d of %d alerts reached Alertmanager within every + 1 s (%.1f s); the slowest took %.2f s and its webhook notification %.2f s.",
			r.every, within, len(r.trials), target.Seconds(), atAM.max.Seconds(), notified.max.Seconds()))
	}
	fmt.Fprintf(w, "\n%s\n", strings.Join(verdicts, "\n"))

	fmt.Fprintf(w, "\n### Resolve path\n\n")
	fmt.Fprintf(w, "Each trial's line is the only one of its group: the rule resolves the alert at the first evaluation whose window no longer holds it, so the expected time from the line to the resolve is between `window` and `window` + `every`, plus delivery. *Resolved at Alertmanager* is when the alert leaves `GET /api/v2/alerts` (the API omits alerts whose `endsAt` has passed); *notified* is the webhook's resolved notification (`send_resolved: true`, `group_interval: 1s`).\n\n")
	fmt.Fprintf(w, "| every | window | resolves seen | line → resolved at Alertmanager (s) | line → resolved notified (s) | expected under window + every + 1 s | met |\n")
	fmt.Fprintf(w, "| ---: | ---: | ---: | --- | --- | ---: | --- |\n")
	for _, r := range results {
		gone := summarize(r.trials, sent, func(t *trial) time.Time { return t.goneAM })
		resolved := summarize(r.trials, sent, func(t *trial) time.Time { return t.resolved })
		bound := r.window + r.every + time.Second
		met := "yes"
		if gone.n < len(r.trials) || resolved.n < len(r.trials) || gone.max >= bound {
			met = "no"
		}
		fmt.Fprintf(w, "| %s | %s | %d of %d | %s | %s | %.1f s | %s |\n", r.every, r.window, min(gone.n, resolved.n), len(r.trials), gone, resolved, bound.Seconds(), met)
	}
}

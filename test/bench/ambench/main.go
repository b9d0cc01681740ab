// Command ambench measures an Alertmanager binary the way issue 3 asks,
// side by side for Kusanagi's and upstream's: alerts/s accepted by
// POST /api/v2/alerts (batches, several clients, distinct alerts), resident
// memory per alert, the time of GET /api/v2/alerts, and what a restart
// after kill -9 serves and when. It prints a Markdown table with ratios.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kusanagi-dev/kusanagi/alertstore"
	"github.com/kusanagi-dev/kusanagi/test/bench/proc"
)

// profileDir, when set, receives pprof profiles of every target.
var profileDir string

type result struct {
	Name          string
	AlertsPerSec  float64
	RSSBeforeMiB  float64
	RSSAfterMiB   float64
	RSSPeakMiB    float64 // VmHWM after ingest and the GETs: the most the process held at any moment
	LiveMiB       float64 // Go heap in use and goroutine stacks right after a forced garbage collection
	BytesPerAlert float64
	CPUPerAlert   time.Duration // user+system CPU of the process during ingest, per alert
	GetSeconds    float64
	GetCount      int
	RestartCount  int     // alerts served by the first answer after kill -9
	RestartSecs   float64 // from restart until a GET that returns every alert begins; -1 if never
}

func main() {
	kusanagi := flag.String("kusanagi", "bin/kusanagi", "kusanagi binary")
	upstream := flag.String("upstream", "", "upstream alertmanager binary")
	n := flag.Int("alerts", 100000, "distinct alerts")
	batch := flag.Int("batch", 100, "alerts per request")
	clients := flag.Int("clients", 4, "concurrent clients")
	external := flag.Bool("external-etcd", true, "also measure Kusanagi with etcd outside its process (here: in this one)")
	logLevel := flag.String("log-level", "warn", "the Alertmanagers' --log.level")
	rounds := flag.Int("rounds", 5, "rounds; each measures every target once, in turn, and the table gives medians")
	flag.StringVar(&profileDir, "profile", "", "write each target's CPU profile (during ingest) and heap profile (after) to this directory")
	flag.Parse()

	cfg, err := os.CreateTemp("", "ambench-*.yml")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(cfg.Name())
	// One group per alert, and no notification during the run.
	fmt.Fprint(cfg, `route:
  receiver: none
  group_by: [alertname, instance]
  group_wait: 1h
  group_interval: 1h
receivers:
  - name: none
`)
	cfg.Close()

	targets := []target{
		{name: "kusanagi alertmanager (etcd, embedded)", args: func(dir string, port int) []string {
			return []string{"alertmanager", "--config.file=" + cfg.Name(), "--storage.path=" + dir,
				"--web.listen-address=" + net.JoinHostPort("::1", strconv.Itoa(port)), "--log.level=" + *logLevel}
		}, bin: *kusanagi},
	}
	if *external {
		// A fresh etcd for every round: one that kept the last round's
		// alerts would be loaded at start and make every POST a no-op.
		var endpoints string
		targets = append(targets, target{
			name: "kusanagi alertmanager (etcd in another process)",
			args: func(dir string, port int) []string {
				return []string{"alertmanager", "--config.file=" + cfg.Name(), "--storage.path=" + dir, "--etcd.endpoints=" + endpoints,
					"--web.listen-address=" + net.JoinHostPort("::1", strconv.Itoa(port)), "--log.level=" + *logLevel}
			},
			bin: *kusanagi,
			setUp: func() (func(), error) {
				dir, err := os.MkdirTemp("", "ambench-etcd-")
				if err != nil {
					return nil, err
				}
				e, err := alertstore.StartEmbedded(alertstore.EmbeddedOptions{Dir: dir})
				if err != nil {
					os.RemoveAll(dir)
					return nil, err
				}
				endpoints = strings.Join(e.Endpoints(), ",")
				return func() { e.Close(); os.RemoveAll(dir) }, nil
			},
		})
	}
	if *upstream != "" {
		targets = append(targets, target{name: "upstream alertmanager v0.35.0 (memory)", args: func(dir string, port int) []string {
			return []string{"--config.file=" + cfg.Name(), "--storage.path=" + dir, "--cluster.listen-address=",
				"--web.listen-address=" + net.JoinHostPort("::1", strconv.Itoa(port)), "--log.level=" + *logLevel}
		}, bin: *upstream})
	}
	// Rounds alternate the targets, so that a slow spell of the machine
	// falls on all of them; one ingest takes seconds, and a single run
	// was seen 15% off its neighbours.
	results := make([][]result, len(targets))
	for round := range *rounds {
		for i, t := range targets {
			tearDown := func() {}
			if t.setUp != nil {
				if tearDown, err = t.setUp(); err != nil {
					log.Fatalf("%s: %v", t.name, err)
				}
			}
			r, err := measure(t.name, t.bin, t.args, *n, *batch, *clients)
			tearDown()
			if err != nil {
				log.Fatalf("%s: %v", t.name, err)
			}
			log.Printf("round %d: %+v", round+1, r)
			results[i] = append(results[i], r)
		}
	}
	printTable(results, *n, *batch, *clients, *rounds)
}

// target is an Alertmanager to measure; setUp, when set, runs before each
// of its rounds and returns what undoes it.
type target struct {
	name  string
	args  func(dir string, port int) []string
	bin   string
	setUp func() (tearDown func(), err error)
}

func freePort() int {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func start(bin string, args []string) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	return cmd, cmd.Start()
}

func waitReady(base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", base, timeout)
}

// cpuTime is the process's CPU time, 0 when it cannot be read.
func cpuTime(pid int) time.Duration {
	d, _ := proc.CPUTime(pid)
	return d
}

func countAlerts(base string) (int, time.Duration, error) {
	begin := time.Now()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var alerts []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		return 0, 0, err
	}
	return len(alerts), time.Since(begin), nil
}

func measure(name, bin string, args func(string, int) []string, n, batch, clients int) (result, error) {
	r := result{Name: name}
	dir, err := os.MkdirTemp("", "ambench-data-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	port := freePort()
	base := "http://" + net.JoinHostPort("::1", strconv.Itoa(port))
	cmd, err := start(bin, args(filepath.Join(dir, "data"), port))
	if err != nil {
		return r, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitReady(base, time.Minute); err != nil {
		return r, err
	}
	time.Sleep(time.Second)
	if mem, err := proc.MemoryKiB(cmd.Process.Pid); err == nil {
		r.RSSBeforeMiB = mem["VmRSS"] / 1024
	}
	cpuBefore := cpuTime(cmd.Process.Pid)

	// Ingest.
	now := time.Now().UTC()
	bodies := make(chan []byte, n/batch+1)
	for i := 0; i < n; i += batch {
		var b bytes.Buffer
		b.WriteByte('[')
		for j := i; j < min(i+batch, n); j++ {
			if j > i {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"labels":{"alertname":"BenchDown","instance":"host-%06d","job":"bench","severity":"major"},"annotations":{"summary":"host-%06d is down"},"startsAt":%q,"endsAt":%q}`,
				j, j, now.Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339))
		}
		b.WriteByte(']')
		bodies <- b.Bytes()
	}
	close(bodies)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var wg sync.WaitGroup
	var failed sync.Map
	begin := time.Now()
	if profileDir != "" {
		wg.Go(func() {
			saveProfile(base, "profile?seconds=3", name+".cpu.pprof")
			saveProfile(base, "heap", name+".heap-during-ingest.pprof")
		})
	}
	for range clients {
		wg.Go(func() {
			for body := range bodies {
				for attempt := 0; ; attempt++ {
					resp, err := client.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							break
						}
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
					if attempt == 5 {
						failed.Store(err.Error(), true)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	failed.Range(func(k, _ any) bool { log.Printf("%s: a request failed: %v", name, k); return true })
	r.AlertsPerSec = float64(n) / elapsed.Seconds()
	r.CPUPerAlert = (cpuTime(cmd.Process.Pid) - cpuBefore) / time.Duration(n)
	time.Sleep(2 * time.Second)
	if mem, err := proc.MemoryKiB(cmd.Process.Pid); err == nil {
		r.RSSAfterMiB = mem["VmRSS"] / 1024
		// bbolt's memory-mapped database counts as file-backed.
		log.Printf("%s: RssAnon %.0f KiB, RssFile %.0f KiB", name, mem["RssAnon"], mem["RssFile"])
	}
	r.BytesPerAlert = (r.RSSAfterMiB - r.RSSBeforeMiB) * 1024 * 1024 / float64(n)
	if profileDir != "" {
		saveProfile(base, "heap?gc=1", name+".heap.pprof")
		saveProfile(base, "heap?debug=1", name+".memstats.txt")
		saveFile(base+"/metrics", name+".metrics.txt")
	}

	// GET at n alerts: best of three.
	r.GetSeconds = -1
	for range 3 {
		count, d, err := countAlerts(base)
		if err != nil {
			return r, err
		}
		r.GetCount = count
		if r.GetSeconds < 0 || d.Seconds() < r.GetSeconds {
			r.GetSeconds = d.Seconds()
		}
	}

	if mem, err := proc.MemoryKiB(cmd.Process.Pid); err == nil {
		r.RSSPeakMiB = mem["VmHWM"] / 1024
	}
	live, err := liveMiB(base)
	if err != nil {
		return r, err
	}
	r.LiveMiB = live

	// kill -9 and restart on the same storage.
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	restartBegin := time.Now()
	cmd, err = start(bin, args(filepath.Join(dir, "data"), port))
	if err != nil {
		return r, err
	}
	if err := waitReady(base, 2*time.Minute); err != nil {
		return r, err
	}
	// Ready is when the first GET starts; whatever it returns was there
	// at that moment (the GET itself takes seconds at 100k alerts).
	readyAt := time.Since(restartBegin)
	r.RestartCount, _, _ = countAlerts(base)
	r.RestartSecs = -1
	if r.RestartCount == n {
		r.RestartSecs = readyAt.Seconds()
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		asked := time.Since(restartBegin)
		count, _, err := countAlerts(base)
		if err == nil && count == n {
			r.RestartSecs = asked.Seconds()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r, nil
}

// liveMiB is what the target's Go runtime holds for live data: the heap in
// use and the goroutine stacks, read from runtime.MemStats right after the
// collection that /debug/pprof/heap?gc=1 forces. RSS samples the heap
// somewhere between two collections, so it moves with where they fall.
func liveMiB(base string) (float64, error) {
	resp, err := http.Get(base + "/debug/pprof/heap?gc=1&debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var heap, stack float64
	var found int
	for line := range strings.Lines(string(b)) {
		if _, err := fmt.Sscanf(line, "# HeapInuse = %g", &heap); err == nil {
			found++
		}
		if _, err := fmt.Sscanf(line, "# Stack = %g", &stack); err == nil {
			found++
		}
	}
	if found != 2 {
		return 0, fmt.Errorf("cannot find HeapInuse and Stack in %s/debug/pprof/heap?debug=1", base)
	}
	return (heap + stack) / (1 << 20), nil
}

// saveProfile fetches a pprof profile from the target's /debug/pprof/.
func saveProfile(base, what, file string) {
	saveFile(base+"/debug/pprof/"+what, file)
}

// saveFile fetches url into profileDir.
func saveFile(url, file string) {
	resp, err := http.Get(url)
	if err != nil {
		log.Printf("cannot fetch %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(profileDir, strings.NewReplacer(" ", "_", "(", "", ")", "", ",", "").Replace(file)))
	if err != nil {
		log.Printf("cannot save profile: %v", err)
		return
	}
	defer f.Close()
	io.Copy(f, resp.Body)
}

func printTable(runs [][]result, n, batch, clients, rounds int) {
	fmt.Printf("## Alertmanager: Kusanagi (state in etcd) and upstream v0.35.0 (memory)\n\n")
	fmt.Printf("%d distinct alerts, one group each, posted in batches of %d by %d clients, same machine (`test/bench/ambench`). ", n, batch, clients)
	fmt.Printf("%d rounds, each measuring every target in turn: medians, with the range over the rounds in brackets.\n", rounds)
	fmt.Printf("Resident memory is the Alertmanager process: with embedded etcd it includes etcd; with etcd in another process it does not. ")
	fmt.Printf("RSS after ingest is taken 2 s after the last POST; peak RSS is the most at any moment up to the end of the GETs (VmHWM); ")
	fmt.Printf("live is the Go heap in use plus goroutine stacks right after a forced collection, which RSS samples somewhere between two collections.\n\n")
	fmt.Printf("| | alerts/s accepted | CPU per alert (µs) | RSS after ingest (MiB) | bytes/alert | peak RSS (MiB) | live heap + stacks (MiB) | GET /api/v2/alerts (s) | served right after kill -9 + restart | s until all served again |\n")
	fmt.Printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	meds := make([]result, len(runs))
	for i, rs := range runs {
		ingest := spread(rs, func(r result) float64 { return r.AlertsPerSec })
		cpu := spread(rs, func(r result) float64 { return float64(r.CPUPerAlert.Nanoseconds()) / 1000 })
		after := spread(rs, func(r result) float64 { return r.RSSAfterMiB })
		peak := spread(rs, func(r result) float64 { return r.RSSPeakMiB })
		perAlert := spread(rs, func(r result) float64 { return r.BytesPerAlert })
		get := spread(rs, func(r result) float64 { return r.GetSeconds })
		served := spread(rs, func(r result) float64 { return float64(r.RestartCount) })
		live := spread(rs, func(r result) float64 { return r.LiveMiB })
		meds[i] = result{AlertsPerSec: ingest.median, RSSAfterMiB: after.median, BytesPerAlert: perAlert.median, RSSPeakMiB: peak.median, LiveMiB: live.median, GetSeconds: get.median}
		meds[i].CPUPerAlert = time.Duration(cpu.median * 1000)
		restart := "never (within 30s)"
		if slices.ContainsFunc(rs, func(r result) bool { return r.RestartSecs >= 0 }) {
			// A round that never served everything counts as the slowest.
			secs := spread(rs, func(r result) float64 {
				if r.RestartSecs < 0 {
					return math.Inf(1)
				}
				return r.RestartSecs
			})
			restart = secs.format("%.2f")
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s (%d alerts) | %s | %s |\n", rs[0].Name,
			ingest.format("%.0f"), cpu.format("%.1f"), after.format("%.0f"), perAlert.format("%.0f"), peak.format("%.0f"), live.format("%.0f"),
			get.format("%.2f"), rs[0].GetCount, served.format("%.0f"), restart)
	}
	if len(runs) >= 2 {
		u := meds[len(meds)-1]
		fmt.Printf("\nRatios of the medians to upstream's (ingest, CPU per alert, resident bytes per alert, RSS after ingest, peak RSS, live memory, GET time):\n\n")
		for i, k := range meds[:len(meds)-1] {
			fmt.Printf("- %s: ingest %.2f×, CPU per alert %.2f×, bytes per alert %.2f×, RSS after ingest %.2f×, peak RSS %.2f×, live %.2f×, GET %.2f×\n", runs[i][0].Name,
				k.AlertsPerSec/u.AlertsPerSec, float64(k.CPUPerAlert)/float64(u.CPUPerAlert), k.BytesPerAlert/u.BytesPerAlert, k.RSSAfterMiB/u.RSSAfterMiB,
				k.RSSPeakMiB/u.RSSPeakMiB, k.LiveMiB/u.LiveMiB, k.GetSeconds/u.GetSeconds)
		}
	}
}

// spreadOf is a metric over the rounds.
type spreadOf struct{ median, low, high float64 }

func spread(rs []result, metric func(result) float64) spreadOf {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = metric(r)
	}
	slices.Sort(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return spreadOf{m, vs[0], vs[len(vs)-1]}
}

func (s spreadOf) format(verb string) string {
	if math.IsInf(s.median, 1) {
		return "never"
	}
	if s.low == s.high {
		return fmt.Sprintf(verb, s.median)
	}
	high := fmt.Sprintf(verb, s.high)
	if math.IsInf(s.high, 1) {
		high = "never"
	}
	return fmt.Sprintf(verb+" ("+verb+"–%s)", s.median, s.low, high)
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kusanagi-dev/kusanagi/test/bench/proc"
)

// dieWithUs has the kernel kill a receiver when the benchmark exits, even
// through log.Fatal or a signal, so that no receiver outlives it.
var dieWithUs = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

// cpuSeconds is the user plus system CPU time process pid has used.
func cpuSeconds(pid int) (float64, error) {
	d, err := proc.CPUTime(pid)
	return d.Seconds(), err
}

// cpuWait is how long the threads of process pid have waited, runnable,
// for a CPU (run_delay of /proc/<pid>/task/*/schedstat), in seconds: on a
// shared machine, the time other work took from the receiver. Threads that
// have exited are not counted.
func cpuWait(pid int) float64 {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		return 0
	}
	total := 0.0
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseFloat(f[1], 64)
			total += ns / 1e9
		}
	}
	return total
}

// loadAverage is the one-minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			return 0, fmt.Errorf("cannot find a free UDP port: %w", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return 0, fmt.Errorf("cannot find a free TCP port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeSyslogPort finds a port free for both UDP and TCP on ::1.
func freeSyslogPort() (int, error) {
	for range 100 {
		p, err := freePort("tcp")
		if err != nil {
			return 0, err
		}
		if c, err := net.ListenPacket("udp6", fmt.Sprintf("[::1]:%d", p)); err == nil {
			c.Close()
			return p, nil
		}
	}
	return 0, errors.New("cannot find a port free for both UDP and TCP")
}

// kusanagi is `kusanagi syslog` writing to its embedded log store.
type kusanagi struct {
	cmd    *exec.Cmd
	syslog string // UDP and TCP, the same address
	web    string
}

// counters are the kusanagi metrics the benchmark reads.
type counters struct {
	udp, tcp         float64 // kusanagi_syslog_messages_total by transport: accepted and parsed
	written, dropped float64 // kusanagi_logs_records_{written,dropped}_total{source="syslog"}
	kernelDrops      float64 // kusanagi_syslog_kernel_drops_total (host wide)
}

func startKusanagi(bin, dir string) (*kusanagi, error) {
	port, err := freeSyslogPort()
	if err != nil {
		return nil, err
	}
	webPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	catalogue, err := filepath.Abs("examples/catalogue.yml")
	if err != nil {
		return nil, err
	}
	// TLS off: its self-signed certificate is not what is measured. The
	// alert sender has nowhere to send (syslog alone raises no alert).
	cfg := filepath.Join(dir, "kusanagi.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `catalogue:
  files: [%q]
alerting:
  alertmanagers: ['http://[::1]:1']
syslog:
  tls_listen_addresses: []
`, catalogue), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write the kusanagi config: %w", err)
	}
	k := &kusanagi{syslog: fmt.Sprintf("[::1]:%d", port), web: fmt.Sprintf("[::1]:%d", webPort)}
	k.cmd = exec.Command(bin, "syslog", "--config.file="+cfg, "--log.level=warn",
		"--syslog.listen-address="+k.syslog, "--web.listen-address="+k.web, "--data.dir="+filepath.Join(dir, "data"))
	k.cmd.Stderr = os.Stderr
	k.cmd.SysProcAttr = dieWithUs
	if err := k.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start kusanagi syslog: %w", err)
	}
	for range 400 {
		if _, err := k.counters(); err == nil {
			if c, err := net.Dial("tcp", k.syslog); err == nil {
				c.Close()
				return k, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.stop()
	return nil, errors.New("kusanagi syslog did not start within 20s")
}

// profile saves a CPU profile of the next d to path.
func (k *kusanagi) profile(path string, d time.Duration) {
	k.debug("profile", path, d)
}

// trace saves an execution trace of the next d to path.
func (k *kusanagi) trace(path string, d time.Duration) {
	k.debug("trace", path, d)
}

func (k *kusanagi) debug(kind, path string, d time.Duration) {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", k.web, kind, int(d.Seconds())))
	if err != nil {
		log.Printf("cannot get kusanagi's %s: %v", kind, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(path, b, 0o644)
	}
	if err != nil {
		log.Printf("cannot save kusanagi's %s: %v", kind, err)
	}
}

func (k *kusanagi) pid() int { return k.cmd.Process.Pid }
func (k *kusanagi) stop()    { k.cmd.Process.Kill(); k.cmd.Wait() }

func (k *kusanagi) counters() (counters, error) {
	resp, err := http.Get("http://" + k.web + "/metrics")
	if err != nil {
		return counters{}, fmt.Errorf("cannot read kusanagi metrics: %w", err)
	}
	defer resp.Body.Close()
	var c counters
	found := 0
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		line := s.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch line[:i] {
		case `kusanagi_syslog_messages_total{transport="udp"}`:
			c.udp = v
		case `kusanagi_syslog_messages_total{transport="tcp"}`:
			c.tcp = v
		case `kusanagi_logs_records_written_total{source="syslog"}`:
			c.written, found = v, found+1
		case `kusanagi_logs_records_dropped_total{source="syslog"}`:
			c.dropped = v
		case `kusanagi_syslog_kernel_drops_total`:
			c.kernelDrops = v
		}
	}
	if err := s.Err(); err != nil {
		return counters{}, fmt.Errorf("cannot read kusanagi metrics: %w", err)
	}
	if found == 0 {
		return counters{}, errors.New("kusanagi metrics lack kusanagi_logs_records_written_total{source=\"syslog\"}")
	}
	return c, nil
}

// settle waits until kusanagi has stopped receiving and its store has
// caught up (every accepted record written or dropped), and returns the
// counters then.
func (k *kusanagi) settle(timeout time.Duration) (counters, error) {
	prev, err := k.counters()
	if err != nil {
		return counters{}, err
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		c, err := k.counters()
		if err != nil {
			return counters{}, err
		}
		if c.udp == prev.udp && c.tcp == prev.tcp && c.written+c.dropped >= c.udp+c.tcp {
			return c, nil
		}
		prev = c
	}
	return prev, fmt.Errorf("kusanagi did not settle within %s", timeout)
}

// rsyslog is rsyslogd with a configuration of its own: imudp and imtcp on
// ::1, every message's raw text appended to a file. No imuxsock, so it
// leaves /dev/log and the system's rsyslog alone.
type rsyslog struct {
	cmd     *exec.Cmd
	syslog  string
	out     string
	lines   int   // lines counted so far
	offset  int64 // bytes of out counted so far
	version string
}

func startRsyslog(dir string, rcvbuf string) (*rsyslog, error) {
	port, err := freeSyslogPort()
	if err != nil {
		return nil, err
	}
	r := &rsyslog{syslog: fmt.Sprintf("[::1]:%d", port), out: filepath.Join(dir, "messages.log")}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create the rsyslog work directory: %w", err)
	}
	bufParam := ""
	if rcvbuf != "" {
		bufParam = fmt.Sprintf(" rcvbufSize=%q", rcvbuf)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `global(workDirectory=%q maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
template(name="raw" type="string" string="%%rawmsg%%\n")
ruleset(name="bench") {
  action(type="omfile" file=%q template="raw")
}
input(type="imudp" address="::1" port="%d" ruleset="bench"%s)
input(type="imtcp" address="::1" port="%d" ruleset="bench")
`, work, r.out, port, bufParam, port), 0o644); err != nil {
		return nil, fmt.Errorf("cannot write the rsyslog config: %w", err)
	}
	if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("rsyslogd -N1 refuses the config: %w\n%s", err, out)
	}
	if out, err := exec.Command("rsyslogd", "-v").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 2 {
			r.version = f[1]
		}
	}
	r.cmd = exec.Command("rsyslogd", "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	r.cmd.Stderr = os.Stderr
	r.cmd.SysProcAttr = dieWithUs
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start rsyslogd: %w", err)
	}
	for range 400 {
		if c, err := net.Dial("tcp", r.syslog); err == nil {
			c.Close()
			return r, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.stop()
	return nil, errors.New("rsyslogd did not listen within 20s")
}

func (r *rsyslog) pid() int { return r.cmd.Process.Pid }
func (r *rsyslog) stop()    { r.cmd.Process.Kill(); r.cmd.Wait() }

// count returns the lines in the output file, reading only what was
// appended since the last call.
func (r *rsyslog) count() (int, error) {
	f, err := os.Open(r.out)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil // omfile creates the file with the first message
	}
	if err != nil {
		return 0, fmt.Errorf("cannot count rsyslog lines: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(r.offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("cannot count rsyslog lines: %w", err)
	}
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		// Only whole lines count: a partial one is read again next time.
		if last := bytes.LastIndexByte(buf[:n], '\n'); last >= 0 {
			r.lines += bytes.Count(buf[:last+1], []byte{'\n'})
			r.offset += int64(last + 1)
			if _, err := f.Seek(r.offset, io.SeekStart); err != nil {
				return 0, fmt.Errorf("cannot count rsyslog lines: %w", err)
			}
		} else if n == len(buf) {
			return 0, errors.New("cannot count rsyslog lines: a line longer than 1 MiB")
		}
		if err == io.EOF || n == 0 {
			return r.lines, nil
		}
		if err != nil {
			return 0, fmt.Errorf("cannot count rsyslog lines: %w", err)
		}
	}
}

// settle waits until the line count stops moving and returns it.
func (r *rsyslog) settle(timeout time.Duration) (int, error) {
	prev, err := r.count()
	if err != nil {
		return 0, err
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		n, err := r.count()
		if err != nil {
			return 0, err
		}
		if n == prev {
			return n, nil
		}
		prev = n
	}
	return prev, fmt.Errorf("rsyslog did not settle within %s", timeout)
}

// Command trapbench finds the highest trap rate a receiver takes without
// loss, side by side for kusanagi traps (catalogue matching on) and net-snmp's
// snmptrapd, with the same pre-encoded packets replayed from one socket so
// the sender is never the bottleneck. It prints a Markdown table.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

const (
	community = "bench"
	user      = "bench"
	authPass  = "bench-auth-pass"
	privPass  = "bench-priv-pass"
	engineHex = "80001f88805b3ca1e9c4d7a21b"
)

// packets encodes n linkDown traps for 1000 distinct interfaces, by
// sending them with gosnmp to a socket of our own and keeping the bytes:
// gosnmp prepares v3 salts and keys only on its send path.
func packets(version string, n int) [][]byte {
	engineID, _ := hexDecode(engineHex)
	capture, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer capture.Close()
	g := &gosnmp.GoSNMP{
		Target: "127.0.0.1", Port: uint16(capture.LocalAddr().(*net.UDPAddr).Port), Transport: "udp",
		Version: gosnmp.Version2c, Community: community, Timeout: time.Second, MaxOids: gosnmp.MaxOids,
		Logger: gosnmp.NewLogger(log.New(io.Discard, "", 0)),
	}
	if version == "3" {
		g.Version, g.SecurityModel, g.MsgFlags = gosnmp.Version3, gosnmp.UserSecurityModel, gosnmp.AuthPriv
		g.SecurityParameters = &gosnmp.UsmSecurityParameters{
			UserName: user, AuthoritativeEngineID: string(engineID), AuthoritativeEngineBoots: 1, AuthoritativeEngineTime: 100,
			AuthenticationProtocol: gosnmp.SHA, AuthenticationPassphrase: authPass,
			PrivacyProtocol: gosnmp.AES, PrivacyPassphrase: privPass,
		}
	}
	if err := g.Connect(); err != nil {
		log.Fatal(err)
	}
	defer g.Conn.Close()
	out := make([][]byte, 0, n)
	buf := make([]byte, 65536)
	for i := range n {
		idx := i%1000 + 1
		trap := gosnmp.SnmpTrap{Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(i)},
			{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.6.3.1.1.5.3"},
			{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.1.%d", idx), Type: gosnmp.Integer, Value: idx},
			{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.7.%d", idx), Type: gosnmp.Integer, Value: 1},
			{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.8.%d", idx), Type: gosnmp.Integer, Value: 2},
			{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.2.%d", idx), Type: gosnmp.OctetString, Value: []byte(fmt.Sprintf("GigabitEthernet0/%d", idx))},
		}}
		if _, err := g.SendTrap(trap); err != nil {
			log.Fatal(err)
		}
		capture.SetReadDeadline(time.Now().Add(time.Second))
		m, _, err := capture.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf[:m]...))
	}
	return out
}

func hexDecode(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	return b, nil
}

// blast sends pkts to dst at rate per second and returns how many it sent.
func blast(dst string, pkts [][]byte, rate int, d time.Duration) int {
	c, err := net.Dial("udp", dst)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	total := int(float64(rate) * d.Seconds())
	start := time.Now()
	sent := 0
	for sent < total {
		due := int(float64(rate) * time.Since(start).Seconds())
		for sent < due && sent < total {
			c.Write(pkts[sent%len(pkts)])
			sent++
		}
		time.Sleep(200 * time.Microsecond)
	}
	return sent
}

type receiver interface {
	name() string
	addr() string
	count() int
	stop()
}

// kusanagi runs `kusanagi traps` and counts through its metrics.
type kusanagi struct {
	cmd  *exec.Cmd
	trap string
	web  string
}

func (k *kusanagi) name() string { return "kusanagi traps (catalogue matching)" }
func (k *kusanagi) addr() string { return k.trap }
func (k *kusanagi) stop()        { k.cmd.Process.Kill(); k.cmd.Wait() }

var (
	receivedRE = regexp.MustCompile(`(?m)^kusanagi_traps_received_total\{version="[^"]+"\} (\S+)$`)
	storedRE   = regexp.MustCompile(`(?m)^kusanagi_logs_records_written_total\{source="traps"\} (\S+)$`)
)

// metrics is kusanagi's /metrics text, "" when it does not answer.
func (k *kusanagi) metrics() string {
	resp, err := http.Get("http://" + k.web + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

// storedOnceSettled waits until the log store holds want trap records, or
// has taken none for 5 seconds (at most a minute): the writer in front of
// it indexes after the receiver has counted a trap, at its own pace.
func (k *kusanagi) storedOnceSettled(want int) int {
	last, since := k.stored(), time.Now()
	for deadline := time.Now().Add(time.Minute); last < want && time.Since(since) < 5*time.Second && time.Now().Before(deadline); {
		time.Sleep(250 * time.Millisecond)
		if n := k.stored(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

// stored returns how many trap records reached the log store.
func (k *kusanagi) stored() int {
	m := k.metrics()
	if m == "" {
		return -1
	}
	if s := storedRE.FindStringSubmatch(m); s != nil {
		v, _ := strconv.ParseFloat(s[1], 64)
		return int(v)
	}
	return 0
}

func (k *kusanagi) count() int {
	m := k.metrics()
	if m == "" {
		return -1
	}
	n := 0.0
	for _, s := range receivedRE.FindAllStringSubmatch(m, -1) {
		v, _ := strconv.ParseFloat(s[1], 64)
		n += v
	}
	return int(n)
}

func freePort(network string) int {
	if network == "udp" {
		c, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startKusanagi(bin, dir string) *kusanagi {
	trapPort, webPort := freePort("udp"), freePort("tcp")
	cfg := filepath.Join(dir, "kusanagi.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`catalogue:
  files: [%q]
alerting:
  alertmanagers: ['http://[::1]:1']
traps:
  communities: [%s]
  users:
    - {name: %s, auth_protocol: SHA, auth_passphrase: %s, priv_protocol: AES, priv_passphrase: %s}
`, mustAbs("examples/catalogue.yml"), community, user, authPass, privPass)), 0o644)
	k := &kusanagi{trap: fmt.Sprintf("[::1]:%d", trapPort), web: fmt.Sprintf("[::1]:%d", webPort)}
	k.cmd = exec.Command(bin, "traps", "--config.file="+cfg, "--log.level=error",
		"--traps.listen-address="+k.trap, "--web.listen-address="+k.web, "--data.dir="+filepath.Join(dir, "data"))
	k.cmd.Stderr = os.Stderr
	if err := k.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	for range 200 {
		if k.count() >= 0 {
			return k
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatal("kusanagi traps did not start")
	return nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		log.Fatal(err)
	}
	return a
}

// snmptrapd runs net-snmp's receiver logging one line per trap to a file.
type snmptrapd struct {
	cmd  *exec.Cmd
	port int
	out  string
}

func (s *snmptrapd) name() string { return "net-snmp snmptrapd 5.9 (log to file)" }
func (s *snmptrapd) addr() string { return fmt.Sprintf("[::1]:%d", s.port) }
func (s *snmptrapd) stop()        { s.cmd.Process.Kill(); s.cmd.Wait() }

func (s *snmptrapd) count() int {
	f, err := os.Open(s.out)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "TRAP ") {
			n++
		}
	}
	return n
}

func startSnmptrapd(dir string) *snmptrapd {
	s := &snmptrapd{port: freePort("udp"), out: filepath.Join(dir, "snmptrapd.log")}
	conf := filepath.Join(dir, "snmptrapd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`authCommunity log %s
createUser -e 0x%s %s SHA %s AES %s
authUser log %s
format2 TRAP %%a\n
`, community, engineHex, user, authPass, privPass, user)), 0o644)
	s.cmd = exec.Command("snmptrapd", "-f", "-n", "-C", "-c", conf, "-m", "", "-M", "/nonexistent",
		"-Lf", s.out, "-p", filepath.Join(dir, "snmptrapd.pid"), fmt.Sprintf("udp6:[::1]:%d", s.port))
	s.cmd.Env = []string{"SNMP_PERSISTENT_DIR=" + dir, "HOME=" + dir}
	if err := s.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	time.Sleep(time.Second)
	return s
}

var storedNote []string

type step struct {
	rate, sent, got int
}

func measure(r receiver, pkts [][]byte, rates []int, d time.Duration) []step {
	var steps []step
	for _, rate := range rates {
		before := r.count()
		sent := blast(r.addr(), pkts, rate, d)
		// Let queued datagrams be processed: wait until the count stops moving.
		got := r.count() - before
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
			time.Sleep(500 * time.Millisecond)
			now := r.count() - before
			if now == got {
				break
			}
			got = now
		}
		steps = append(steps, step{rate, sent, got})
		log.Printf("%s: %d/s sent %d got %d", r.name(), rate, sent, got)
		if got < sent*9/10 {
			break // far past saturation
		}
	}
	return steps
}

func best(steps []step) int {
	b := 0
	for _, s := range steps {
		if s.got >= s.sent && s.rate > b {
			b = s.rate
		}
	}
	return b
}

func main() {
	bin := flag.String("kusanagi", "bin/kusanagi", "kusanagi binary")
	dur := flag.Duration("step", 2*time.Second, "duration of each rate step")
	flag.Parse()
	rates := []int{2500, 5000, 10000, 20000, 30000, 50000, 75000, 100000}
	fmt.Printf("## SNMP traps: kusanagi traps and net-snmp snmptrapd\n\n")
	fmt.Printf("Pre-encoded linkDown traps for 1000 interfaces replayed from one socket over IPv6 loopback, %s per rate step, one run on this machine (`test/bench/trapbench`). Zero loss means every trap sent at that rate was counted as received.\n\n", *dur)
	defer func() {
		for _, n := range storedNote {
			fmt.Printf("\n%s\n", n)
		}
	}()
	fmt.Printf("| version | receiver | highest rate with zero loss (traps/s) | received at the highest rate tried |\n| --- | --- | ---: | --- |\n")
	for _, version := range []string{"2c", "3"} {
		pkts := packets(version, 20000)
		results := map[string]int{}
		var order []string
		for _, start := range []func(string) receiver{
			func(d string) receiver { return startKusanagi(*bin, d) },
			func(d string) receiver { return startSnmptrapd(d) },
		} {
			dir, _ := os.MkdirTemp("", "trapbench-")
			r := start(dir)
			steps := measure(r, pkts, rates, *dur)
			if k, ok := r.(*kusanagi); ok {
				total := 0
				for _, s := range steps {
					total += s.got
				}
				stored := k.storedOnceSettled(total)
				fmt.Fprintf(os.Stderr, "v%s: %d of %d received traps stored in the log store\n", version, stored, total)
				storedNote = append(storedNote, fmt.Sprintf("v%s: %d of the %d traps kusanagi received over all steps were in its embedded log store once it had taken them all or taken none for 5 s.", version, stored, total))
			}
			r.stop()
			os.RemoveAll(dir)
			last := steps[len(steps)-1]
			results[r.name()] = best(steps)
			order = append(order, r.name())
			fmt.Printf("| v%s | %s | %d | %d of %d at %d/s |\n", version, r.name(), best(steps), last.got, last.sent, last.rate)
		}
		if b := results[order[1]]; b > 0 {
			fmt.Fprintf(os.Stderr, "v%s ratio %.1f\n", version, float64(results[order[0]])/float64(b))
			defer fmt.Printf("\nv%s: kusanagi / snmptrapd zero-loss rate = %.1f×\n", version, float64(results[order[0]])/float64(b))
		}
	}
}

package traps

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// captured is a Sender that records what the receiver sends.
type captured struct {
	mu     sync.Mutex
	alerts []sender.Alert
}

func (c *captured) Send(alerts ...sender.Alert) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.alerts = append(c.alerts, alerts...)
	return nil
}

func (c *captured) wait(t *testing.T, n int) []sender.Alert {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := append([]sender.Alert(nil), c.alerts...)
		c.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d alerts, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const testCatalogue = `alerts:
  - name: InterfaceDown
    severity: major
    summary: 'Interface {{ .Labels.ifName }} on {{ .Labels.instance }} is down'
    traps:
      - oid: IF-MIB::linkDown
        clear: IF-MIB::linkUp
        key: [ifIndex]
        match:
          - varbind: IF-MIB::ifAdminStatus
            equals: '1'
        labels:
          ifIndex: '{{ varbind "IF-MIB::ifIndex" }}'
          ifName: '{{ varbind "IF-MIB::ifDescr" }}'
`

var testUsers = []User{
	{Name: "noc-sha-aes", AuthProtocol: "SHA", AuthPassphrase: "authpass-123", PrivProtocol: "AES", PrivPassphrase: "privpass-123"},
	{Name: "noc-sha512-aes256", AuthProtocol: "SHA512", AuthPassphrase: "authpass-512", PrivProtocol: "AES256", PrivPassphrase: "privpass-256"},
	{Name: "noc-sha224-aes192", AuthProtocol: "SHA224", AuthPassphrase: "authpass-224", PrivProtocol: "AES192", PrivPassphrase: "privpass-192"},
	{Name: "noc-md5-des", AuthProtocol: "MD5", AuthPassphrase: "authpass-md5", PrivProtocol: "DES", PrivPassphrase: "privpass-des"},
}

type testReceiver struct {
	r      *Receiver
	sent   *captured
	reg    *prometheus.Registry
	v4, v6 string // host:port of the sockets
}

func startReceiver(t *testing.T, catalogue string, o Options) *testReceiver {
	t.Helper()
	c, errs := rules.Parse(rules.File{Name: "catalogue.yml", Src: []byte(catalogue)})
	if errs != nil {
		t.Fatal(errs)
	}
	tr := &testReceiver{sent: &captured{}, reg: prometheus.NewRegistry()}
	o.ListenAddresses = []string{"[::]:0"}
	o.Catalogue = func() *rules.Catalogue { return c }
	o.Sender = tr.sent
	o.Registerer = tr.reg
	if o.Communities == nil {
		o.Communities = []string{"s3cret"}
	}
	o.Users = testUsers
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	tr.r = r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addrs, err := r.Addrs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port := addrs[0].(*net.UDPAddr).Port
	tr.v4 = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tr.v6 = net.JoinHostPort("::1", strconv.Itoa(port))
	return tr
}

// netSNMP runs one of net-snmp's own tools (Debian package snmp, which
// `make test` installs).
func netSNMP(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: `make test` installs the Debian package snmp (net-snmp's tools)", tool)
	}
	cmd := exec.Command(path, append([]string{"-m", "", "-M", "/nonexistent", "-Ln"}, args...)...)
	cmd.Env = []string{"HOME=" + t.TempDir(), "SNMP_PERSISTENT_DIR=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// linkVarbinds are IF-MIB linkDown/linkUp objects for ifIndex 3.
var linkVarbinds = []string{
	"1.3.6.1.2.1.2.2.1.1.3", "i", "3",
	"1.3.6.1.2.1.2.2.1.7.3", "i", "1",
	"1.3.6.1.2.1.2.2.1.8.3", "i", "2",
	"1.3.6.1.2.1.2.2.1.2.3", "s", "GigabitEthernet0/3",
}

const (
	linkDown = "1.3.6.1.6.3.1.1.5.3"
	linkUp   = "1.3.6.1.6.3.1.1.5.4"
)

func TestNetSNMPTrapsRaiseAndResolve(t *testing.T) {
	tr := startReceiver(t, testCatalogue, Options{})
	cases := []struct {
		name string
		tool string
		args func(dst, oid string) []string
		src  string
	}{
		{"v2c over IPv6", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "2c", "-c", "s3cret", "udp6:" + dst, "", oid}, linkVarbinds...)
		}, "::1"},
		{"v2c over IPv4", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "2c", "-c", "s3cret", "udp:" + dst, "", oid}, linkVarbinds...)
		}, "127.0.0.1"},
		{"v3 authPriv SHA/AES", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "3", "-u", "noc-sha-aes", "-l", "authPriv", "-a", "SHA", "-A", "authpass-123",
				"-x", "AES", "-X", "privpass-123", "-e", "0x80001f8880c1a2b3c4d5e6f708", "udp6:" + dst, "", oid}, linkVarbinds...)
		}, "::1"},
		{"v3 authPriv MD5/DES", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "3", "-u", "noc-md5-des", "-l", "authPriv", "-a", "MD5", "-A", "authpass-md5",
				"-x", "DES", "-X", "privpass-des", "-e", "0x80001f8880aabbccddeeff0011", "udp:" + dst, "", oid}, linkVarbinds...)
		}, "127.0.0.1"},
		{"v3 authPriv SHA-512/AES-256", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "3", "-u", "noc-sha512-aes256", "-l", "authPriv", "-a", "SHA-512", "-A", "authpass-512",
				"-x", "AES-256", "-X", "privpass-256", "-e", "0x80001f8880aabbccddeeff0022", "udp6:" + dst, "", oid}, linkVarbinds...)
		}, "::1"},
		{"v3 authPriv SHA-224/AES-192", "snmptrap", func(dst, oid string) []string {
			return append([]string{"-v", "3", "-u", "noc-sha224-aes192", "-l", "authPriv", "-a", "SHA-224", "-A", "authpass-224",
				"-x", "AES-192", "-X", "privpass-192", "-e", "0x80001f8880aabbccddeeff0033", "udp:" + dst, "", oid}, linkVarbinds...)
		}, "127.0.0.1"},
		{"v2c inform over IPv6", "snmpinform", func(dst, oid string) []string {
			return append([]string{"-v", "2c", "-c", "s3cret", "-t", "2", "-r", "1", "udp6:" + dst, "", oid}, linkVarbinds...)
		}, "::1"},
		{"v3 inform over IPv4", "snmpinform", func(dst, oid string) []string {
			return append([]string{"-v", "3", "-u", "noc-sha-aes", "-l", "authPriv", "-a", "SHA", "-A", "authpass-123",
				"-x", "AES", "-X", "privpass-123", "-t", "2", "-r", "1", "udp:" + dst, "", oid}, linkVarbinds...)
		}, "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr.sent.mu.Lock()
			tr.sent.alerts = nil
			tr.sent.mu.Unlock()
			dst := tr.v4
			if strings.Contains(c.src, ":") {
				dst = tr.v6
			}
			if out, err := netSNMP(t, c.tool, c.args(dst, linkDown)...); err != nil {
				t.Fatalf("%s linkDown: %v\n%s", c.tool, err, out)
			}
			got := tr.sent.wait(t, 1)
			a := got[0]
			want := map[string]string{"alertname": "InterfaceDown", "severity": "major", "instance": c.src, "ifIndex": "3", "ifName": "GigabitEthernet0/3"}
			for k, v := range want {
				if a.Labels[k] != v {
					t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
				}
			}
			if a.Annotations["summary"] != "Interface GigabitEthernet0/3 on "+c.src+" is down" {
				t.Errorf("summary %q", a.Annotations["summary"])
			}
			if !a.EndsAt.After(time.Now().Add(23 * time.Hour)) {
				t.Errorf("endsAt %v: want resolve_after (24h) ahead", a.EndsAt)
			}
			if out, err := netSNMP(t, c.tool, c.args(dst, linkUp)...); err != nil {
				t.Fatalf("%s linkUp: %v\n%s", c.tool, err, out)
			}
			got = tr.sent.wait(t, 2)
			r := got[1]
			if r.EndsAt.After(time.Now()) || r.Labels["alertname"] != "InterfaceDown" || r.Labels["ifIndex"] != "3" || r.Labels["instance"] != c.src {
				t.Fatalf("linkUp did not resolve the alert: %+v", r)
			}
		})
	}
	if v := testutil.ToFloat64(tr.r.metrics.informsAcked); v != 4 {
		t.Errorf("informs acknowledged = %v, want 4 (linkDown and linkUp of two inform cases)", v)
	}
}

func TestNetSNMPv1TrapConvertedPerRFC3584(t *testing.T) {
	tr := startReceiver(t, testCatalogue, Options{})
	// Generic trap 2 (linkDown) from enterprise net-snmp.
	args := append([]string{"-v", "1", "-c", "s3cret", "udp:" + tr.v4, "1.3.6.1.4.1.8072.3.2.10", "192.0.2.7", "2", "0", ""}, linkVarbinds...)
	if out, err := netSNMP(t, "snmptrap", args...); err != nil {
		t.Fatalf("snmptrap v1: %v\n%s", err, out)
	}
	a := tr.sent.wait(t, 1)[0]
	if a.Labels["alertname"] != "InterfaceDown" || a.Labels["ifIndex"] != "3" || a.Labels["instance"] != "127.0.0.1" {
		t.Fatalf("v1 linkDown: %v", a.Labels)
	}
}

func TestWrongCredentialsAreDroppedAndCounted(t *testing.T) {
	tr := startReceiver(t, testCatalogue, Options{})
	bad := [][]string{
		append([]string{"-v", "3", "-u", "noc-sha-aes", "-l", "authPriv", "-a", "SHA", "-A", "wrong-password",
			"-x", "AES", "-X", "privpass-123", "-e", "0x80001f8880c1a2b3c4d5e6f708", "udp:" + tr.v4, "", linkDown}, linkVarbinds...),
		append([]string{"-v", "3", "-u", "intruder", "-l", "authPriv", "-a", "SHA", "-A", "authpass-123",
			"-x", "AES", "-X", "privpass-123", "-e", "0x80001f8880c1a2b3c4d5e6f708", "udp:" + tr.v4, "", linkDown}, linkVarbinds...),
		append([]string{"-v", "2c", "-c", "public", "udp6:" + tr.v6, "", linkDown}, linkVarbinds...),
	}
	for _, args := range bad {
		if out, err := netSNMP(t, "snmptrap", args...); err != nil {
			t.Fatalf("snmptrap: %v\n%s", err, out)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(tr.r.metrics.dropped.WithLabelValues(string(DropAuth))) != 2 ||
		testutil.ToFloat64(tr.r.metrics.dropped.WithLabelValues(string(DropCommunity))) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("dropped: v3_auth=%v unknown_community=%v, want 2 and 1",
				testutil.ToFloat64(tr.r.metrics.dropped.WithLabelValues(string(DropAuth))),
				testutil.ToFloat64(tr.r.metrics.dropped.WithLabelValues(string(DropCommunity))))
		}
		time.Sleep(5 * time.Millisecond)
	}
	tr.sent.mu.Lock()
	defer tr.sent.mu.Unlock()
	if len(tr.sent.alerts) != 0 {
		t.Fatalf("a trap with wrong credentials raised %v", tr.sent.alerts)
	}
}

func TestRepeatedFaultIsFolded(t *testing.T) {
	tr := startReceiver(t, testCatalogue, Options{})
	for range 3 {
		if out, err := netSNMP(t, "snmptrap", append([]string{"-v", "2c", "-c", "s3cret", "udp:" + tr.v4, "", linkDown}, linkVarbinds...)...); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(tr.r.metrics.folded) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("folded = %v, want 2", testutil.ToFloat64(tr.r.metrics.folded))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(tr.sent.wait(t, 1)); n != 1 {
		t.Fatalf("%d alerts sent for three identical faults, want 1", n)
	}
}

func TestUnknownTrapRaisesGenericAlert(t *testing.T) {
	tr := startReceiver(t, testCatalogue, Options{UnknownTrapAlert: true})
	if out, err := netSNMP(t, "snmptrap", "-v", "2c", "-c", "s3cret", "udp:"+tr.v4, "", "1.3.6.1.4.1.99999.0.1"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	a := tr.sent.wait(t, 1)[0]
	if a.Labels["alertname"] != "UnknownTrap" || a.Labels["trap_oid"] != "1.3.6.1.4.1.99999.0.1" {
		t.Fatalf("got %v", a.Labels)
	}
	if v := testutil.ToFloat64(tr.r.metrics.unmatched); v != 1 {
		t.Fatalf("unmatched = %v", v)
	}
}

func TestNamesResolve(t *testing.T) {
	n := NewNames()
	for in, want := range map[string]string{
		"IF-MIB::linkDown":   "1.3.6.1.6.3.1.1.5.3",
		"IF-MIB::ifDescr.3":  "1.3.6.1.2.1.2.2.1.2.3",
		".1.3.6.1.2.1.1.3.0": "1.3.6.1.2.1.1.3.0",
	} {
		if got, err := n.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got := n.Name("1.3.6.1.2.1.2.2.1.2.3"); got != "IF-MIB::ifDescr.3" {
		t.Errorf("Name = %q", got)
	}
	if _, err := n.Resolve("NO-SUCH-MIB::thing"); err == nil {
		t.Error("unknown name resolved")
	}
}

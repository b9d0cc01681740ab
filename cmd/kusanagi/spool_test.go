package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// TestSyslogKill9LosesNothingAccepted sends lines over TCP to `kusanagi
// syslog`, kills it with SIGKILL once it has spooled them all but before
// the embedded store has indexed them, starts it again on the same data
// directory and finds every line in the store: what the receiver accepted
// survives the crash in the spool and is written after the restart.
func TestSyslogKill9LosesNothingAccepted(t *testing.T) {
	const n = 60000
	data := filepath.Join(t.TempDir(), "data")
	start := func() (*process, string) {
		p := startKusanagi(t, "syslog", "--data.dir="+data, "--web.listen-address=[::1]:0",
			"--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
		return p, "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	}
	p, web := start()
	tcp := p.waitLog(`msg="listening for syslog" .*transport=tcp address=(\S+)`)[1]

	c, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(c)
	ts := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	for i := range n {
		fmt.Fprintf(bw, "<187>1 %s core1 spooltest - %d - %%LINK-3-UPDOWN: Interface Gi0/1, changed state to down (%d)\n", ts, i, i)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, time.Minute, func() bool {
		return metric(t, web, `kusanagi_logs_records_spooled_total\{source="syslog"\}`) == strconv.Itoa(n)
	})
	inSpool := metric(t, web, `kusanagi_logs_spool_records\{source="syslog"\}`)
	written := metric(t, web, `kusanagi_logs_records_written_total\{source="syslog"\}`)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	t.Logf("killed with %s records in the spool, %s written to the store", inSpool, written)
	if inSpool == "0" {
		t.Fatal("the store had every record before the kill: the test proves nothing; send more lines")
	}

	p, web = start()
	p.waitLog(`msg="spool holds records accepted by an earlier run; they go to the store first"`)
	waitFor(t, time.Minute, func() bool { return metric(t, web, `kusanagi_logs_spool_records\{source="syslog"\}`) == "0" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait()

	groups := countStored(t, data, `log.syslog.appname:spooltest`, "log.syslog.msgid")
	var total int64
	seen := make([]bool, n)
	for _, g := range groups {
		i, err := strconv.Atoi(g.Group["log.syslog.msgid"])
		if err != nil || i < 0 || i >= n {
			t.Fatalf("unexpected group %v", g.Group)
		}
		seen[i] = true
		total += g.Count
	}
	var missing []string
	for i, ok := range seen {
		if !ok && len(missing) < 10 {
			missing = append(missing, strconv.Itoa(i))
		}
	}
	if len(groups) != n {
		t.Fatalf("%d of %d lines in the store after the restart; missing %s...", len(groups), n, strings.Join(missing, ", "))
	}
	// At least once: the segment being written when the kill came is
	// written again.
	t.Logf("%d distinct lines stored, %d records (%d written twice)", len(groups), total, total-n)
}

// waitFor is waitUntil with a deadline of d: the embedded store indexes a
// few tens of thousands of lines per second on a shared machine.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
	}
}

// TestTrapsKill9LosesNothingAccepted is the same guarantee for traps: every
// trap the receiver counted is in the store after a kill -9 and a restart.
func TestTrapsKill9LosesNothingAccepted(t *testing.T) {
	const n = 30000
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	config := filepath.Join(dir, "kusanagi.yaml")
	writeFile(t, config, "traps:\n  communities: [s3cret]\nalerting:\n  alertmanagers: ['http://[::1]:1']\n")
	start := func() (*process, string) {
		p := startKusanagi(t, "traps", "--config.file="+config, "--data.dir="+data, "--web.listen-address=[::1]:0",
			"--traps.listen-address=[::1]:0")
		return p, "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	}
	p, web := start()
	trapAddr := p.waitLog(`msg="listening for traps".* address=(\S+)`)[1]

	host, port, err := net.SplitHostPort(trapAddr)
	if err != nil {
		t.Fatal(err)
	}
	portNum, _ := strconv.Atoi(port)
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(portNum), Transport: "udp", Version: gosnmp.Version2c,
		Community: "s3cret", Timeout: time.Second, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	// Bursts of n traps until one leaves records in the spool when the
	// receiver has spooled them all: the kill must come while the store is
	// behind, and how far behind depends on the machine.
	var received, inSpool string
	for burst := 0; ; burst++ {
		if burst == 5 {
			t.Fatal("the store kept up with every burst: the test proves nothing; send faster")
		}
		for i := burst * n; i < (burst+1)*n; i++ {
			if _, err := g.SendTrap(gosnmp.SnmpTrap{Variables: []gosnmp.SnmpPDU{
				{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(i)},
				{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.6.3.1.1.5.3"},
				{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.1.%d", i), Type: gosnmp.Integer, Value: i},
			}}); err != nil {
				t.Fatal(err)
			}
			if i%2000 == 1999 {
				time.Sleep(5 * time.Millisecond) // stay under the socket buffer
			}
		}
		// UDP may drop in the kernel: what counts is every trap the
		// receiver took.
		waitFor(t, time.Minute, func() bool {
			received = metric(t, web, `kusanagi_traps_received_total\{version="2c"\}`)
			return received != "" && metric(t, web, `kusanagi_logs_records_spooled_total\{source="traps"\}`) == received
		})
		if inSpool = metric(t, web, `kusanagi_logs_spool_records\{source="traps"\}`); inSpool != "0" {
			break
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	t.Logf("%s traps received; killed with %s records in the spool", received, inSpool)

	p, web = start()
	waitFor(t, time.Minute, func() bool { return metric(t, web, `kusanagi_logs_spool_records\{source="traps"\}`) == "0" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait()

	groups := countStored(t, data, `event.dataset:snmp.trap`, "snmp.varbind.IF-MIB.ifIndex")
	if want, _ := strconv.Atoi(received); len(groups) != want {
		t.Fatalf("%d distinct traps in the store after the restart, want the %d received", len(groups), want)
	}
}

// countStored opens the embedded store a stopped kusanagi left in data and
// counts the records matching q in the last hour per value of field.
func countStored(t *testing.T, data, q, field string) []logs.GroupCount {
	t.Helper()
	store, err := embedded.Open(filepath.Join(data, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	parsed, err := query.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := store.Count(context.Background(), parsed, []string{field}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return groups
}

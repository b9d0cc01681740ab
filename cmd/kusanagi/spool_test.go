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
	p.cmd.Wait()
	t.Logf("killed with %s records in the spool, %s written to the store", inSpool, written)
	if inSpool == "0" {
		t.Fatal("the store had every record before the kill: the test proves nothing; send more lines")
	}

	p, web = start()
	p.waitLog(`msg="spool holds records accepted by an earlier run; they go to the store first"`)
	waitFor(t, time.Minute, func() bool { return metric(t, web, `kusanagi_logs_spool_records\{source="syslog"\}`) == "0" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	store, err := embedded.Open(filepath.Join(data, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	q, err := query.Parse(`log.syslog.appname:spooltest`)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := store.Count(context.Background(), q, []string{"log.syslog.msgid"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
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

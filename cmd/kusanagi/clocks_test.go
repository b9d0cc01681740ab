package main

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clockLines are lines of one Cisco fault from gear whose clocks are
// wrong as gear clocks are, each with a word of its own (w<kind><transport>)
// to be found by: a router that booted into 1993 without NTP (NX-OS's
// year-first stamp), RFC 5424's example year 2003, a clock 13 days
// behind (IOS with origin-id), one 3 days ahead (BSD form), and a line
// with no timestamp (`no service timestamps`).
func clockLines(now time.Time, transport string) map[string]string {
	down := func(port int, word string) string {
		return fmt.Sprintf("%%LINK-3-UPDOWN: Interface GigabitEthernet0/%d, changed state to down %s%s", port, word, transport)
	}
	return map[string]string{
		"w1993" + transport:   "<187>1993 Mar  1 00:00:12 r1993 " + down(1, "w1993"),
		"w2003" + transport:   "<187>1 2003-10-11T22:14:15.003Z r2003 ios - - - " + down(2, "w2003"),
		"wbehind" + transport: "<187>12: rbehind: *" + now.Add(-13*24*time.Hour).Format("Jan _2 15:04:05.000") + ": " + down(3, "wbehind"),
		"wahead" + transport:  "<187>" + now.Add(3*24*time.Hour).Format(time.Stamp) + " rahead 55: " + down(4, "wahead"),
		"wnone" + transport:   "<187>" + down(5, "wnone"),
	}
}

// TestLinesFromWrongClocksAreStoredFoundAndAlerted is the promise of
// arrival time, end to end in `kusanagi run` over UDP and TCP: each line
// of clockLines is stored, found by `kusanagi logs query WORD --since=5m`
// with its own time kept, counted in the sender's clock skew, and raises
// a `window: 1m` log rule.
func TestLinesFromWrongClocksAreStoredFoundAndAlerted(t *testing.T) {
	dir := t.TempDir()
	amPort := freeTCPPort(t)
	writeFile(t, filepath.Join(dir, "catalogue.yml"), `alerts:
  - name: InterfaceDownLogged
    severity: major
    summary: 'link down logged: {{ $labels.message }}'
    logs:
      - query: 'event.code:"LINK-3-UPDOWN" AND message:"changed state to down"'
        every: 1s
        window: 1m
        group_by: [message]
`)
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), fmt.Sprintf("catalogue:\n  files: [catalogue.yml]\nalerting:\n  alertmanagers: ['http://[::1]:%d']\nalertmanager:\n  config_file: %q\n",
		amPort, amConfig(t, "http://[::1]:1/", "1h")))
	p := startKusanagi(t, "run", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", fmt.Sprintf("--alertmanager.listen-address=[::1]:%d", amPort),
		"--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	web := "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	udpAddr := p.waitLog(`msg="listening for syslog" .*transport=udp address=(\[::1\]:\d+)`)[1]
	tcpAddr := p.waitLog(`msg="listening for syslog" .*transport=tcp address=(\[::1\]:\d+)`)[1]
	p.waitLog(`msg="alertmanager ready"`)
	am := fmt.Sprintf("http://[::1]:%d", amPort)

	now := time.Now().UTC()
	lines := clockLines(now, "udp")
	udp, err := net.Dial("udp6", udpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, l := range lines {
		if _, err := udp.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	tcpLines := clockLines(now, "tcp")
	tcp, err := net.Dial("tcp6", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	for w, l := range tcpLines {
		lines[w] = l
		if _, err := fmt.Fprintf(tcp, "%s\n", l); err != nil {
			t.Fatal(err)
		}
	}

	// Every line raises the rule, in a one-minute window on its arrival.
	waitUntil(t, func() bool { return len(alertsAt(t, am, "InterfaceDownLogged")) == len(lines) })
	for _, a := range alertsAt(t, am, "InterfaceDownLogged") {
		word := a.Labels["message"][strings.LastIndexByte(a.Labels["message"], ' ')+1:]
		if _, ok := lines[word]; !ok {
			t.Errorf("an alert for no line sent: %+v", a)
		}
	}

	// Each is found by its word within the last five minutes, with its
	// sender's time kept beside the arrival.
	for word, line := range lines {
		var out strings.Builder
		if code := run(t.Context(), []string{"logs", "query", "--url=" + web, "--since=5m", word}, &out, &out); code != 0 {
			t.Fatalf("logs query %s: exit %d: %s", word, code, out.String())
		}
		if got := strings.Count(out.String(), " ::1 %LINK-3-UPDOWN: "); got != 1 {
			t.Errorf("logs query %s --since=5m found %d lines, want 1 (sent %q):\n%s", word, got, line, out.String())
		}
		var res struct {
			Data []struct {
				Timestamp time.Time         `json:"@timestamp"`
				Received  time.Time         `json:"event.created"`
				Fields    map[string]string `json:"fields"`
			} `json:"data"`
		}
		getJSON(t, web+"/api/v1/logs?since=5m&query="+url.QueryEscape(word), &res)
		if len(res.Data) != 1 {
			t.Fatalf("/api/v1/logs?query=%s: %d records", word, len(res.Data))
		}
		r := res.Data[0]
		if r.Received.Before(now.Add(-time.Minute)) || r.Received.After(time.Now().Add(time.Minute)) {
			t.Errorf("%s: event.created %v is not its arrival (about %v)", word, r.Received, now)
		}
		if r.Fields["event.code"] != "LINK-3-UPDOWN" {
			t.Errorf("%s: event.code %q", word, r.Fields["event.code"])
		}
		wantYear := map[string]int{"w1993": 1993, "w2003": 2003}[strings.TrimSuffix(strings.TrimSuffix(word, "udp"), "tcp")]
		if wantYear != 0 && r.Timestamp.Year() != wantYear {
			t.Errorf("%s: @timestamp %v, want the sender's %d", word, r.Timestamp, wantYear)
		}
		if strings.HasPrefix(word, "wnone") != (r.Fields["log.syslog.clock_skew_seconds"] == "") {
			t.Errorf("%s: clock skew %q", word, r.Fields["log.syslog.clock_skew_seconds"])
		}
	}
	if v := metric(t, web, `kusanagi_syslog_clock_skew_lines_total\{sender="::1"\}`); v != "8" {
		t.Errorf("kusanagi_syslog_clock_skew_lines_total{sender=\"::1\"} = %s, want 8", v)
	}
}

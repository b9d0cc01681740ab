package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func alertsAt(t *testing.T, base, alertname string) []amAlert {
	t.Helper()
	var all, out []amAlert
	getJSON(t, base+"/api/v2/alerts", &all)
	for _, a := range all {
		if a.Labels["alertname"] == alertname {
			out = append(out, a)
		}
	}
	return out
}

// TestTrapToAlertmanagerEndToEnd runs the all-in-one with its embedded
// Alertmanager, sends linkDown and linkUp with net-snmp's snmptrap and an
// inform with kusanagi send-trap, and watches the alert appear at, and
// leave, the Alertmanager.
func TestTrapToAlertmanagerEndToEnd(t *testing.T) {
	dir := t.TempDir()
	amPort := freeTCPPort(t)
	writeFile(t, filepath.Join(dir, "catalogue.yml"), `alerts:
  - name: InterfaceDown
    severity: major
    summary: 'Interface {{ .Labels.ifName }} on {{ .Labels.instance }} is down'
    traps:
      - oid: IF-MIB::linkDown
        clear: IF-MIB::linkUp
        key: [ifIndex]
        labels:
          ifIndex: '{{ varbind "IF-MIB::ifIndex" }}'
          ifName: '{{ varbind "IF-MIB::ifDescr" }}'
  - name: TrapStorm
    severity: warning
    summary: '{{ $value }} traps from {{ $labels.host_ip }} in 30s'
    logs:
      - query: 'event.dataset:snmp.trap AND source.ip:"::1"'
        every: 1s
        window: 30s
        group_by: [host.ip]
        condition: count >= 2
  - name: FanFailed
    severity: minor
    summary: 'Fan {{ .Labels.fan }} failed on {{ .Labels.instance }}'
    traps:
      - oid: KUSANAGI-TEST-MIB::kusanagiTestFanFailed
        clear: KUSANAGI-TEST-MIB::kusanagiTestFanRecovered
        key: [fan]
        labels:
          fan: '{{ varbind "KUSANAGI-TEST-MIB::kusanagiTestFanName" }}'
`)
	mibs, _ := filepath.Abs("../../traps/testdata/mibs")
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), fmt.Sprintf(`catalogue:
  files: [catalogue.yml]
alerting:
  alertmanagers: ['http://[::1]:%d']
traps:
  communities: [s3cret]
  mib_dirs: [%q]
  users:
    - name: noc
      auth_protocol: SHA256
      auth_passphrase: auth-secret-1
      priv_protocol: AES
      priv_passphrase: priv-secret-1
`, amPort, mibs))
	amConfigPath := amConfig(t, "http://[::1]:1/", "1h")
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), readFile(t, filepath.Join(dir, "kusanagi.yaml"))+
		fmt.Sprintf("alertmanager:\n  config_file: %q\n", amConfigPath))

	p := startKusanagi(t, "run", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", fmt.Sprintf("--alertmanager.listen-address=[::1]:%d", amPort), "--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	webAddr := p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	trapAddr := p.waitLog(`msg="listening for traps".* address=(\S+)`)[1]
	p.waitLog(`msg="alertmanager ready"`)
	am := fmt.Sprintf("http://[::1]:%d", amPort)

	link := []string{"1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.2.2.1.2.3", "s", "GigabitEthernet0/3"}
	snmptrap := func(oid string) {
		t.Helper()
		out, err := exec.Command("snmptrap", append([]string{"-m", "", "-Ln", "-v", "2c", "-c", "s3cret", "udp6:" + trapAddr, "", oid}, link...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("snmptrap: %v\n%s", err, out)
		}
	}
	snmptrap("1.3.6.1.6.3.1.1.5.3")
	waitUntil(t, func() bool { return len(alertsAt(t, am, "InterfaceDown")) == 1 })
	a := alertsAt(t, am, "InterfaceDown")[0]
	if a.Labels["instance"] != "::1" || a.Labels["ifName"] != "GigabitEthernet0/3" || a.Labels["severity"] != "major" || a.Labels["team"] != "" {
		t.Fatalf("alert at the Alertmanager: %+v", a)
	}
	if a.Annotations["summary"] != "Interface GigabitEthernet0/3 on ::1 is down" {
		t.Fatalf("summary %q", a.Annotations["summary"])
	}
	snmptrap("1.3.6.1.6.3.1.1.5.4")
	waitUntil(t, func() bool { return len(alertsAt(t, am, "InterfaceDown")) == 0 })

	// The two traps are log records too: the log-query rule counts them.
	waitUntil(t, func() bool { return len(alertsAt(t, am, "TrapStorm")) == 1 })
	if s := alertsAt(t, am, "TrapStorm")[0]; s.Labels["host_ip"] != "::1" || s.Annotations["summary"] != "2 traps from ::1 in 30s" {
		t.Fatalf("TrapStorm: %+v", s)
	}
	var rulesRes struct {
		Data []struct {
			Alert  string `json:"alert"`
			Groups []struct {
				State string `json:"state"`
			} `json:"groups"`
		} `json:"data"`
	}
	getJSON(t, "http://"+webAddr+"/api/v1/rules", &rulesRes)
	if len(rulesRes.Data) != 1 || rulesRes.Data[0].Alert != "TrapStorm" || len(rulesRes.Data[0].Groups) != 1 || rulesRes.Data[0].Groups[0].State != "firing" {
		t.Fatalf("/api/v1/rules: %+v", rulesRes)
	}

	// kusanagi send-trap: a v3 authPriv inform, with names from a vendor MIB.
	var out strings.Builder
	code := run(t.Context(), []string{"send-trap", "--to=" + trapAddr, "--snmp.version=3", "--inform",
		"--user=noc", "--auth-protocol=SHA256", "--auth-passphrase=auth-secret-1", "--priv-protocol=AES", "--priv-passphrase=priv-secret-1",
		"1.3.6.1.4.1.99999.0.1", "1.3.6.1.4.1.99999.1.2.1=s:fan-tray-2"}, &out, &out)
	if code != 0 {
		t.Fatalf("send-trap exited %d: %s", code, out.String())
	}
	waitUntil(t, func() bool { return len(alertsAt(t, am, "FanFailed")) == 1 })
	if f := alertsAt(t, am, "FanFailed")[0]; f.Labels["fan"] != "fan-tray-2" {
		t.Fatalf("FanFailed: %+v", f)
	}

	// Every trap is in the log store, searchable like logs.
	var res struct {
		Status string `json:"status"`
		Data   []struct {
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"data"`
	}
	q := url.QueryEscape(`event.dataset:snmp.trap AND event.code:"KUSANAGI-TEST-MIB::kusanagiTestFanFailed"`)
	waitUntil(t, func() bool {
		getJSON(t, "http://"+webAddr+"/api/v1/logs?since=10m&query="+q, &res)
		return len(res.Data) == 1
	})
	if res.Data[0].Fields["snmp.user"] != "noc" || res.Data[0].Fields["snmp.varbind.KUSANAGI-TEST-MIB.kusanagiTestFanName"] != "fan-tray-2" {
		t.Fatalf("stored trap: %+v", res.Data[0])
	}
	getJSON(t, "http://"+webAddr+"/api/v1/logs?since=10m&query="+url.QueryEscape("event.dataset:snmp.trap"), &res)
	if len(res.Data) != 3 {
		t.Fatalf("%d traps stored, want 3 (linkDown, linkUp, the inform)", len(res.Data))
	}

	// kusanagi logs query, the command-line client of the same endpoint.
	var lq strings.Builder
	if code := run(t.Context(), []string{"logs", "query", "--url=http://" + webAddr, "--since=10m", `event.code:"IF-MIB::linkUp"`}, &lq, &lq); code != 0 {
		t.Fatalf("logs query exited %d: %s", code, lq.String())
	}
	if out := lq.String(); strings.Count(out, "IF-MIB::linkUp from ::1") != 1 || !strings.Contains(out, `snmp.community="s3cret"`) {
		t.Fatalf("kusanagi logs query:\n%s", out)
	}
	lq.Reset()
	if code := run(t.Context(), []string{"logs", "query", "--url=http://" + webAddr, "message:(unbalanced"}, &lq, &lq); code != 1 || !strings.Contains(lq.String(), "query column") {
		t.Fatalf("a bad query: exit %d: %s", code, lq.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

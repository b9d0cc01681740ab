package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSyslogLinesRaiseAndResolveALogAlert sends Cisco lines with util-linux
// logger over UDP to the all-in-one and watches the catalogue's log rule
// raise the alert at the embedded Alertmanager, then resolve it once the
// lines stop and leave the window.
func TestSyslogLinesRaiseAndResolveALogAlert(t *testing.T) {
	dir := t.TempDir()
	amPort := freeTCPPort(t)
	writeFile(t, filepath.Join(dir, "catalogue.yml"), `alerts:
  - name: LinkDownLogged
    severity: major
    summary: '{{ $value }} link-down lines from {{ $labels.host_ip }}'
    logs:
      - query: 'event.code:"LINK-3-UPDOWN" AND message:"changed state to down"'
        every: 1s
        window: 3s
        group_by: [host.ip]
`)
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), fmt.Sprintf("catalogue:\n  files: [catalogue.yml]\nalerting:\n  alertmanagers: ['http://[::1]:%d']\nalertmanager:\n  config_file: %q\n",
		amPort, amConfig(t, "http://[::1]:1/", "1h")))
	p := startKusanagi(t, "run", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", fmt.Sprintf("--alertmanager.listen-address=[::1]:%d", amPort),
		"--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0")
	udp := p.waitLog(`msg="listening for syslog" .*transport=udp address=\[::1\]:(\d+)`)[1]
	p.waitLog(`msg="alertmanager ready"`)
	am := fmt.Sprintf("http://[::1]:%d", amPort)
	for range 2 {
		out, err := exec.Command("logger", "--rfc3164", "-d", "-n", "::1", "-P", udp, "-t", "ios",
			"%LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down").CombinedOutput()
		if err != nil {
			t.Fatalf("logger: %v\n%s", err, out)
		}
	}
	waitUntil(t, func() bool { return len(alertsAt(t, am, "LinkDownLogged")) == 1 })
	a := alertsAt(t, am, "LinkDownLogged")[0]
	if a.Labels["host_ip"] != "::1" || a.Annotations["summary"] != "2 link-down lines from ::1" {
		t.Fatalf("alert: %+v", a)
	}
	// No more lines: once they leave the 3s window the rule resolves it.
	waitUntil(t, func() bool { return len(alertsAt(t, am, "LinkDownLogged")) == 0 })
}

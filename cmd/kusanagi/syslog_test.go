package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kusanagi-dev/kusanagi/internal/testpki"
	"github.com/kusanagi-dev/kusanagi/logs/syslog"
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
		"--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
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

// TestSendLogOverTLSToSyslog runs `kusanagi syslog` with TLS listeners on
// ::1 and 127.0.0.1 that require a client certificate from the site CA,
// sends with `kusanagi send-log --transport=tls` and finds the lines, with
// the client's subject, in the log store; a client certificate from
// another CA is refused, and send-log says so.
func TestSendLogOverTLSToSyslog(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "syslog-ca")
	other := testpki.NewCA(t, dir, "other-ca")
	ca.Issue(t, dir, "collector")
	clientCert, clientKey := ca.Issue(t, dir, "router-7")
	strangerCert, strangerKey := other.Issue(t, dir, "stranger")
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), `alerting:
  alertmanagers: ['http://[::1]:1']
syslog:
  tls_listen_addresses: ['[::1]:0', '127.0.0.1:0']
  tls:
    cert_file: collector.crt
    key_file: collector.key
    client_ca_file: syslog-ca.crt
    client_auth_type: RequireAndVerifyClientCert
    min_version: TLS13
`)
	p := startKusanagi(t, "syslog", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0")
	web := "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	tls6 := p.waitLog(`msg="listening for syslog" .*transport=tls address=(\[::1\]:\d+)`)[1]
	tls4 := p.waitLog(`msg="listening for syslog" .*transport=tls address=(127\.0\.0\.1:\d+)`)[1]

	sendLog := func(to string, flags ...string) (int, string) {
		var out strings.Builder
		args := append([]string{"send-log", "--transport=tls", "--to=" + to, "--tls.ca-file=" + ca.File}, flags...)
		code := run(t.Context(), append(args, "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down via "+to), &out, &out)
		return code, out.String()
	}
	for _, to := range []string{tls6, tls4} {
		if code, out := sendLog(to, "--tls.cert-file="+clientCert, "--tls.key-file="+clientKey, "--tls.server-name=localhost"); code != 0 {
			t.Fatalf("send-log to %s: exit %d: %s", to, code, out)
		}
	}
	if code, out := sendLog(tls6, "--tls.cert-file="+strangerCert, "--tls.key-file="+strangerKey); code == 0 || !strings.Contains(out, "refused the message") {
		t.Fatalf("a certificate from another CA: exit %d: %s", code, out)
	}

	var res struct {
		Data []struct {
			HostIP string            `json:"host.ip"`
			Fields map[string]string `json:"fields"`
		} `json:"data"`
	}
	waitUntil(t, func() bool {
		getJSON(t, web+"/api/v1/logs?since=10m&query="+url.QueryEscape(`event.code:"LINK-3-UPDOWN"`), &res)
		return len(res.Data) >= 2
	})
	hosts := map[string]bool{}
	for _, r := range res.Data {
		if r.Fields["tls.client.subject"] != "CN=router-7,O=Kusanagi test" {
			t.Errorf("record from %s: tls.client.subject %q", r.HostIP, r.Fields["tls.client.subject"])
		}
		hosts[r.HostIP] = true
	}
	if len(res.Data) != 2 || !hosts["::1"] || !hosts["127.0.0.1"] {
		t.Fatalf("stored: %+v", res.Data)
	}
	if v := metric(t, web, `kusanagi_syslog_tls_handshake_failures_total\{reason="bad_client_certificate"\}`); v != "1" {
		t.Fatalf("handshake failures (bad_client_certificate) = %s, want 1", v)
	}
}

// TestRunServesTLSSyslogOnEmbeddedDefaults: the all-in-one with no
// configuration listens on TLS with a self-signed certificate made in the
// data directory, logs its fingerprint, and keeps it across restarts.
func TestRunServesTLSSyslogOnEmbeddedDefaults(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	start := func() (*process, string) {
		p := startKusanagi(t, "run", "--data.dir="+data, "--web.listen-address=[::1]:0", "--alertmanager.listen-address=[::1]:0",
			"--traps.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
		return p, p.waitLog(`msg="listening for syslog" .*transport=tls address=(\S+)`)[1]
	}
	p, addr := start()
	made := p.waitLog(`msg="generated a self-signed certificate.* file=(\S+) sha256=(\S+)`)
	certPEM, err := os.ReadFile(made[1])
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("%s holds no PEM", made[1])
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if syslog.Fingerprint(cert) != made[2] {
		t.Fatalf("logged fingerprint %s, file's %s", made[2], syslog.Fingerprint(cert))
	}
	var out strings.Builder
	if code := run(t.Context(), []string{"send-log", "--transport=tls", "--to=" + addr, "--tls.ca-file=" + made[1], "%SYS-5-RESTART: System restarted"}, &out, &out); code != 0 {
		t.Fatalf("send-log trusting the self-signed certificate: exit %d: %s", code, out.String())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait()

	p, _ = start()
	if got := p.waitLog(`msg="syslog TLS certificate" .*sha256=(\S+)`)[1]; got != made[2] {
		t.Fatalf("after a restart the certificate is %s, was %s", got, made[2])
	}
	if strings.Contains(p.logText(), "generated a self-signed") {
		t.Fatal("a new certificate was made at restart")
	}
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kusanagi-dev/kusanagi/logs/syslog"
)

func TestDefaults(t *testing.T) {
	c, err := Parse("k.yml", []byte("{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"web":          {c.Web.ListenAddress, "[::]:9180"},
		"alertmanager": {c.Alertmanager.ListenAddress, "[::]:9093"},
		"traps":        {c.Traps.ListenAddresses[0], "[::]:9162"},
		"syslog udp":   {c.Syslog.UDPListenAddresses[0], "[::]:9514"},
		"syslog tcp":   {c.Syslog.TCPListenAddresses[0], "[::]:9514"},
		"syslog tls":   {c.Syslog.TLSListenAddresses[0], "[::]:9601"},
		"tls auth":     {c.Syslog.TLS.ClientAuthType, "NoClientCert"},
		"tls version":  {c.Syslog.TLS.MinVersion, "TLS12"},
		"alerting":     {c.Alerting.Alertmanagers[0], "http://[::1]:9093"},
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s default = %q, want %q", name, v[0], v[1])
		}
	}
}

func TestSyslogTLS(t *testing.T) {
	c, err := Parse("k.yml", []byte("syslog:\n  tls_listen_addresses: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Syslog.TLSListenAddresses) != 0 {
		t.Fatalf("an explicit empty list keeps TLS off, got %v", c.Syslog.TLSListenAddresses)
	}
	good := `syslog:
  tls_listen_addresses: ['[::]:6514', '0.0.0.0:6514']
  tls:
    cert_file: tls/tls.crt
    key_file: tls/tls.key
    client_ca_file: tls/ca.crt
    client_auth_type: RequireAndVerifyClientCert
    min_version: TLS13
`
	if _, err := Parse("k.yml", []byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{"syslog:\n  tls:\n    cert_file: tls.crt\n", "k.yml:3:16: syslog: tls: cert_file and key_file go together"},
		{"syslog:\n  tls:\n    key_file: tls.key\n", "k.yml:3:15: syslog: tls: cert_file and key_file go together"},
		{"syslog:\n  tls:\n    client_auth_type: RequireClientCert\n", `k.yml:3:23: syslog: tls: client_auth_type "RequireClientCert" is not one of`},
		{"syslog:\n  tls:\n    client_auth_type: VerifyClientCertIfGiven\n", "k.yml:3:23: syslog: tls: client_auth_type VerifyClientCertIfGiven needs client_ca_file"},
		{"syslog:\n  tls:\n    client_ca_file: ca.crt\n", "k.yml:3:21: syslog: tls: client_ca_file is set but client_auth_type NoClientCert verifies no client certificate"},
		{"syslog:\n  tls:\n    min_version: TLS1.2\n", `k.yml:3:18: syslog: tls: min_version "TLS1.2" is not one of TLS10, TLS11, TLS12, TLS13`},
		{"syslog:\n  tls_listen_addresses: ['[::]:9601', '[::]:9601']\n", `k.yml:2:39: tls_listen_addresses: "[::]:9601" listed twice`},
		{"syslog:\n  tls:\n    ca_file: ca.crt\n", `k.yml:3:5: unknown field "ca_file"`},
	} {
		_, err := Parse("k.yml", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s…", tc.src, err, tc.want)
		}
	}
}

func TestErrorsHavePositions(t *testing.T) {
	src := `web:
  listen_address: 9180
  external_url: /kusanagi
alerting:
  alertmanagers: ['[::1]:9093', 'http://[::1]:9093']
  queue_capacity: -1
  timeout: soon
traps:
  listen_addresses: ['[::]:9162', '[::]:9162']
syslog:
  udp_listen_addresses: ['fd00::1:514']
  profiles:
    - sources: [10.0.0.0/8, not-a-cidr]
      time_zone: Mars/Olympus
      dialect: klingon
      time_zones: {MEZ: '+1:00'}
catalogue:
  files: ['[']
bogus: 1
`
	_, err := Parse("k.yml", []byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		`k.yml:2:19: listen_address: invalid listen address "9180"`,
		`k.yml:3:17: external_url "/kusanagi" must be an absolute URL`,
		`k.yml:5:19: alertmanagers: "[::1]:9093" must be an http(s) URL`,
		`k.yml:6:19: queue_capacity must not be negative`,
		`k.yml:7:12: timeout: not a valid duration string: "soon"`,
		`k.yml:9:35: listen_addresses: "[::]:9162" listed twice`,
		`k.yml:11:26: udp_listen_addresses[0]: invalid listen address "fd00::1:514"`,
		`k.yml:13:29: syslog: profiles: "not-a-cidr" is neither an address nor a CIDR`,
		`k.yml:14:18: syslog: profiles: unknown time_zone "Mars/Olympus"`,
		`k.yml:15:16: syslog: profiles: unknown dialect "klingon" (one of ` + syslog.DialectNames() + `)`,
		`k.yml:16:19: syslog: profiles: time_zones: MEZ: "+1:00" is not a UTC offset (+05:30, -0800, +08)`,
		`k.yml:18:11: files: invalid glob "["`,
		`k.yml:19:1: unknown field "bogus"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d:\n got %s\nwant %s…", i+1, lines[i], w)
		}
	}
}

func TestCatalogueFilesRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "catalogue.d"), 0o755)
	for _, f := range []string{"b.yml", "a.yml"} {
		os.WriteFile(filepath.Join(dir, "catalogue.d", f), nil, 0o644)
	}
	cfgPath := filepath.Join(dir, "kusanagi.yml")
	os.WriteFile(cfgPath, []byte("catalogue:\n  files: ['catalogue.d/*.yml', catalogue.d/a.yml]\n"), 0o644)
	c, err := LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	files, err := c.CatalogueFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0] != filepath.Join(dir, "catalogue.d/a.yml") || files[1] != filepath.Join(dir, "catalogue.d/b.yml") {
		t.Fatalf("files = %v", files)
	}
	c.Catalogue.Files = []string{"nothing-*.yml"}
	if _, err := c.CatalogueFiles(); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Fatalf("a glob matching nothing: err = %v", err)
	}
}

func TestStorageRetentionDays(t *testing.T) {
	for src, want := range map[string]int{
		"{}\n":                             DefaultRetentionDays,
		"storage:\n  retention_days: 30\n": 30,
		"storage:\n  retention_days: 0\n":  0, // explicitly: keep everything
	} {
		c, err := Parse("k.yml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if c.Storage.RetentionDays != want {
			t.Errorf("%q: retention_days = %d, want %d", src, c.Storage.RetentionDays, want)
		}
	}
	for src, want := range map[string]string{
		"storage:\n  retention_days: -1\n":   "k.yml:2:19: storage: retention_days must not be negative",
		"storage:\n  retention_days: week\n": `k.yml:2:19: retention_days: cannot parse "week" as an integer`,
	} {
		if _, err := Parse("k.yml", []byte(src)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q:\n got %v\nwant %s…", src, err, want)
		}
	}
}

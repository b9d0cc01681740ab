package config

import (
	"strings"
	"testing"
	"time"
)

func TestElasticsearchStorage(t *testing.T) {
	c, err := Parse("k.yml", []byte(`storage:
  backend: elasticsearch
  retention_days: 30
  elasticsearch:
    urls: ['https://[fd00::30]:9200', 'https://[fd00::31]:9200']
    flavor: opensearch
    data_stream: logs-kusanagi-noc
    username: kusanagi
    password_file: secrets/es-password
    tls: {ca_file: ca.pem, server_name: es.example}
    spool: {path: /var/spool/kusanagi, max_bytes: 2GiB}
    flush_interval: 2s
    flush_bytes: 4MiB
    workers: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	es := c.Storage.Elasticsearch
	if c.Storage.Backend != BackendElasticsearch || len(es.URLs) != 2 || es.Flavor != "opensearch" || es.PasswordFile != "secrets/es-password" ||
		es.TLS.CAFile != "ca.pem" || es.Spool.MaxBytes != 2<<30 || es.FlushBytes != 4<<20 || time.Duration(es.FlushInterval) != 2*time.Second || es.Workers != 3 {
		t.Fatalf("decoded %+v", es)
	}
	if d, _ := Parse("k.yml", []byte("{}\n")); d.Storage.Backend != BackendEmbedded {
		t.Fatalf("default backend %q", d.Storage.Backend)
	}
}

func TestElasticsearchStorageErrors(t *testing.T) {
	src := `storage:
  backend: elasticsearch
  elasticsearch:
    urls: ['[fd00::30]:9200']
    flavor: solr
    data_stream: Logs
    index: kusanagi
    username: kusanagi
    password: a
    password_file: b
    api_key_file: c
    tls: {cert_file: client.pem}
    spool: {max_bytes: lots}
    workers: -1
`
	_, err := Parse("k.yml", []byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	want := []string{
		`k.yml:4:12: storage: elasticsearch: urls: "[fd00::30]:9200" must be http(s)://host:port`,
		`k.yml:5:13: storage: elasticsearch: flavor "solr" must be elasticsearch or opensearch`,
		`k.yml:6:18: storage: elasticsearch: data_stream "Logs" must be lower case`,
		`k.yml:7:12: storage: elasticsearch: set data_stream or index, not both`,
		`k.yml:8:15: storage: elasticsearch: set username (basic auth) or an API key, not both`,
		`k.yml:10:20: storage: elasticsearch: set password or password_file, not both`,
		`k.yml:12:10: storage: elasticsearch: tls: cert_file and key_file go together`,
		`k.yml:13:24: max_bytes: "lots" is not a size`,
		`k.yml:14:14: storage: elasticsearch: workers must not be negative`,
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
	_, err = Parse("k.yml", []byte("storage:\n  elasticsearch: {urls: ['http://[::1]:9200']}\n"))
	if err == nil || !strings.Contains(err.Error(), "k.yml:2:18: storage: elasticsearch is set but backend is embedded; set backend: elasticsearch") {
		t.Fatalf("elasticsearch without the backend: %v", err)
	}
}

func TestStorageSpool(t *testing.T) {
	c, err := Parse("k.yml", []byte("storage:\n  spool: {path: /var/spool/kusanagi, max_bytes: 512MiB}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Spool.Path != "/var/spool/kusanagi" || c.Storage.Spool.MaxBytes != 512<<20 {
		t.Fatalf("decoded %+v", c.Storage.Spool)
	}
	for src, want := range map[string]string{
		"storage:\n  spool:\n    max_bytes: -1\n":   "k.yml:3:16: storage: spool: max_bytes must not be negative",
		"storage:\n  spool:\n    max_bytes: 1KiB\n": "k.yml:3:16: storage: spool: max_bytes must be at least 1MiB",
		"storage:\n  spool:\n    max_bytes: lots\n": "k.yml:3:16:",
		"storage:\n  spool:\n    maxbytes: 1GiB\n":  "k.yml:3:5:",
	} {
		_, err := Parse("k.yml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", src, err, want)
		}
	}
}

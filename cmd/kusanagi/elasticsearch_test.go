package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
)

// TestSyslogIntoElasticsearch runs `kusanagi syslog` with
// storage.backend: elasticsearch, password from a file, against the
// wire-level Elasticsearch server: a line sent over UDP is indexed in the
// data stream and found again through /api/v1/logs.
func TestSyslogIntoElasticsearch(t *testing.T) {
	srv := estest.New(t, estest.Options{Username: "kusanagi", Password: "s3cret"})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "es-password"), "s3cret\n")
	writeFile(t, filepath.Join(dir, "kusanagi.yaml"), fmt.Sprintf(`alerting:
  alertmanagers: ['http://[::1]:1']
storage:
  backend: elasticsearch
  elasticsearch:
    urls: [%q]
    data_stream: logs-kusanagi-syslog
    username: kusanagi
    password_file: es-password
    flush_interval: 100ms
`, srv.URL()))
	p := startKusanagi(t, "syslog", "--config.file="+filepath.Join(dir, "kusanagi.yaml"), "--data.dir="+filepath.Join(dir, "data"),
		"--web.listen-address=[::1]:0", "--syslog.listen-address=[::1]:0", "--syslog.tls-listen-address=[::1]:0")
	web := "http://" + p.waitLog(`msg=listening component=web address=(\S+)`)[1]
	udp := p.waitLog(`msg="listening for syslog" .*transport=udp address=(\S+)`)[1]
	p.waitLog(`msg=connected component=logs-elasticsearch server="Elasticsearch 8.19.3" target=logs-kusanagi-syslog`)
	var out strings.Builder
	if code := run(t.Context(), []string{"send-log", "--to=" + udp, "%LINK-3-UPDOWN: Interface Gi0/1, changed state to down"}, &out, &out); code != 0 {
		t.Fatalf("send-log: exit %d: %s", code, out.String())
	}
	var res struct {
		Data []struct {
			Message string            `json:"message"`
			HostIP  string            `json:"host.ip"`
			Fields  map[string]string `json:"fields"`
		} `json:"data"`
	}
	waitUntil(t, func() bool {
		getJSON(t, web+"/api/v1/logs?since=10m&query="+url.QueryEscape(`event.code:"LINK-3-UPDOWN" AND host.ip:"::1"`), &res)
		return len(res.Data) == 1
	})
	if !strings.Contains(res.Data[0].Message, "changed state to down") || res.Data[0].Fields["log.syslog.appname"] != "kusanagi" {
		t.Fatalf("record: %+v", res.Data[0])
	}
	docs := srv.Docs("logs-kusanagi-syslog")
	if len(docs) != 1 || docs[0]["event.code"] != "LINK-3-UPDOWN" || docs[0]["host.ip"] != "::1" {
		t.Fatalf("documents in Elasticsearch: %v", docs)
	}
	if v := metric(t, web, `kusanagi_logs_elasticsearch_indexed_records_total`); v != "1" {
		t.Fatalf("indexed records = %s, want 1", v)
	}
}

package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"

	"github.com/alecthomas/units"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
	"github.com/kusanagi-dev/kusanagi/rules"
)

// Log store backends.
const (
	BackendEmbedded      = "embedded"
	BackendElasticsearch = "elasticsearch"
)

// Elasticsearch is the log store on an Elasticsearch 8 or OpenSearch 2
// cluster (docs/elasticsearch.md).
type Elasticsearch struct {
	Where yamlpos.Meta
	URLs  []string `yaml:"urls"`
	// Flavor: elasticsearch (default) or opensearch.
	Flavor string `yaml:"flavor"`
	// DataStream (default logs-kusanagi-default) or Index.
	// storage.retention_days becomes the data stream's retention.
	DataStream string `yaml:"data_stream"`
	Index      string `yaml:"index"`
	Username   string `yaml:"username"`
	Password   string `yaml:"password"`
	// PasswordFile and APIKeyFile are re-read on every request, so that a
	// rotated Kubernetes Secret takes effect without a restart.
	PasswordFile  string           `yaml:"password_file"`
	APIKey        string           `yaml:"api_key"`
	APIKeyFile    string           `yaml:"api_key_file"`
	TLS           ElasticsearchTLS `yaml:"tls"`
	Spool         Spool            `yaml:"spool"`
	FlushInterval rules.Duration   `yaml:"flush_interval"`
	FlushBytes    ByteSize         `yaml:"flush_bytes"`
	Workers       int              `yaml:"workers"`
}

// ElasticsearchTLS is how the cluster's certificate is checked and which
// client certificate is shown.
type ElasticsearchTLS struct {
	Where              yamlpos.Meta
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Spool keeps records on disk while the cluster is unavailable.
type Spool struct {
	Where yamlpos.Meta
	// Path defaults to elasticsearch-spool under storage.path.
	Path     string   `yaml:"path"`
	MaxBytes ByteSize `yaml:"max_bytes"`
}

// ByteSize is a size in bytes, written 1073741824 or 1GiB, 512MiB.
type ByteSize int64

// UnmarshalText reads a number of bytes, with an optional base-2 unit.
func (b *ByteSize) UnmarshalText(text []byte) error {
	if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
		*b = ByteSize(n)
		return nil
	}
	n, err := units.ParseBase2Bytes(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a size (1073741824, 1GiB, 512MiB)", text)
	}
	*b = ByteSize(n)
	return nil
}

var esNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// checkStorage validates the storage section.
func (c *Config) checkStorage(add func(yamlpos.Pos, string, ...any)) {
	s := &c.Storage
	es := &s.Elasticsearch
	switch s.Backend {
	case BackendEmbedded:
		if s.Where.Has("elasticsearch") {
			add(s.Where.At("elasticsearch"), "storage: elasticsearch is set but backend is embedded; set backend: elasticsearch to use it")
		}
		return
	case BackendElasticsearch:
	default:
		add(s.Where.At("backend"), "storage: backend %q must be embedded or elasticsearch", s.Backend)
		return
	}
	if len(es.URLs) == 0 {
		add(s.Where.At("elasticsearch"), "storage: elasticsearch: urls are required with backend: elasticsearch")
	}
	for i, u := range es.URLs {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			add(es.Where.At(fmt.Sprintf("urls[%d]", i)), "storage: elasticsearch: urls: %q must be http(s)://host:port (https://[fd00::30]:9200)", u)
		}
	}
	if es.Flavor != "" && es.Flavor != "elasticsearch" && es.Flavor != "opensearch" {
		add(es.Where.At("flavor"), "storage: elasticsearch: flavor %q must be elasticsearch or opensearch", es.Flavor)
	}
	if es.DataStream != "" && es.Index != "" {
		add(es.Where.At("index"), "storage: elasticsearch: set data_stream or index, not both")
	}
	for _, f := range []struct{ name, v string }{{"data_stream", es.DataStream}, {"index", es.Index}} {
		if f.v != "" && !esNameRE.MatchString(f.v) {
			add(es.Where.At(f.name), "storage: elasticsearch: %s %q must be lower case letters, digits, '.', '_' or '-'", f.name, f.v)
		}
	}
	pairs := []struct{ a, b string }{{"password", "password_file"}, {"api_key", "api_key_file"}}
	for _, p := range pairs {
		if es.Where.Has(p.a) && es.Where.Has(p.b) {
			add(es.Where.At(p.b), "storage: elasticsearch: set %s or %s, not both", p.a, p.b)
		}
	}
	if es.Username != "" && (es.APIKey != "" || es.APIKeyFile != "") {
		add(es.Where.At("username"), "storage: elasticsearch: set username (basic auth) or an API key, not both")
	}
	if (es.Password != "" || es.PasswordFile != "") && es.Username == "" {
		add(es.Where.At("username"), "storage: elasticsearch: a password needs a username")
	}
	if (es.TLS.CertFile == "") != (es.TLS.KeyFile == "") {
		add(es.TLS.Where.Pos, "storage: elasticsearch: tls: cert_file and key_file go together")
	}
	if es.Workers < 0 {
		add(es.Where.At("workers"), "storage: elasticsearch: workers must not be negative")
	}
	if es.FlushBytes < 0 {
		add(es.Where.At("flush_bytes"), "storage: elasticsearch: flush_bytes must not be negative")
	}
	if es.FlushInterval < 0 {
		add(es.Where.At("flush_interval"), "storage: elasticsearch: flush_interval must not be negative")
	}
	if es.Spool.MaxBytes < 0 {
		add(es.Spool.Where.At("max_bytes"), "storage: elasticsearch: spool: max_bytes must not be negative")
	}
}

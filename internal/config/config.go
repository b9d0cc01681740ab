// Package config reads kusanagi.yml: one section per component, each read
// by the subcommand that runs that component, decoded strictly and checked
// with file:line:col positions like the catalogue.
package config

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs/syslog"
	"github.com/kusanagi-dev/kusanagi/rules"
)

// Config is kusanagi.yml.
type Config struct {
	Where        yamlpos.Meta
	Web          Web          `yaml:"web"`
	Storage      Storage      `yaml:"storage"`
	Catalogue    Catalogue    `yaml:"catalogue"`
	Alerting     Alerting     `yaml:"alerting"`
	Traps        Traps        `yaml:"traps"`
	Syslog       Syslog       `yaml:"syslog"`
	Rules        Rules        `yaml:"rules"`
	Alertmanager Alertmanager `yaml:"alertmanager"`

	// File is where the config was read from; "" for the embedded default.
	File string `yaml:"-"`
}

// Web is the Kusanagi web/API listener (/metrics, /-/reload, the API).
type Web struct {
	Where         yamlpos.Meta
	ListenAddress string `yaml:"listen_address"`
	// ExternalURL is how users reach Kusanagi, for links in alerts.
	ExternalURL string `yaml:"external_url"`
}

// Storage is where components keep state on disk.
type Storage struct {
	Where yamlpos.Meta
	Path  string `yaml:"path"`
	// RetentionDays is how long the log store keeps records, in days
	// (default 7); 0 keeps them until the disk is full. The embedded store
	// deletes whole days (docs/log-store.md).
	RetentionDays int `yaml:"retention_days"`
	// Backend of the log store: embedded (default) or elasticsearch.
	Backend       string        `yaml:"backend"`
	Elasticsearch Elasticsearch `yaml:"elasticsearch"`
	// Spool keeps the records receivers accepted until the log store has
	// them, one directory per source (syslog, traps) under Path (default
	// spool under storage.path), each bounded by MaxBytes (default 1GiB).
	Spool Spool `yaml:"spool"`
}

// DefaultRetentionDays is the log store's retention when the config sets
// none.
const DefaultRetentionDays = 7

// Catalogue names the alert catalogue files.
type Catalogue struct {
	Where yamlpos.Meta
	// Files are paths or globs, relative to the config file's directory.
	Files []string `yaml:"files"`
}

// Alerting says where alerts are sent.
type Alerting struct {
	Where         yamlpos.Meta
	Alertmanagers []string       `yaml:"alertmanagers"`
	QueueCapacity int            `yaml:"queue_capacity"`
	MaxBatchSize  int            `yaml:"max_batch_size"`
	Timeout       rules.Duration `yaml:"timeout"`
}

// Traps is the SNMP trap receiver.
type Traps struct {
	Where           yamlpos.Meta
	ListenAddresses []string `yaml:"listen_addresses"`
	// ReceiveBufferBytes is the SO_RCVBUF asked for each socket.
	ReceiveBufferBytes int `yaml:"receive_buffer_bytes"`
	// Readers per socket.
	Readers int `yaml:"readers"`
	// Communities accepted from v1/v2c senders; none unless listed.
	Communities []string `yaml:"communities"`
	// Users are the SNMPv3 users accepted.
	Users []TrapUser `yaml:"users"`
	// TrustedForwarders may relay traps: their snmpTrapAddress.0 is used.
	TrustedForwarders []string `yaml:"trusted_forwarders"`
	// MIBDirs hold MIB modules whose names the catalogue may use.
	MIBDirs []string `yaml:"mib_dirs"`
	// FoldWindow: a repeated identical fault within it is not re-sent.
	FoldWindow rules.Duration `yaml:"fold_window"`
	// UnknownTrapAlert raises UnknownTrap for traps no entry matches.
	UnknownTrapAlert bool `yaml:"unknown_trap_alert"`
}

// TrapUser is an SNMPv3 user. Passphrases may come from files (Kubernetes
// Secrets mounted as files).
type TrapUser struct {
	Where              yamlpos.Meta
	Name               string `yaml:"name"`
	AuthProtocol       string `yaml:"auth_protocol"`
	AuthPassphrase     string `yaml:"auth_passphrase"`
	AuthPassphraseFile string `yaml:"auth_passphrase_file"`
	PrivProtocol       string `yaml:"priv_protocol"`
	PrivPassphrase     string `yaml:"priv_passphrase"`
	PrivPassphraseFile string `yaml:"priv_passphrase_file"`
}

// Syslog is the syslog receiver.
type Syslog struct {
	Where              yamlpos.Meta
	UDPListenAddresses []string `yaml:"udp_listen_addresses"`
	TCPListenAddresses []string `yaml:"tcp_listen_addresses"`
	// TLSListenAddresses take syslog over TLS (RFC 5425); an explicit
	// empty list turns TLS off.
	TLSListenAddresses []string  `yaml:"tls_listen_addresses"`
	TLS                SyslogTLS `yaml:"tls"`
	// Profiles adjust parsing per sender: the first whose sources hold
	// the sender's address applies.
	Profiles []SyslogProfile `yaml:"profiles"`
}

// SyslogTLS is the TLS listeners' certificate and client policy, named as
// in Prometheus's web configuration (exporter-toolkit). Without cert_file a
// self-signed certificate is made in storage.path.
type SyslogTLS struct {
	Where        yamlpos.Meta
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuthType is one of TLSClientAuthTypes; default NoClientCert.
	ClientAuthType string `yaml:"client_auth_type"`
	// MinVersion is TLS10 to TLS13; default TLS12.
	MinVersion string `yaml:"min_version"`
}

// TLSClientAuthTypes are exporter-toolkit's client_auth_type values.
var TLSClientAuthTypes = map[string]tls.ClientAuthType{
	"NoClientCert":               tls.NoClientCert,
	"RequestClientCert":          tls.RequestClientCert,
	"RequireAnyClientCert":       tls.RequireAnyClientCert,
	"VerifyClientCertIfGiven":    tls.VerifyClientCertIfGiven,
	"RequireAndVerifyClientCert": tls.RequireAndVerifyClientCert,
}

// TLSVersions are the min_version values.
var TLSVersions = map[string]uint16{"TLS10": tls.VersionTLS10, "TLS11": tls.VersionTLS11, "TLS12": tls.VersionTLS12, "TLS13": tls.VersionTLS13}

// SyslogProfile is how to read the lines of some senders.
type SyslogProfile struct {
	Where   yamlpos.Meta
	Sources []string `yaml:"sources"`
	// TimeZone of timestamps without one (IANA name, Europe/Berlin).
	TimeZone string `yaml:"time_zone"`
	// HostName overrides host.name (gear that sends none or a useless one).
	HostName string `yaml:"host_name"`
	// Dialect names the senders' header form where a line alone cannot
	// tell (docs/syslog.md); empty guesses.
	Dialect string `yaml:"dialect"`
	// TimeZones are zone abbreviations the senders print that the IANA
	// database does not know, or knows for another offset: MEZ: "+01:00".
	TimeZones map[string]string `yaml:"time_zones"`
}

// Rules is the log-query evaluator. With etcd endpoints, replicas elect
// one evaluator and keep the rules' state in etcd; without, the process
// evaluates alone (the all-in-one).
type Rules struct {
	Where         yamlpos.Meta
	EtcdEndpoints []string       `yaml:"etcd_endpoints"`
	EtcdPrefix    string         `yaml:"etcd_prefix"`
	SessionTTL    rules.Duration `yaml:"session_ttl"`
	PeerName      string         `yaml:"peer_name"`
}

// Alertmanager is the embedded, etcd-backed Alertmanager.
type Alertmanager struct {
	Where         yamlpos.Meta
	ListenAddress string `yaml:"listen_address"`
	// ConfigFile is an upstream alertmanager.yml, relative to this file.
	ConfigFile string `yaml:"config_file"`
}

// Default ports (DESIGN.md): containers listen on unprivileged ports, and
// Kubernetes Services map the standard ones.
const (
	DefaultWebListenAddress          = "[::]:9180"
	DefaultTrapListenAddress         = "[::]:9162"
	DefaultSyslogListenAddress       = "[::]:9514"
	DefaultSyslogTLSListenAddress    = "[::]:9601"
	DefaultAlertmanagerListenAddress = "[::]:9093"
)

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defList := func(s *[]string, v string) {
		if len(*s) == 0 {
			*s = []string{v}
		}
	}
	def(&c.Web.ListenAddress, DefaultWebListenAddress)
	def(&c.Storage.Path, "data")
	def(&c.Storage.Backend, BackendEmbedded)
	if !c.Storage.Where.Has("retention_days") {
		c.Storage.RetentionDays = DefaultRetentionDays
	}
	def(&c.Alertmanager.ListenAddress, DefaultAlertmanagerListenAddress)
	defList(&c.Traps.ListenAddresses, DefaultTrapListenAddress)
	defList(&c.Syslog.UDPListenAddresses, DefaultSyslogListenAddress)
	defList(&c.Syslog.TCPListenAddresses, DefaultSyslogListenAddress)
	if !c.Syslog.Where.Has("tls_listen_addresses") {
		c.Syslog.TLSListenAddresses = []string{DefaultSyslogTLSListenAddress}
	}
	def(&c.Syslog.TLS.ClientAuthType, "NoClientCert")
	def(&c.Syslog.TLS.MinVersion, "TLS12")
	if len(c.Alerting.Alertmanagers) == 0 {
		host, _ := ipv6.URLHost(c.Alertmanager.ListenAddress)
		c.Alerting.Alertmanagers = []string{"http://" + host}
	}
	def(&c.Rules.EtcdPrefix, "/kusanagi/rules/")
	if c.Rules.SessionTTL == 0 {
		c.Rules.SessionTTL = rules.Duration(5 * time.Second)
	}
	if c.Alerting.Timeout == 0 {
		c.Alerting.Timeout = rules.Duration(10 * time.Second)
	}
}

// Error is a problem in the config file, printed as FILE:LINE:COL: message.
type Error struct {
	File string
	Pos  yamlpos.Pos
	Msg  string
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Column, e.Msg)
}

// Errors are all problems of one config file, in position order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and checks a config file.
func LoadFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}}
	}
	return Parse(path, src)
}

// Parse decodes and checks a config; name is used in errors and to resolve
// relative paths.
func Parse(name string, src []byte) (*Config, error) {
	c := &Config{File: name}
	var errs Errors
	add := func(p yamlpos.Pos, format string, args ...any) {
		errs = append(errs, &Error{File: name, Pos: p, Msg: fmt.Sprintf(format, args...)})
	}
	root, perr := yamlpos.Parse(src)
	if perr != nil {
		return nil, Errors{{File: name, Pos: perr.Pos, Msg: perr.Msg}}
	}
	for _, e := range yamlpos.Decode(root, c) {
		add(e.Pos, "%s", e.Msg)
	}
	c.applyDefaults()

	listen := func(m *yamlpos.Meta, field, addr string) {
		if _, _, err := ipv6.SplitListenAddress(addr); err != nil {
			add(m.At(field), "%s: %v", field, err)
		}
	}
	listenAll := func(m *yamlpos.Meta, field string, addrs []string) {
		seen := map[string]bool{}
		for i, a := range addrs {
			at := fmt.Sprintf("%s[%d]", field, i)
			listen(m, at, a)
			if seen[a] {
				add(m.At(at), "%s: %q listed twice", field, a)
			}
			seen[a] = true
		}
	}
	listen(&c.Web.Where, "listen_address", c.Web.ListenAddress)
	listen(&c.Alertmanager.Where, "listen_address", c.Alertmanager.ListenAddress)
	listenAll(&c.Traps.Where, "listen_addresses", c.Traps.ListenAddresses)
	listenAll(&c.Syslog.Where, "udp_listen_addresses", c.Syslog.UDPListenAddresses)
	listenAll(&c.Syslog.Where, "tcp_listen_addresses", c.Syslog.TCPListenAddresses)
	for i, p := range c.Syslog.Profiles {
		if len(p.Sources) == 0 {
			add(p.Where.Pos, "syslog: profiles[%d]: sources are required", i)
		}
		for j, src := range p.Sources {
			if _, err := netip.ParsePrefix(src); err != nil {
				if _, err := netip.ParseAddr(src); err != nil {
					add(p.Where.At(fmt.Sprintf("sources[%d]", j)), "syslog: profiles: %q is neither an address nor a CIDR", src)
				}
			}
		}
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				add(p.Where.At("time_zone"), "syslog: profiles: unknown time_zone %q (an IANA name such as Europe/Berlin)", p.TimeZone)
			}
		}
		if _, ok := syslog.Dialects[p.Dialect]; !ok {
			add(p.Where.At("dialect"), "syslog: profiles: unknown dialect %q (one of %s)", p.Dialect, syslog.DialectNames())
		}
		for _, abbr := range slices.Sorted(maps.Keys(p.TimeZones)) {
			if _, err := syslog.ParseOffset(p.TimeZones[abbr]); err != nil {
				add(p.Where.At("time_zones"), "syslog: profiles: time_zones: %s: %v", abbr, err)
			}
		}
	}
	listenAll(&c.Syslog.Where, "tls_listen_addresses", c.Syslog.TLSListenAddresses)
	c.Syslog.TLS.check(add)

	for i, u := range c.Traps.Users {
		if u.Name == "" {
			add(u.Where.Pos, "traps: users[%d]: name is required", i)
		}
		if u.AuthPassphrase != "" && u.AuthPassphraseFile != "" {
			add(u.Where.At("auth_passphrase_file"), "traps: user %q: set auth_passphrase or auth_passphrase_file, not both", u.Name)
		}
		if u.PrivPassphrase != "" && u.PrivPassphraseFile != "" {
			add(u.Where.At("priv_passphrase_file"), "traps: user %q: set priv_passphrase or priv_passphrase_file, not both", u.Name)
		}
	}
	for i, f := range c.Traps.TrustedForwarders {
		if _, err := netip.ParsePrefix(f); err != nil {
			if _, err := netip.ParseAddr(f); err != nil {
				add(c.Traps.Where.At(fmt.Sprintf("trusted_forwarders[%d]", i)), "traps: trusted_forwarders: %q is neither an address nor a CIDR", f)
			}
		}
	}
	if c.Web.ExternalURL != "" {
		if u, err := url.Parse(c.Web.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			add(c.Web.Where.At("external_url"), "external_url %q must be an absolute URL (http://[fd00::10]:9180/)", c.Web.ExternalURL)
		}
	}
	for i, ep := range c.Rules.EtcdEndpoints {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(c.Rules.Where.At(fmt.Sprintf("etcd_endpoints[%d]", i)), "rules: etcd_endpoints: %q must be http(s)://host:port", ep)
		}
	}
	if !strings.HasPrefix(c.Rules.EtcdPrefix, "/") || !strings.HasSuffix(c.Rules.EtcdPrefix, "/") {
		add(c.Rules.Where.At("etcd_prefix"), "rules: etcd_prefix %q must start and end with /", c.Rules.EtcdPrefix)
	}
	for i, am := range c.Alerting.Alertmanagers {
		if u, err := url.Parse(am); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(c.Alerting.Where.At(fmt.Sprintf("alertmanagers[%d]", i)), "alertmanagers: %q must be an http(s) URL (http://[fd00::10]:9093)", am)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"queue_capacity", c.Alerting.QueueCapacity}, {"max_batch_size", c.Alerting.MaxBatchSize}} {
		if f.v < 0 {
			add(c.Alerting.Where.At(f.name), "%s must not be negative", f.name)
		}
	}
	c.checkStorage(add)
	if c.Storage.Spool.MaxBytes < 0 {
		add(c.Storage.Spool.Where.At("max_bytes"), "storage: spool: max_bytes must not be negative")
	} else if c.Storage.Spool.MaxBytes > 0 && c.Storage.Spool.MaxBytes < 1<<20 {
		add(c.Storage.Spool.Where.At("max_bytes"), "storage: spool: max_bytes must be at least 1MiB")
	}
	if c.Storage.RetentionDays < 0 {
		add(c.Storage.Where.At("retention_days"), "storage: retention_days must not be negative (0 keeps everything)")
	}
	for i, pattern := range c.Catalogue.Files {
		if _, err := filepath.Match(pattern, ""); err != nil {
			add(c.Catalogue.Where.At(fmt.Sprintf("files[%d]", i)), "files: invalid glob %q: %v", pattern, err)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int {
			if a.Pos.Line != b.Pos.Line {
				return a.Pos.Line - b.Pos.Line
			}
			return a.Pos.Column - b.Pos.Column
		})
		return nil, errs
	}
	return c, nil
}

func (t *SyslogTLS) check(add func(yamlpos.Pos, string, ...any)) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		field := "cert_file"
		if t.CertFile == "" {
			field = "key_file"
		}
		add(t.Where.At(field), "syslog: tls: cert_file and key_file go together; set both, or neither for a self-signed certificate")
	}
	auth, ok := TLSClientAuthTypes[t.ClientAuthType]
	if !ok {
		add(t.Where.At("client_auth_type"), "syslog: tls: client_auth_type %q is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert", t.ClientAuthType)
	}
	switch {
	case ok && auth >= tls.VerifyClientCertIfGiven && t.ClientCAFile == "":
		add(t.Where.At("client_auth_type"), "syslog: tls: client_auth_type %s needs client_ca_file to verify client certificates with", t.ClientAuthType)
	case ok && auth < tls.VerifyClientCertIfGiven && t.ClientCAFile != "":
		add(t.Where.At("client_ca_file"), "syslog: tls: client_ca_file is set but client_auth_type %s verifies no client certificate; use VerifyClientCertIfGiven or RequireAndVerifyClientCert", t.ClientAuthType)
	}
	if _, ok := TLSVersions[t.MinVersion]; !ok {
		add(t.Where.At("min_version"), "syslog: tls: min_version %q is not one of TLS10, TLS11, TLS12, TLS13", t.MinVersion)
	}
}

// Path resolves a path from the config relative to the config's directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// CatalogueFiles expands the catalogue globs. A pattern that matches
// nothing is an error: a typo there would silently load no alerts.
func (c *Config) CatalogueFiles() ([]string, error) {
	var files []string
	for _, pattern := range c.Catalogue.Files {
		matches, err := filepath.Glob(c.Path(pattern))
		if err != nil {
			return nil, fmt.Errorf("catalogue files: %w", err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("catalogue files: %q matches no file", c.Path(pattern))
		}
		for _, m := range matches {
			if !slices.Contains(files, m) {
				files = append(files, m)
			}
		}
	}
	return files, nil
}

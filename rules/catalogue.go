// Package rules holds the alert catalogue: the one YAML file (or several)
// operators edit, in which every named alert lists the traps, log queries and
// metric expressions that raise it. It decodes the catalogue strictly,
// validates all of it at once with file:line:col positions, and reloads it
// without ever dropping the last good version.
package rules

import (
	"net/netip"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// Built-in defaults, used when neither the entry nor the file's defaults
// set a value.
const (
	DefaultResolveAfter = 24 * time.Hour
	DefaultEvery        = time.Minute
)

// Severities are the accepted values of severity, most severe first
// (ITU-T X.733 perceived severities, which network gear and NOC tooling use).
var Severities = []string{"critical", "major", "minor", "warning", "info"}

// Catalogue is a validated set of alerts, from one or more files.
type Catalogue struct {
	Files  []string `json:"files"`
	Alerts []*Alert `json:"alerts"`
}

// Alert returns the alert called name, or nil.
func (c *Catalogue) Alert(name string) *Alert {
	for _, a := range c.Alerts {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Duration is a Prometheus-style duration ("90s", "5m", "1h30m", "2d").
type Duration time.Duration

// UnmarshalText parses a Prometheus duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := model.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d in the form it is read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d Duration) String() string { return model.Duration(d).String() }

// catalogueFile is the layout of one catalogue file.
type catalogueFile struct {
	Where    yamlpos.Meta
	Defaults Defaults `yaml:"defaults"`
	Alerts   []*Alert `yaml:"alerts"`
}

// Defaults apply to every alert of the file they are in.
type Defaults struct {
	Where        yamlpos.Meta      `json:"-"`
	Labels       map[string]string `yaml:"labels" json:"labels,omitempty"`
	Severity     string            `yaml:"severity" json:"severity,omitempty"`
	ResolveAfter Duration          `yaml:"resolve_after" json:"resolve_after,omitempty"`
	Every        Duration          `yaml:"every" json:"every,omitempty"`
	QueryDelay   Duration          `yaml:"query_delay" json:"query_delay,omitempty"`
}

// Alert is one named entry of the catalogue. Its name becomes the
// alertname label of every alert it raises.
type Alert struct {
	Where       yamlpos.Meta      `json:"-"`
	Name        string            `yaml:"name" json:"name"`
	Severity    string            `yaml:"severity" json:"severity"`
	Summary     string            `yaml:"summary" json:"summary"`
	Description string            `yaml:"description" json:"description,omitempty"`
	RunbookURL  string            `yaml:"runbook_url" json:"runbook_url,omitempty"`
	Labels      map[string]string `yaml:"labels" json:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations" json:"annotations,omitempty"`

	Traps   []*TrapSource   `yaml:"traps" json:"traps,omitempty"`
	Logs    []*LogSource    `yaml:"logs" json:"logs,omitempty"`
	Metrics []*MetricSource `yaml:"metrics" json:"metrics,omitempty"`

	// File is the catalogue file the alert was read from.
	File string `yaml:"-" json:"file"`

	templates alertTemplates
}

// TrapSource raises the alert on a trap and resolves it on its clear trap.
type TrapSource struct {
	Where yamlpos.Meta `json:"-"`
	// OID is the trap's OID, numeric or MODULE::name. SNMPv1 traps are
	// matched in their RFC 3584 SNMPv2 form.
	OID string `yaml:"oid" json:"oid"`
	// Clear is the trap that resolves the alert raised for the same key:
	// an OID, or an OID with matchers of its own (a state trap that
	// clears itself: the same OID, another value).
	Clear *TrapClear `yaml:"clear" json:"clear,omitempty"`
	// Key lists the labels that, with the sender's address, identify one
	// instance of the fault (OpenNMS's reduction key).
	Key []string `yaml:"key" json:"key,omitempty"`
	// Match narrows the source to traps whose varbinds match.
	Match []*VarbindMatcher `yaml:"match" json:"match,omitempty"`
	// Sources limits the source to senders in these addresses or CIDRs.
	Sources      []string          `yaml:"sources" json:"sources,omitempty"`
	Labels       map[string]string `yaml:"labels" json:"labels,omitempty"`
	ResolveAfter Duration          `yaml:"resolve_after" json:"resolve_after"`

	labels         map[string]*Template
	sourcePrefixes []netip.Prefix
}

// TrapClear is a trap source's clear trap: `clear: IF-MIB::linkUp`, or
// `clear: {oid: ..., match: [...]}` with the raise's matchers.
type TrapClear struct {
	Where yamlpos.Meta      `json:"-"`
	OID   string            `yaml:"oid" json:"oid"`
	Match []*VarbindMatcher `yaml:"match" json:"match,omitempty"`
}

// ShorthandField lets a clear be written as its OID alone.
func (*TrapClear) ShorthandField() string { return "oid" }

// VarbindMatcher tests one varbind of a trap. Exactly one of the operators
// is set; regular expressions are anchored at both ends, as in Prometheus.
type VarbindMatcher struct {
	Where     yamlpos.Meta `json:"-"`
	Varbind   string       `yaml:"varbind" json:"varbind"`
	Equals    *string      `yaml:"equals" json:"equals,omitempty"`
	NotEquals *string      `yaml:"not_equals" json:"not_equals,omitempty"`
	Regex     *string      `yaml:"regex" json:"regex,omitempty"`
	NotRegex  *string      `yaml:"not_regex" json:"not_regex,omitempty"`

	matcher *labels.Matcher
}

// LogSource raises the alert from a log query evaluated on a schedule.
type LogSource struct {
	Where         yamlpos.Meta      `json:"-"`
	Query         string            `yaml:"query" json:"query"`
	Every         Duration          `yaml:"every" json:"every"`
	Window        Duration          `yaml:"window" json:"window"`
	QueryDelay    Duration          `yaml:"query_delay" json:"query_delay,omitempty"`
	GroupBy       []string          `yaml:"group_by" json:"group_by,omitempty"`
	Condition     string            `yaml:"condition" json:"condition"`
	For           Duration          `yaml:"for" json:"for,omitempty"`
	KeepFiringFor Duration          `yaml:"keep_firing_for" json:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels" json:"labels,omitempty"`

	parsedQuery     query.Node
	parsedCondition Condition
	labels          map[string]*Template
}

// ParsedQuery returns the query as a tree, for the log store backends.
func (s *LogSource) ParsedQuery() query.Node { return s.parsedQuery }

// ParsedCondition returns the condition that makes a group fire.
func (s *LogSource) ParsedCondition() Condition { return s.parsedCondition }

// MetricSource raises the alert from a PromQL expression, as a Prometheus
// alerting rule would.
type MetricSource struct {
	Where         yamlpos.Meta      `json:"-"`
	Expr          string            `yaml:"expr" json:"expr"`
	For           Duration          `yaml:"for" json:"for,omitempty"`
	KeepFiringFor Duration          `yaml:"keep_firing_for" json:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels" json:"labels,omitempty"`

	parsedExpr parser.Expr
	labels     map[string]*Template
}

// ParsedExpr returns the parsed PromQL expression.
func (s *MetricSource) ParsedExpr() parser.Expr { return s.parsedExpr }

// LabelTemplates returns the source's parsed label templates, which may
// call varbind.
func (t *TrapSource) LabelTemplates() map[string]*Template { return t.labels }

// SourcePrefixes returns the parsed sources: senders outside them do not
// match. Empty means any sender.
func (t *TrapSource) SourcePrefixes() []netip.Prefix { return t.sourcePrefixes }

// Matches reports whether a varbind value satisfies the matcher.
func (m *VarbindMatcher) Matches(value string) bool { return m.matcher.Matches(value) }

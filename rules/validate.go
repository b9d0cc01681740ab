package rules

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kusanagi-dev/kusanagi/internal/yamlpos"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// alertTemplates are an alert's parsed texts.
type alertTemplates struct {
	Summary     *Template
	Description *Template
	RunbookURL  *Template
	Labels      map[string]*Template
	Annotations map[string]*Template
}

// Templates returns the alert's parsed summary, description, runbook URL,
// labels and annotations.
func (a *Alert) Templates() alertTemplates { return a.templates }

var alertNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// An OID is numeric (1.3.6.1.6.3.1.1.5.3) or MODULE::name with an optional
// numeric suffix (IF-MIB::ifDescr.3).
var (
	numericOIDRE  = regexp.MustCompile(`^\.?[0-9]+(\.[0-9]+)+$`)
	symbolicOIDRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*::[A-Za-z][A-Za-z0-9-]*(\.[0-9]+)*$`)
)

// Labels set by the catalogue's own fields.
var reservedLabels = map[string]string{
	model.AlertNameLabel: "name",
	"severity":           "severity",
}

// Annotations set by the catalogue's own fields.
var reservedAnnotations = map[string]string{
	"summary":     "summary",
	"description": "description",
	"runbook_url": "runbook_url",
}

var promqlParser = parser.NewParser(parser.Options{})

func (v *validator) defaults(d *Defaults) {
	v.labels(&d.Where, "labels", d.Labels, templateFuncs)
	if d.Severity != "" {
		v.severity(d.Where.At("severity"), d.Severity)
	}
	v.positive(&d.Where, "resolve_after", d.ResolveAfter)
	v.positive(&d.Where, "every", d.Every)
}

func (v *validator) alert(a *Alert, d *Defaults) {
	v.alertName = a.Name
	defer func() { v.alertName = "" }()
	switch {
	case a.Name == "":
		v.errorf(a.Where.Pos, "name is required")
	case !alertNameRE.MatchString(a.Name):
		v.errorf(a.Where.At("name"), "invalid name %q: use letters, digits and _ and do not start with a digit", a.Name)
	}

	if a.Severity == "" {
		a.Severity = d.Severity
	}
	switch {
	case a.Severity == "":
		v.errorf(a.Where.Pos, "severity is required (one of %s), here or in defaults:", strings.Join(Severities, ", "))
	case a.Where.Has("severity"):
		v.severity(a.Where.At("severity"), a.Severity)
	}

	if a.Summary == "" {
		v.errorf(a.Where.Pos, "summary is required: it is the one line the person paged reads first")
	}
	a.templates.Summary = v.template(&a.Where, "summary", a.Summary, templateFuncs)
	a.templates.Description = v.template(&a.Where, "description", a.Description, templateFuncs)
	a.templates.RunbookURL = v.template(&a.Where, "runbook_url", a.RunbookURL, templateFuncs)
	if a.RunbookURL != "" && !strings.Contains(a.RunbookURL, "{{") {
		v.absoluteURL(a.Where.At("runbook_url"), "runbook_url", a.RunbookURL)
	}

	a.templates.Labels = v.labels(&a.Where, "labels", a.Labels, templateFuncs)
	a.templates.Annotations = v.annotations(&a.Where, a.Annotations)
	merged := maps.Clone(d.Labels)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, a.Labels)
	a.Labels = merged
	for name, text := range d.Labels {
		if _, own := a.templates.Labels[name]; !own {
			if t, err := parseTemplate(name, text, templateFuncs); err == nil {
				a.templates.Labels[name] = t
			}
		}
	}

	if len(a.Traps)+len(a.Logs)+len(a.Metrics) == 0 {
		v.errorf(a.Where.Pos, "no sources: list at least one of traps:, logs: or metrics:")
	}
	for _, t := range a.Traps {
		if t != nil {
			v.trap(t, a, d)
		}
	}
	for _, l := range a.Logs {
		if l != nil {
			v.log(l, d)
		}
	}
	for _, m := range a.Metrics {
		if m != nil {
			v.metric(m)
		}
	}
}

func (v *validator) severity(p yamlpos.Pos, s string) {
	if !slices.Contains(Severities, s) {
		v.errorf(p, "unknown severity %q (use one of %s)", s, strings.Join(Severities, ", "))
	}
}

func (v *validator) positive(m *yamlpos.Meta, field string, d Duration) {
	if m.Has(field) && d <= 0 {
		v.errorf(m.At(field), "%s must be greater than 0", field)
	}
}

func (v *validator) absoluteURL(p yamlpos.Pos, field, s string) {
	u, err := url.Parse(s)
	if err != nil {
		v.errorf(p, "%s: %v", field, err)
		return
	}
	if u.Scheme == "" || u.Host == "" {
		v.errorf(p, "%s %q must be an absolute URL (scheme://host/...)", field, s)
	}
}

func (v *validator) template(m *yamlpos.Meta, field, text string, funcs template.FuncMap) *Template {
	t, err := parseTemplate(field, text, funcs)
	if err != nil {
		v.errorf(m.At(field), "%s: invalid template: %v", field, err)
		return nil
	}
	return t
}

// labels checks label names and parses their value templates; field is
// where the map is in m.
func (v *validator) labels(m *yamlpos.Meta, field string, ls map[string]string, funcs template.FuncMap) map[string]*Template {
	out := make(map[string]*Template, len(ls))
	for _, name := range slices.Sorted(maps.Keys(ls)) {
		at := field + "." + name
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			v.errorf(m.At(at), "invalid label name %q: use letters, digits and _ and do not start with a digit", name)
			continue
		case strings.HasPrefix(name, model.ReservedLabelPrefix):
			v.errorf(m.At(at), "label %q: names starting with __ are reserved", name)
			continue
		case reservedLabels[name] != "":
			v.errorf(m.At(at), "label %q is set by the alert's %s: field", name, reservedLabels[name])
			continue
		}
		t, err := parseTemplate(name, ls[name], funcs)
		if err != nil {
			v.errorf(m.At(at), "label %q: invalid template: %v", name, err)
			continue
		}
		out[name] = t
	}
	return out
}

func (v *validator) annotations(m *yamlpos.Meta, as map[string]string) map[string]*Template {
	out := make(map[string]*Template, len(as))
	for _, name := range slices.Sorted(maps.Keys(as)) {
		at := "annotations." + name
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			v.errorf(m.At(at), "invalid annotation name %q: use letters, digits and _ and do not start with a digit", name)
			continue
		case reservedAnnotations[name] != "":
			v.errorf(m.At(at), "annotation %q is set by the alert's %s: field", name, reservedAnnotations[name])
			continue
		}
		t, err := parseTemplate(name, as[name], templateFuncs)
		if err != nil {
			v.errorf(m.At(at), "annotation %q: invalid template: %v", name, err)
			continue
		}
		out[name] = t
	}
	return out
}

func (v *validator) oid(m *yamlpos.Meta, field, oid string) {
	if !numericOIDRE.MatchString(oid) && !symbolicOIDRE.MatchString(oid) {
		v.errorf(m.At(field), "%s %q is not an OID: write it numeric (1.3.6.1.6.3.1.1.5.3) or as MODULE::name (IF-MIB::linkDown)", field, oid)
	}
}

func (v *validator) trap(t *TrapSource, a *Alert, d *Defaults) {
	if t.OID == "" {
		v.errorf(t.Where.Pos, "trap source without oid: name the trap (numeric or MODULE::name)")
	} else {
		v.oid(&t.Where, "oid", t.OID)
	}
	if c := t.Clear; c != nil {
		if c.OID == "" {
			v.errorf(c.Where.Pos, "clear without oid: name the clear trap (numeric or MODULE::name)")
		} else {
			v.oid(&c.Where, "oid", c.OID)
		}
		for _, mt := range c.Match {
			if mt != nil {
				v.varbindMatcher(mt)
			}
		}
		// The same trap may clear itself (a state change: another value),
		// but not when raise and clear could match the same trap.
		if c.OID != "" && SameTrapOID(c.OID, t.OID) && (len(c.Match) == 0 || len(t.Match) == 0 || sameMatchers(c.Match, t.Match)) {
			v.errorf(c.Where.At("oid"), "clear trap %q is the trap it clears, and raise and clear would match the same traps: give each matchers that tell them apart (match: [{varbind: ..., equals: ...}])", c.OID)
		}
	}
	t.labels = v.labels(&t.Where, "labels", t.Labels, trapTemplateFuncs)
	for i, k := range t.Key {
		_, inSource := t.Labels[k]
		_, inAlert := a.Labels[k]
		_, inDefaults := d.Labels[k]
		if !inSource && !inAlert && !inDefaults {
			v.errorf(t.Where.At(fmt.Sprintf("key[%d]", i)), "key %q is not one of this trap source's labels (the sender's address is always part of the key)", k)
		}
	}
	for _, mt := range t.Match {
		if mt != nil {
			v.varbindMatcher(mt)
		}
	}
	for i, s := range t.Sources {
		p, err := parsePrefix(s)
		if err != nil {
			v.errorf(t.Where.At(fmt.Sprintf("sources[%d]", i)), "%v", err)
			continue
		}
		t.sourcePrefixes = append(t.sourcePrefixes, p)
	}
	v.positive(&t.Where, "resolve_after", t.ResolveAfter)
	if t.ResolveAfter <= 0 {
		t.ResolveAfter = d.ResolveAfter
	}
	if t.ResolveAfter <= 0 {
		t.ResolveAfter = Duration(DefaultResolveAfter)
	}
}

// parsePrefix reads a source as a CIDR or a single address; v4-mapped IPv6
// forms are unmapped, as sender addresses are.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid source CIDR %q: %v", s, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid source %q: want an address or a CIDR (10.0.0.0/8, fd00::/8)", s)
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid source %q: zones (%%%s) cannot be matched, leave them out", s, addr.Zone())
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

func (v *validator) varbindMatcher(m *VarbindMatcher) {
	if m.Varbind == "" {
		v.errorf(m.Where.Pos, "varbind matcher without varbind: name the varbind (numeric or MODULE::name)")
	} else {
		v.oid(&m.Where, "varbind", m.Varbind)
	}
	type op struct {
		field string
		value *string
		kind  labels.MatchType
	}
	var set []op
	for _, o := range []op{
		{"equals", m.Equals, labels.MatchEqual},
		{"not_equals", m.NotEquals, labels.MatchNotEqual},
		{"regex", m.Regex, labels.MatchRegexp},
		{"not_regex", m.NotRegex, labels.MatchNotRegexp},
	} {
		if o.value != nil {
			set = append(set, o)
		}
	}
	if len(set) != 1 {
		v.errorf(m.Where.Pos, "varbind matcher needs exactly one of equals, not_equals, regex, not_regex (found %d)", len(set))
		return
	}
	matcher, err := labels.NewMatcher(set[0].kind, m.Varbind, *set[0].value)
	if err != nil {
		v.errorf(m.Where.At(set[0].field), "invalid %s: %v", set[0].field, err)
		return
	}
	m.matcher = matcher
}

func (v *validator) log(l *LogSource, d *Defaults) {
	if l.Query == "" {
		v.errorf(l.Where.Pos, "log source without query")
	} else if q, err := query.Parse(l.Query); err != nil {
		v.errorf(v.innerPos(&l.Where, "query", l.Query, err), "query: %v", err)
	} else {
		l.parsedQuery = q
	}
	v.positive(&l.Where, "every", l.Every)
	v.positive(&l.Where, "window", l.Window)
	if l.Every <= 0 {
		l.Every = d.Every
	}
	if l.Every <= 0 {
		l.Every = Duration(DefaultEvery)
	}
	if !l.Where.Has("query_delay") {
		l.QueryDelay = d.QueryDelay
	}
	switch {
	case !l.Where.Has("window"):
		v.errorf(l.Where.Pos, "log source without window: say how far back each evaluation counts (window: 5m)")
	case l.Window > 0 && l.Window < l.Every:
		v.errorf(l.Where.At("window"), "window (%s) is shorter than every (%s): lines logged between two windows would never be counted", l.Window, l.Every)
	}
	seen := map[string]bool{}
	for i, f := range l.GroupBy {
		at := l.Where.At(fmt.Sprintf("group_by[%d]", i))
		switch {
		case !validFieldName(f):
			v.errorf(at, "group_by: invalid field name %q", f)
		case seen[f]:
			v.errorf(at, "group_by: field %q listed twice", f)
		}
		seen[f] = true
	}
	l.parsedCondition = DefaultCondition
	if l.Condition != "" {
		c, err := ParseCondition(l.Condition)
		if err != nil {
			v.errorf(l.Where.At("condition"), "%v", err)
		} else {
			l.parsedCondition = c
		}
	}
	l.Condition = l.parsedCondition.String()
	l.labels = v.labels(&l.Where, "labels", l.Labels, templateFuncs)
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '.' || r == '@' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (v *validator) metric(m *MetricSource) {
	m.labels = v.labels(&m.Where, "labels", m.Labels, templateFuncs)
	if m.Expr == "" {
		v.errorf(m.Where.Pos, "metric source without expr")
		return
	}
	expr, err := promqlParser.ParseExpr(m.Expr)
	if err != nil {
		var perrs parser.ParseErrors
		if pe, ok := err.(parser.ParseErrors); ok {
			perrs = pe
		}
		if len(perrs) == 0 {
			v.errorf(m.Where.At("expr"), "expr: %v", err)
			return
		}
		for _, pe := range perrs {
			at := yamlpos.OffsetPos(m.Where.Node("expr"), v.lines, int(pe.PositionRange.Start))
			v.errorf(at, "expr: %v", pe.Err)
		}
		return
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		v.errorf(m.Where.At("expr"), "expr must give an instant vector, not a %s", t)
		return
	}
	m.parsedExpr = expr
}

// innerPos maps an error inside a value (a query column) to the file.
func (v *validator) innerPos(m *yamlpos.Meta, field, value string, err error) yamlpos.Pos {
	qe, ok := err.(*query.Error)
	if !ok {
		return m.At(field)
	}
	offset, col := 0, 1
	for i := range value {
		if col == qe.Column {
			offset = i
			break
		}
		col++
		offset = len(value)
	}
	return yamlpos.OffsetPos(m.Node(field), v.lines, offset)
}

// sameMatchers tells whether two matcher lists test the same varbinds the
// same way, in any order.
func sameMatchers(a, b []*VarbindMatcher) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(m *VarbindMatcher) string {
		if m == nil {
			return ""
		}
		s := m.Varbind
		for _, op := range []struct {
			name string
			v    *string
		}{{"=", m.Equals}, {"!=", m.NotEquals}, {"=~", m.Regex}, {"!~", m.NotRegex}} {
			if op.v != nil {
				s += "\x00" + op.name + "\x00" + *op.v
			}
		}
		return s
	}
	seen := map[string]int{}
	for _, m := range a {
		seen[key(m)]++
	}
	for _, m := range b {
		if seen[key(m)] == 0 {
			return false
		}
		seen[key(m)]--
	}
	return true
}

package traps

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// index is the catalogue's trap sources by numeric OID.
type index struct {
	catalogue *rules.Catalogue
	byOID     map[string][]*source
	byClear   map[string][]*source
}

type source struct {
	alert    *rules.Alert
	src      *rules.TrapSource
	matchers []matcher
	// oids are the raise's numeric OID in both spellings (see
	// rules.TrapOIDSpellings); clearOIDs and clearMatchers the clear's.
	oids, clearOIDs []string
	clearMatchers   []matcher
}

type matcher struct {
	oid string
	m   *rules.VarbindMatcher
}

// compile resolves the catalogue's names; a source whose names cannot be
// resolved is left out and reported.
func compile(c *rules.Catalogue, names *Names) (*index, []error) {
	ix := &index{catalogue: c, byOID: map[string][]*source{}, byClear: map[string][]*source{}}
	var errs []error
	for _, a := range c.Alerts {
		for _, ts := range a.Traps {
			s := &source{alert: a, src: ts}
			oid, err := names.Resolve(ts.OID)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: alert %q: trap %s: %w", a.File, a.Name, ts.OID, err))
				continue
			}
			var ok bool
			if s.matchers, ok = resolveMatchers(a, ts.Match, names, &errs); !ok {
				continue
			}
			s.oids = spellings(oid)
			if ts.Clear != nil {
				clear, err := names.Resolve(ts.Clear.OID)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: alert %q: clear trap %s: %w", a.File, a.Name, ts.Clear.OID, err))
					continue
				}
				if s.clearMatchers, ok = resolveMatchers(a, ts.Clear.Match, names, &errs); !ok {
					continue
				}
				s.clearOIDs = spellings(clear)
			}
			for _, o := range s.oids {
				ix.byOID[o] = append(ix.byOID[o], s)
			}
			for _, o := range s.clearOIDs {
				ix.byClear[o] = append(ix.byClear[o], s)
			}
		}
	}
	return ix, errs
}

// spellings is a notification OID in both its RFC 3584 spellings.
func spellings(oid string) []string {
	if other, ok := rules.TrapOIDSpellings(oid); ok {
		return []string{oid, other}
	}
	return []string{oid}
}

func resolveMatchers(a *rules.Alert, ms []*rules.VarbindMatcher, names *Names, errs *[]error) ([]matcher, bool) {
	var out []matcher
	ok := true
	for _, m := range ms {
		vb, err := names.Resolve(m.Varbind)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%s: alert %q: varbind %s: %w", a.File, a.Name, m.Varbind, err))
			ok = false
			continue
		}
		out = append(out, matcher{oid: vb, m: m})
	}
	return out, ok
}

// classify tells whether t raises or clears the source's fault. Never
// both: a trap that both the raise and the clear would match (one OID, a
// state trap, with matchers that overlap) raises, as the raise's
// matchers name the faulty state and the clear's only what is not it.
func (s *source) classify(t *Trap) (raise, clear bool) {
	raise = slices.Contains(s.oids, t.OID) && matchAll(s.matchers, t)
	clear = !raise && slices.Contains(s.clearOIDs, t.OID) && matchAll(s.clearMatchers, t)
	return raise, clear
}

func (s *source) fromAllowedSender(addr netip.Addr) bool {
	prefixes := s.src.SourcePrefixes()
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func matchAll(ms []matcher, t *Trap) bool {
	for _, m := range ms {
		v, _ := t.Lookup(m.oid)
		if !m.m.Matches(v) {
			return false
		}
	}
	return true
}

// instance is the address the alert names: the sender, or for a trusted
// forwarder the snmpTrapAddress.0 it relays.
func instance(t *Trap, trusted []netip.Prefix) netip.Addr {
	addr := t.Source.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			if v, ok := t.Lookup(snmpTrapAddress0); ok {
				if fwd, err := netip.ParseAddr(v); err == nil {
					return fwd.Unmap()
				}
			}
			break
		}
	}
	return addr
}

// labels renders the labels a trap gives the alert: the alert's labels, the
// source's labels from varbinds, alertname, severity and instance.
func (s *source) labels(t *Trap, names *Names, inst string) (map[string]string, error) {
	lookup := trapVarbinds{t: t, names: names}
	tmpl := s.alert.Templates()
	labels := make(map[string]string, len(tmpl.Labels)+len(s.src.LabelTemplates())+3)
	data := rules.TemplateData{Labels: map[string]string{"instance": inst}, Value: 1}
	for name, lt := range tmpl.Labels {
		v, err := lt.Execute(data)
		if err != nil {
			return nil, err
		}
		labels[name] = v
	}
	for name, lt := range s.src.LabelTemplates() {
		v, err := lt.ExecuteTrap(data, lookup)
		if err != nil {
			return nil, err
		}
		labels[name] = v
	}
	labels["alertname"] = s.alert.Name
	labels["severity"] = s.alert.Severity
	labels["instance"] = inst
	for k, v := range labels {
		if v == "" {
			delete(labels, k) // as in Prometheus, an empty label is no label
		}
	}
	return labels, nil
}

// trapVarbinds is what a source's templates read of the trap.
type trapVarbinds struct {
	t     *Trap
	names *Names
}

func (v trapVarbinds) Varbind(name string) (string, bool) {
	oid, err := v.names.Resolve(name)
	if err != nil {
		return "", false
	}
	return v.t.Lookup(oid)
}

func (v trapVarbinds) VarbindIndex(name string) (string, bool) {
	oid, err := v.names.Resolve(name)
	if err != nil {
		return "", false
	}
	return v.t.Index(oid)
}

// annotations renders the alert's annotations from its labels. They are
// rendered only for alerts that are sent, not for folded repeats.
func (s *source) annotations(t *Trap, names *Names, labels map[string]string) (map[string]string, error) {
	tmpl := s.alert.Templates()
	out := map[string]string{}
	data := rules.TemplateData{Labels: labels, Value: 1}
	var err error
	for name, at := range map[string]*rules.Template{"summary": tmpl.Summary, "description": tmpl.Description, "runbook_url": tmpl.RunbookURL} {
		if at == nil || at.Text() == "" {
			continue
		}
		if out[name], err = at.Execute(data); err != nil {
			return nil, err
		}
	}
	for name, at := range tmpl.Annotations {
		if out[name], err = at.Execute(data); err != nil {
			return nil, err
		}
	}
	out["trap_oid"] = names.Name(t.OID)
	return out, nil
}

// key identifies one instance of a fault: the alert, the sender and the
// key labels (OpenNMS's reduction key).
func (s *source) key(labels map[string]string) string {
	var b strings.Builder
	b.WriteString(s.alert.Name)
	b.WriteByte(0)
	b.WriteString(labels["instance"])
	for _, k := range s.src.Key {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
	}
	return b.String()
}

// faults holds the faults this receiver raised, to fold repeats and to
// resolve them with exactly the labels they were raised with.
type faults struct {
	fold   time.Duration
	active map[string]*fault
}

type fault struct {
	alert    sender.Alert
	lastSent time.Time
}

// raise returns the alert to send for a fault trap, or false when it is a
// repeat within the fold window. annotate renders the annotations of an
// alert that is sent.
func (f *faults) raise(key string, labels map[string]string, annotate func() (map[string]string, error), resolveAfter time.Duration, now time.Time, generatorURL string) (sender.Alert, bool, error) {
	if a, ok := f.active[key]; ok && now.Before(a.alert.EndsAt) {
		if now.Sub(a.lastSent) < f.fold && maps.Equal(a.alert.Labels, labels) {
			return sender.Alert{}, false, nil
		}
		annotations, err := annotate()
		if err != nil {
			return sender.Alert{}, false, err
		}
		a.alert.Labels, a.alert.Annotations = labels, annotations
		a.alert.EndsAt = now.Add(resolveAfter)
		a.lastSent = now
		return a.alert, true, nil
	}
	annotations, err := annotate()
	if err != nil {
		return sender.Alert{}, false, err
	}
	a := &fault{alert: sender.Alert{
		Labels: labels, Annotations: annotations, StartsAt: now, EndsAt: now.Add(resolveAfter), GeneratorURL: generatorURL,
	}, lastSent: now}
	f.active[key] = a
	return a.alert, true, nil
}

// clear returns the resolve for key. A fault this process did not raise
// (it restarted since) is resolved with the labels the clear trap gives,
// which match whenever the source's labels come from varbinds both traps
// carry.
func (f *faults) clear(key string, labels map[string]string, annotate func() (map[string]string, error), now time.Time) (sender.Alert, error) {
	if a, ok := f.active[key]; ok {
		delete(f.active, key)
		a.alert.EndsAt = now
		return a.alert, nil
	}
	annotations, err := annotate()
	if err != nil {
		return sender.Alert{}, err
	}
	return sender.Alert{Labels: labels, Annotations: annotations, StartsAt: now, EndsAt: now}, nil
}

// expire forgets faults past their endsAt.
func (f *faults) expire(now time.Time) {
	for k, a := range f.active {
		if !now.Before(a.alert.EndsAt) {
			delete(f.active, k)
		}
	}
}

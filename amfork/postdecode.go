package amfork

import (
	"bytes"
	"unicode/utf8"

	"github.com/prometheus/common/model"
)

// decodeAlertList decodes a body in the shape every Prometheus and
// Kusanagi sender writes (an array of objects with exactly the postable
// fields, string values without escapes) in one pass, without reflection,
// and with label names and repeated values shared across the request's
// alerts. It reports false for anything else, which encoding/json then
// decodes: the fast path accepts only input whose meaning is unambiguous,
// so both give the same result where it answers (FuzzDecodeAlertList).
//
// It is written by hand because the JSON libraries allocate every string
// anew, and label strings are most of what a stored alert holds.
func decodeAlertList(body []byte) ([]postableAlert, bool) {
	s := alertListScanner{b: body}
	posted, ok := s.list()
	return posted, ok && s.skipSpace() == len(s.b)
}

type alertListScanner struct {
	b []byte
	i int
	// last maps a label or annotation name to the value it had last in
	// this request, so that both strings are shared when they repeat.
	last map[string]internedPair
}

type internedPair struct{ name, value string }

// Which members an alert object had: a repeated member would merge maps
// in encoding/json, so it leaves the fast path.
const (
	hasLabels = 1 << iota
	hasAnnotations
	hasStartsAt
	hasEndsAt
	hasGeneratorURL
)

func (s *alertListScanner) list() ([]postableAlert, bool) {
	if !s.consume('[') {
		return nil, false
	}
	posted := make([]postableAlert, 0, len(s.b)/256+1)
	if s.consume(']') {
		return posted, true
	}
	for {
		posted = append(posted, postableAlert{})
		if !s.alert(&posted[len(posted)-1]) {
			return nil, false
		}
		if s.consume(',') {
			continue
		}
		return posted, s.consume(']')
	}
}

func (s *alertListScanner) alert(pa *postableAlert) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	seen := 0
	for {
		key, ok := s.str()
		if !ok || !s.consume(':') {
			return false
		}
		var member int
		switch string(key) {
		case "labels":
			member = hasLabels
			pa.Labels, ok = s.labels()
		case "annotations":
			member = hasAnnotations
			pa.Annotations, ok = s.labels()
		case "startsAt":
			member = hasStartsAt
			ok = s.time(&pa.StartsAt)
		case "endsAt":
			member = hasEndsAt
			ok = s.time(&pa.EndsAt)
		case "generatorURL":
			member = hasGeneratorURL
			var v []byte
			if v, ok = s.str(); ok {
				pa.GeneratorURL = string(v)
			}
		default:
			// encoding/json matches field names case-insensitively and
			// skips unknown ones: not for the fast path.
			return false
		}
		if !ok || seen&member != 0 {
			return false
		}
		seen |= member
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

func (s *alertListScanner) labels() (labelSet, bool) {
	if !s.consume('{') {
		return nil, false
	}
	set := make(labelSet)
	if s.consume('}') {
		return set, true
	}
	for {
		name, ok := s.str()
		if !ok || !s.consume(':') {
			return nil, false
		}
		value, ok := s.str()
		if !ok {
			return nil, false
		}
		n, v := s.intern(name, value)
		set[model.LabelName(n)] = model.LabelValue(v)
		if s.consume(',') {
			continue
		}
		return set, s.consume('}')
	}
}

// intern returns name and value as strings, shared with earlier alerts of
// the request when they had the same name, or the same value for it.
func (s *alertListScanner) intern(name, value []byte) (string, string) {
	if s.last == nil {
		s.last = make(map[string]internedPair, 8)
	}
	p, ok := s.last[string(name)]
	if ok && p.value == string(value) {
		return p.name, p.value
	}
	if !ok {
		p.name = string(name)
	}
	p.value = string(value)
	s.last[p.name] = p
	return p.name, p.value
}

func (s *alertListScanner) time(d *dateTime) bool {
	start := s.skipSpace()
	if _, ok := s.str(); !ok {
		return false
	}
	return d.UnmarshalJSON(s.b[start:s.i]) == nil
}

// str reads a string without escapes and returns its content, which
// aliases the body.
func (s *alertListScanner) str() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return nil, false
	}
	v := s.b[start : start+end]
	ascii := true
	for _, c := range v {
		if c < 0x20 || c == '\\' {
			return nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	// encoding/json replaces invalid UTF-8 with U+FFFD.
	if !ascii && !utf8.Valid(v) {
		return nil, false
	}
	s.i = start + end + 1
	return v, true
}

// consume skips white space and then c, reporting whether c was there.
func (s *alertListScanner) consume(c byte) bool {
	if s.skipSpace() < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *alertListScanner) skipSpace() int {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return s.i
		}
	}
	return s.i
}

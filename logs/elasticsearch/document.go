package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// A record is indexed as the flat document the embedded store keeps
// (dotted ECS names as keys, every value a string) plus @timestamp (the
// sender's time) and event.created (the arrival), so that _source gives
// the record back field for field.

// Fields of the fallback document of a record Elasticsearch refused.
const (
	fieldRecord     = "kusanagi.record"
	fieldErrorType  = "error.type"
	fieldErrorMsg   = "error.message"
	fieldTags       = "tags"
	tagIndexError   = "kusanagi.index_error"
	timestampLayout = time.RFC3339Nano
)

// date_nanos holds 1970-01-01 to 2262-04-11.
var (
	minNanosTime = time.Unix(0, 0)
	maxNanosTime = time.Unix(0, 1<<63-1)
)

func inNanosRange(t time.Time) bool { return !t.Before(minNanosTime) && t.Before(maxNanosTime) }

// fixed are the record's own fields; Fields never override them.
var fixed = []string{"@timestamp", fieldCreated, "message", "event.original", "host.ip", "host.name"}

// fieldCreated is the record's arrival, which every window and range is on.
const fieldCreated = "event.created"

// document returns the JSON document of r.
func document(r *logs.Record) ([]byte, error) {
	return json.Marshal(docMap(r))
}

func docMap(r *logs.Record) map[string]any {
	m := make(map[string]any, len(r.Fields)+5)
	for k, v := range r.Fields {
		m[k] = v
	}
	m["@timestamp"] = r.Timestamp.UTC().Format(timestampLayout)
	m[fieldCreated] = r.Arrival().UTC().Format(timestampLayout)
	m["message"] = r.Message
	for _, kv := range [][2]string{{"event.original", r.Original}, {"host.ip", r.HostIP}, {"host.name", r.HostName}} {
		if kv[1] != "" {
			m[kv[0]] = kv[1]
		} else {
			delete(m, kv[0])
		}
	}
	return m
}

// fallbackDocument is what is indexed when Elasticsearch refuses a
// document for its content (a field of the wrong type, a mapping conflict):
// the fields every search relies on, the refusal, and the whole record in
// an object the mapping neither parses nor indexes, from which Search gives
// the record back unchanged.
func fallbackDocument(doc []byte, errType, reason string) ([]byte, error) {
	var orig map[string]any
	if err := json.Unmarshal(doc, &orig); err != nil {
		return nil, fmt.Errorf("cannot decode a refused document: %w", err)
	}
	m := map[string]any{
		fieldRecord:    orig,
		fieldErrorType: errType,
		fieldErrorMsg:  reason,
		fieldTags:      []string{tagIndexError},
	}
	// The fallback must not be refused for its times: an index whose
	// mapping predates Kusanagi's template may hold @timestamp as
	// date_nanos, which takes 1970 to 2262 only.
	created := time.Now().UTC()
	if s, ok := orig[fieldCreated].(string); ok {
		if t, err := time.Parse(timestampLayout, s); err == nil && inNanosRange(t) {
			created = t
		}
	}
	ts := created
	if s, ok := orig["@timestamp"].(string); ok {
		if t, err := time.Parse(timestampLayout, s); err == nil && inNanosRange(t) {
			ts = t
		}
	}
	m["@timestamp"] = ts.Format(timestampLayout)
	m[fieldCreated] = created.Format(timestampLayout)
	for _, k := range []string{"message", "event.original", "host.name"} {
		if s, ok := orig[k].(string); ok {
			m[k] = s
		}
	}
	if s, ok := orig["host.ip"].(string); ok {
		if _, err := netip.ParseAddr(s); err == nil {
			m["host.ip"] = s
		}
	}
	return json.Marshal(m)
}

// record rebuilds a record from a _source. Documents written by other
// shippers (nested objects, arrays, numbers) are flattened to the same
// dotted string form.
func record(src []byte) (logs.Record, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return logs.Record{}, fmt.Errorf("cannot decode a document: %w", err)
	}
	flat := map[string]string{}
	var refused map[string]string
	if orig, ok := m[fieldRecord].(map[string]any); ok {
		delete(m, fieldRecord)
		refused = map[string]string{}
		flatten(refused, "", orig)
		refused[fieldTags] = tagIndexError
		for _, k := range []string{fieldErrorType, fieldErrorMsg} {
			if v, ok := m[k].(string); ok {
				refused[k] = v
			}
		}
	}
	flatten(flat, "", m)
	if refused != nil {
		flat = refused
	}
	var r logs.Record
	if s := flat["@timestamp"]; s != "" {
		t, err := time.Parse(timestampLayout, s)
		if err != nil {
			return logs.Record{}, fmt.Errorf("document @timestamp %q: %w", s, err)
		}
		r.Timestamp = t.UTC()
	}
	r.Received = r.Timestamp // a document indexed before records had an arrival
	if s := flat[fieldCreated]; s != "" {
		t, err := time.Parse(timestampLayout, s)
		if err != nil {
			return logs.Record{}, fmt.Errorf("document %s %q: %w", fieldCreated, s, err)
		}
		r.Received = t.UTC()
	}
	r.Message, r.Original, r.HostIP, r.HostName = flat["message"], flat["event.original"], flat["host.ip"], flat["host.name"]
	for _, k := range fixed {
		delete(flat, k)
	}
	if len(flat) > 0 {
		r.Fields = flat
	}
	return r, nil
}

func flatten(out map[string]string, prefix string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			name := k
			if prefix != "" {
				name = prefix + "." + k
			}
			flatten(out, name, v[k])
		}
	case []any:
		if len(v) == 1 {
			flatten(out, prefix, v[0])
			return
		}
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	case string:
		out[prefix] = v
	case json.Number:
		out[prefix] = v.String()
	case bool:
		out[prefix] = strconv.FormatBool(v)
	case nil:
	}
}

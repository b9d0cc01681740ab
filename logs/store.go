// Package logs holds what Kusanagi stores and searches: log records (syslog
// lines, raw SNMP traps) with Elastic Common Schema field names, and the
// store interface its backends (the embedded store, Elasticsearch)
// implement, queried with the catalogue's one query form.
package logs

import (
	"context"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// Record is one stored event. Fields are ECS names ("log.syslog.appname",
// "event.code", "snmp.trap.oid"); Message, Original, HostIP and HostName
// are the ECS fields every record has.
//
// A record has two times, as in ECS. Received (event.created) is when
// Kusanagi took it in: it decides the record's day, its retention, every
// log rule's window and every search range, so that no record is refused
// or put where nobody looks for the sender's clock. Timestamp
// (@timestamp) is the event's own time as the sender wrote it, kept and
// searchable however wrong, or the arrival when the sender gave none.
// A producer that knows one time only may leave Received zero: Arrival
// then reads Timestamp.
type Record struct {
	Timestamp time.Time         `json:"@timestamp"`
	Received  time.Time         `json:"event.created,omitzero"`
	Message   string            `json:"message"`
	Original  string            `json:"event.original,omitempty"`
	HostIP    string            `json:"host.ip,omitempty"`
	HostName  string            `json:"host.name,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// Arrival is when the record was received: Received, or Timestamp when
// Received is not set.
func (r *Record) Arrival() time.Time {
	if r.Received.IsZero() {
		return r.Timestamp
	}
	return r.Received
}

// Field is a name and value of a record's Fields, for code that collects
// them in a list rather than a map.
type Field struct{ Name, Value string }

// Field returns a field by its ECS name, including the fixed ones.
func (r *Record) Field(name string) (string, bool) {
	switch name {
	case "message":
		return r.Message, true
	case "event.original":
		return r.Original, r.Original != ""
	case "host.ip":
		return r.HostIP, r.HostIP != ""
	case "host.name":
		return r.HostName, r.HostName != ""
	}
	v, ok := r.Fields[name]
	return v, ok
}

// TextFields are analyzed: a term matches a word in them, case-insensitively.
// Every other field is a keyword: a term matches the whole value.
var TextFields = map[string]bool{"message": true, "event.original": true}

// Store is a log store.
type Store interface {
	// Write stores records durably before returning.
	Write(ctx context.Context, records []Record) error
	// Search returns up to limit records matching q that arrived in
	// [from, to), the latest arrivals first.
	Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]Record, error)
	// Count counts records matching q that arrived in [from, to) per
	// distinct value set of groupBy (one entry with no values when groupBy
	// is empty).
	Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]GroupCount, error)
	Close() error
}

// GroupCount is the count of one group.
type GroupCount struct {
	Group map[string]string
	Count int64
}

package syslog

import (
	"strconv"
	"time"
	"unsafe"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// parsed is a record as parsing builds it, its Fields in a list: for the
// few fields of a line, filling, clearing and encoding a list costs less
// than a map, line after line.
type parsed struct {
	rec logs.Record // Fields stays nil
	// sent is set when the line gave a time of its own (rec.Timestamp);
	// skew is its distance from the arrival when beyond
	// ClockSkewThreshold.
	sent bool
	skew time.Duration
	// loc is the sender's time zone (Profile.Location): where the times a
	// message carries without an offset (Fortinet's date and time, PAN-OS's
	// receive time) are read, as the header's are.
	loc *time.Location
	// digits holds the numbers parsing writes out (the skew, an uptime):
	// the record's strings point into it, as into the line, until the
	// next reset; Parse's parsed is its record's alone.
	digits []byte
	fields []logs.Field
	// index finds a name in a long list (structured data with many
	// parameters), so that setting n fields is not n² comparisons.
	index map[string]int
}

// indexFrom is the list length from which names are looked up by index.
const indexFrom = 16

func (p *parsed) reset(rec logs.Record) {
	p.rec = rec
	p.sent, p.skew = false, 0
	p.digits = p.digits[:0]
	clear(p.fields)
	p.fields = p.fields[:0]
	p.index = nil
}

// set sets a field, replacing a value set before, as a map would.
func (p *parsed) set(name, value string) {
	if i, ok := p.find(name); ok {
		p.fields[i].Value = value
		return
	}
	p.fields = append(p.fields, logs.Field{Name: name, Value: value})
	switch n := len(p.fields); {
	case n == indexFrom:
		p.index = make(map[string]int, 2*indexFrom)
		for i, f := range p.fields {
			p.index[f.Name] = i
		}
	case n > indexFrom:
		p.index[name] = n - 1
	}
}

func (p *parsed) get(name string) (string, bool) {
	if i, ok := p.find(name); ok {
		return p.fields[i].Value, true
	}
	return "", false
}

func (p *parsed) find(name string) (int, bool) {
	if p.index != nil {
		i, ok := p.index[name]
		return i, ok
	}
	for i := range p.fields {
		if p.fields[i].Name == name {
			return i, true
		}
	}
	return 0, false
}

// setInt sets a field to n written out, without a string allocation
// per line.
func (p *parsed) setInt(name string, n int64) {
	if n >= 0 && n < int64(len(decimals)) {
		p.set(name, decimals[n])
		return
	}
	start := len(p.digits)
	if cap(p.digits)-start < 20 {
		// The strings made before point into the old array, which they
		// keep alive.
		p.digits = make([]byte, 0, max(64, 2*cap(p.digits)))
		start = 0
	}
	p.digits = strconv.AppendInt(p.digits, n, 10)
	p.set(name, unsafe.String(&p.digits[start], len(p.digits)-start))
}

// record is the parsed record with its Fields in a map of its own.
func (p *parsed) record() logs.Record {
	r := p.rec
	r.Fields = make(map[string]string, len(p.fields))
	for _, f := range p.fields {
		r.Fields[f.Name] = f.Value
	}
	return r
}

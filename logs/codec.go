package logs

import (
	"encoding/binary"
	"errors"
	"time"
)

// The Writer spools records in a compact binary form rather than JSON: the
// receivers encode every accepted line on their own goroutines at hundreds
// of thousands of lines per second, and JSON costs several times more. The
// form is a version byte, the arrival (varint seconds, uvarint
// nanoseconds), the sender's timestamp (varint seconds after the arrival,
// uvarint nanoseconds), Message, Original, HostIP, HostName, then the
// number of fields and each key and value, in the map's order; strings are
// a uvarint length and the bytes. Version 1, written before records had an
// arrival time, has the timestamp alone: it is read as both.
const (
	codecVersion   = 2
	codecVersionV1 = 1
)

var errCorruptRecord = errors.New("corrupt spooled record")

// encodedSize is about the bytes of r's encoding: one allocation per record.
func encodedSize(r *Record) int {
	n := 32 + len(r.Message) + len(r.Original) + len(r.HostIP) + len(r.HostName)
	for k, v := range r.Fields {
		n += 4 + len(k) + len(v)
	}
	return n
}

// encodeRecord appends r's encoding to buf, with fields after r.Fields:
// their names must not be in r.Fields.
func encodeRecord(buf []byte, r *Record, fields []Field) []byte {
	buf = append(buf, codecVersion)
	arrival := r.Arrival()
	buf = binary.AppendVarint(buf, arrival.Unix())
	buf = binary.AppendUvarint(buf, uint64(arrival.Nanosecond()))
	buf = binary.AppendVarint(buf, r.Timestamp.Unix()-arrival.Unix())
	buf = binary.AppendUvarint(buf, uint64(r.Timestamp.Nanosecond()))
	for _, s := range []string{r.Message, r.Original, r.HostIP, r.HostName} {
		buf = appendString(buf, s)
	}
	buf = binary.AppendUvarint(buf, uint64(len(r.Fields)+len(fields)))
	for k, v := range r.Fields {
		buf = appendString(buf, k)
		buf = appendString(buf, v)
	}
	for _, f := range fields {
		buf = appendString(buf, f.Name)
		buf = appendString(buf, f.Value)
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// decodeRecord decodes what encodeRecord wrote; timestamps come back in UTC.
// The record's strings share one copy of b: one allocation, not one per
// string, on the store's side of the spool.
func decodeRecord(b []byte) (Record, error) {
	if len(b) == 0 || b[0] != codecVersion && b[0] != codecVersionV1 {
		return Record{}, errCorruptRecord
	}
	d := decoder{b: b[1:], s: string(b[1:])}
	var r Record
	r.Received = d.time(0)
	r.Timestamp = r.Received
	if b[0] == codecVersion {
		r.Timestamp = d.time(r.Received.Unix())
	}
	r.Message, r.Original, r.HostIP, r.HostName = d.string(), d.string(), d.string(), d.string()
	n := d.uvarint()
	// Each field takes at least two bytes: a corrupt count must not allocate.
	if n > uint64(len(d.b)/2) {
		return Record{}, errCorruptRecord
	}
	if n > 0 {
		r.Fields = make(map[string]string, n)
	}
	for range n {
		k := d.string()
		r.Fields[k] = d.string()
	}
	// A key twice is not what encodeRecord writes.
	if d.err != nil || len(d.b) != 0 || len(r.Fields) != int(n) {
		return Record{}, errCorruptRecord
	}
	return r, nil
}

// decoder reads b, and takes strings from s, which holds the same bytes.
type decoder struct {
	b   []byte
	s   string
	err error
}

func (d *decoder) skip(n int) {
	d.b, d.s = d.b[n:], d.s[n:]
}

func (d *decoder) fail() {
	d.err, d.b, d.s = errCorruptRecord, nil, ""
}

func (d *decoder) uvarint() uint64 {
	v, k := binary.Uvarint(d.b)
	if !canonical(d.b, k) {
		d.fail()
		return 0
	}
	d.skip(k)
	return v
}

func (d *decoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if !canonical(d.b, k) {
		d.fail()
		return 0
	}
	d.skip(k)
	return v
}

// canonical says whether the k bytes of b that a varint took are its
// shortest form, the one Append writes, so that one record has one
// encoding: a longer form ends in a byte that adds nothing.
func canonical(b []byte, k int) bool {
	return k == 1 || k > 1 && b[k-1] != 0
}

// time reads varint seconds after base and uvarint nanoseconds.
func (d *decoder) time(base int64) time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(base+sec, int64(nsec)).UTC()
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := d.s[:n]
	d.skip(int(n))
	return s
}

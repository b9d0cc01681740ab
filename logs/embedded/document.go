package embedded

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// document encodes the fields that have no column of their own (the
// sender's @timestamp when it is not the arrival that the ts column holds,
// host.name, and the record's Fields but event.code) as the JSON object
// kept per row, appending to b. It is written by hand because encoding/json's map
// encoding (reflection, sorted keys through an interface) was the largest
// cost of storing a record.
func document(b []byte, r *logs.Record, keys []string) ([]byte, []string) {
	keys = keys[:0]
	for k := range r.Fields {
		switch k {
		case "message", "event.original", "host.ip", "host.name", "event.code", timestampField, "event.created":
			continue // columns; the record's own fields win over Fields
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	comma := false
	if !r.Timestamp.Equal(r.Arrival()) {
		b = append(b, `"`+timestampField+`":"`...)
		b = r.Timestamp.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
		comma = true
	}
	if r.HostName != "" {
		b = appendPair(b, "host.name", r.HostName, comma)
		comma = true
	}
	for _, k := range keys {
		b = appendPair(b, k, r.Fields[k], comma)
		comma = true
	}
	return append(b, '}'), keys
}

// timestampField is the key of the sender's time in a row's document.
const timestampField = "@timestamp"

func appendPair(b []byte, k, v string, comma bool) []byte {
	if comma {
		b = append(b, ',')
	}
	b = appendJSONString(b, k)
	b = append(b, ':')
	return appendJSONString(b, v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

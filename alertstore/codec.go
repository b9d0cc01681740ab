package alertstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
)

// An alert is kept in etcd in a compact binary form (version byte 1):
// times as varints of Unix nanoseconds, then the generator URL, labels and
// annotations as length-prefixed strings. It decodes several times faster
// than JSON, which is what bounds how fast a restarted replica with 100k
// alerts is back.
const codecVersion = 1

const (
	flagTimeout = 1 << iota
	flagNoStartsAt
	flagNoEndsAt
	flagNoUpdatedAt
)

func encodeAlert(a *alert.Alert) ([]byte, error) {
	size := 32 + len(a.GeneratorURL)
	for k, v := range a.Labels {
		size += len(k) + len(v) + 4
	}
	for k, v := range a.Annotations {
		size += len(k) + len(v) + 4
	}
	b := make([]byte, 0, size)
	var flags byte
	if a.Timeout {
		flags |= flagTimeout
	}
	if a.StartsAt.IsZero() {
		flags |= flagNoStartsAt
	}
	if a.EndsAt.IsZero() {
		flags |= flagNoEndsAt
	}
	if a.UpdatedAt.IsZero() {
		flags |= flagNoUpdatedAt
	}
	b = append(b, codecVersion, flags)
	b = appendTime(b, a.StartsAt)
	b = appendTime(b, a.EndsAt)
	b = appendTime(b, a.UpdatedAt)
	b = appendString(b, a.GeneratorURL)
	b = appendLabelSet(b, a.Labels)
	b = appendLabelSet(b, a.Annotations)
	return b, nil
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendLabelSet(b []byte, ls model.LabelSet) []byte {
	b = binary.AppendUvarint(b, uint64(len(ls)))
	for k, v := range ls {
		b = appendString(b, string(k))
		b = appendString(b, string(v))
	}
	return b
}

var errCorrupt = errors.New("cannot decode stored alert: corrupt value")

// decoder reads a value from b; the strings it returns are substrings of
// s, one copy of b, so that a decoded alert's labels and annotations cost
// one allocation rather than one per name and value.
type decoder struct {
	b   []byte
	s   string
	off int
	err error
}

func newDecoder(b []byte) *decoder { return &decoder{b: b, s: string(b)} }

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) string() string {
	l, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 || uint64(len(d.b)-d.off-n) < l {
		d.err = errCorrupt
		d.off = len(d.b)
		return ""
	}
	start := d.off + n
	d.off = start + int(l)
	return d.s[start:d.off]
}

func (d *decoder) labelSet() model.LabelSet {
	l, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 || l > uint64(len(d.b)-d.off) {
		d.err = errCorrupt
		return nil
	}
	d.off += n
	ls := make(model.LabelSet, l)
	for range l {
		k := d.string()
		v := d.string()
		if d.err != nil {
			return nil
		}
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

func (d *decoder) time(zero bool) time.Time {
	v := d.varint()
	if zero {
		return time.Time{}
	}
	return time.Unix(0, v).UTC()
}

// decodeAlert rebuilds an alert through alert.New, which computes the
// fingerprint; an alert built any other way has a zero fingerprint.
func decodeAlert(b []byte) (*alert.Alert, error) {
	if len(b) < 2 || b[0] != codecVersion {
		return nil, errCorrupt
	}
	flags := b[1]
	d := newDecoder(b)
	d.off = 2
	startsAt := d.time(flags&flagNoStartsAt != 0)
	endsAt := d.time(flags&flagNoEndsAt != 0)
	updatedAt := d.time(flags&flagNoUpdatedAt != 0)
	generatorURL := d.string()
	labels := d.labelSet()
	annotations := d.labelSet()
	if d.err != nil {
		return nil, d.err
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("cannot decode stored alert: no labels")
	}
	return alert.New(model.Alert{
		Labels:       labels,
		Annotations:  annotations,
		StartsAt:     startsAt,
		EndsAt:       endsAt,
		GeneratorURL: generatorURL,
	}, updatedAt, flags&flagTimeout != 0), nil
}

// needsWrite decides whether merged, the alert as this replica now knows it,
// must be written over stored, the alert as etcd has it. Senders re-send
// firing alerts every evaluation with endsAt moved forward; writing each of
// those would make etcd the bottleneck for no gain, so endsAt is refreshed
// only once half of the stored validity is used up, which always leaves the
// other replicas a stored endsAt in the future while the sender keeps
// sending. Everything else that differs is written at once.
func needsWrite(stored, merged *alert.Alert, now time.Time) bool {
	if stored == nil {
		return true
	}
	if !stored.StartsAt.Equal(merged.StartsAt) ||
		stored.GeneratorURL != merged.GeneratorURL ||
		stored.Timeout != merged.Timeout ||
		!stored.Annotations.Equal(merged.Annotations) {
		return true
	}
	if stored.EndsAt.Equal(merged.EndsAt) {
		return false
	}
	if merged.ResolvedAt(now) || stored.ResolvedAt(now) {
		return true
	}
	return stored.EndsAt.Sub(now) < merged.EndsAt.Sub(now)/2
}

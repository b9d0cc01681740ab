// Package spool is a bounded, durable, append-only queue of entries on
// disk, read back oldest segment first. Records the Writer accepted and
// documents Elasticsearch has not acknowledged go through it, so that a
// kill -9 or an outage of the store loses nothing accepted.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// A spool is segment files of frames:
//
//	uint32 little-endian payload length | uint32 CRC-32C of the payload | payload
//
// after an 8-byte magic. A payload is uvarint(len(id)) id data. Appends
// are synced (fdatasync on Linux) before Append returns; a segment is deleted (Remove) only
// after its reader has handed every entry on. After a crash the last frame of a segment
// may be torn: reading stops there, logs and counts what it skipped.

const (
	spoolMagic  = "KSPOOL1\n"
	frameHeader = 8
	// maxFrame bounds one document: a corrupt length must not make the
	// reader allocate gigabytes.
	maxFrame = 64 << 20
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// ErrFull is returned by Append when the entries do not fit under the
	// spool's size bound.
	ErrFull = errors.New("spool is full")
)

// Entry is one spooled item. The Elasticsearch backend keeps a document's
// id, chosen once when the record is accepted, so that a retried create of
// a document Elasticsearch already has is answered 409 instead of
// duplicating it; the Writer leaves it empty.
type Entry struct {
	ID   string
	Data []byte
}

// Size is the bytes the entry takes in a segment: what the size bound
// counts.
func (e Entry) Size() int64 {
	return int64(frameHeader + uvarintLen(uint64(len(e.ID))) + len(e.ID) + len(e.Data))
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// Segment is one file of the spool.
type Segment struct {
	seq     uint64
	path    string
	bytes   int64
	records int64
}

// Path is the segment's file.
func (sg *Segment) Path() string { return sg.path }

// Options configure a Spool.
type Options struct {
	Dir string
	// MaxBytes bounds the spool (default 1 GiB); SegmentBytes is the size
	// of one file (default 16 MiB).
	MaxBytes     int64
	SegmentBytes int64
	Logger       *slog.Logger
	// Skipped, when set, counts bytes of torn or corrupt frames found at Open.
	Skipped func(n int64)
}

// Spool is safe for concurrent use.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	logger       *slog.Logger
	skipped      func(n int64)

	mu      sync.Mutex
	segs    []*Segment // oldest first; the last is appended to unless sealed
	active  *os.File   // the open last segment, nil when sealed
	nextSeq uint64
	// frames is the buffer an append encodes into, kept from one append
	// to the next: the Writer appends up to 500 times a second, and a new
	// buffer each time was zeroed and collected again.
	frames []byte
	// bytes and records change under mu and are read without it: Size
	// must not wait for a sync in progress.
	bytes   atomic.Int64
	records atomic.Int64
}

// Open opens the spool in o.Dir, creating it, and counts what an earlier
// process left there.
func Open(o Options) (*Spool, error) {
	if o.Dir == "" {
		return nil, errors.New("spool: a directory is required")
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	dir, logger := o.Dir, o.Logger
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create spool directory: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: o.MaxBytes, segmentBytes: o.SegmentBytes, logger: logger, skipped: o.Skipped, nextSeq: 1}
	names, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		seq, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".seg"), 10, 64)
		if err != nil {
			logger.Warn("ignoring a file that is not a spool segment", "file", name)
			continue
		}
		// Counting needs a read; a restart with a full spool reads it once.
		entries, skipped, err := ReadSegment(name)
		if err != nil {
			return nil, err
		}
		if skipped > 0 {
			logger.Warn("spool segment ends in a torn or corrupt frame; it is skipped", "file", name, "bytes", skipped)
			if s.skipped != nil {
				s.skipped(skipped)
			}
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		s.segs = append(s.segs, &Segment{seq: seq, path: name, bytes: st.Size(), records: int64(len(entries))})
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b *Segment) int { return cmpUint(a.seq, b.seq) })
	for _, sg := range s.segs {
		s.bytes.Add(sg.bytes)
		s.records.Add(sg.records)
	}
	// Segments of an earlier process are never appended to: whatever tail
	// they have stays where it is, and new frames go to a new segment.
	return s, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Append writes entries to the spool and syncs them; all or none are
// accepted. It fails with ErrFull when they do not fit under MaxBytes.
func (s *Spool) Append(entries []Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var need int64
	for _, e := range entries {
		need += e.Size()
	}
	if s.bytes.Load()+need > s.maxBytes {
		return fmt.Errorf("%w (%d bytes spooled, max_bytes %d)", ErrFull, s.bytes.Load(), s.maxBytes)
	}
	buf := s.frames[:0]
	if int64(cap(buf)) < need {
		buf = make([]byte, 0, need)
	}
	for _, e := range entries {
		buf = appendFrame(buf, e)
	}
	if cap(buf) <= maxKeptFrames {
		s.frames = buf
	}
	if s.active != nil && s.segs[len(s.segs)-1].bytes+int64(len(buf)) > s.segmentBytes {
		if err := s.sealLocked(); err != nil {
			return err
		}
	}
	if s.active == nil {
		if err := s.createLocked(); err != nil {
			return err
		}
	}
	sg := s.segs[len(s.segs)-1]
	if _, err := s.active.Write(buf); err != nil {
		// A partial frame may be on disk: stop appending to this segment.
		s.sealLocked()
		return fmt.Errorf("cannot write to the spool: %w", err)
	}
	if err := syncData(s.active); err != nil {
		s.sealLocked()
		return fmt.Errorf("cannot sync the spool: %w", err)
	}
	sg.bytes += int64(len(buf))
	sg.records += int64(len(entries))
	s.bytes.Add(int64(len(buf)))
	s.records.Add(int64(len(entries)))
	return nil
}

// maxKeptFrames bounds the buffer kept between appends; an append of
// more has a buffer of its own.
const maxKeptFrames = 8 << 20

// appendFrame encodes e in place at the end of buf: the Writer spools
// hundreds of thousands of records a second, and a payload of its own per
// frame would copy each one twice.
func appendFrame(buf []byte, e Entry) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, frameHeader)...)
	buf = binary.AppendUvarint(buf, uint64(len(e.ID)))
	buf = append(buf, e.ID...)
	buf = append(buf, e.Data...)
	payload := buf[start+frameHeader:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

func (s *Spool) createLocked() error {
	path := filepath.Join(s.dir, fmt.Sprintf("%020d.seg", s.nextSeq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cannot create a spool segment: %w", err)
	}
	if _, err := f.WriteString(spoolMagic); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("cannot write a spool segment: %w", err)
	}
	// The new name must survive a crash as well as its contents.
	if err := syncDir(s.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	s.active = f
	s.segs = append(s.segs, &Segment{seq: s.nextSeq, path: path, bytes: int64(len(spoolMagic))})
	s.bytes.Add(int64(len(spoolMagic)))
	s.nextSeq++
	return nil
}

func (s *Spool) sealLocked() error {
	if s.active == nil {
		return nil
	}
	err := s.active.Close()
	s.active = nil
	if err != nil {
		return fmt.Errorf("cannot close a spool segment: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open the spool directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync the spool directory: %w", err)
	}
	return nil
}

// Oldest seals the oldest segment if it is being appended to, and returns
// it; nil when the spool is empty.
func (s *Spool) Oldest() (*Segment, error) { return s.OldestWith(0) }

// OldestWith returns the oldest segment once no more is appended to it: a
// sealed one, or the one being appended to when it holds at least
// minRecords entries (it is sealed then, and appends go to a new one). A
// reader that keeps up calls it with a batch size, so that it does not
// turn every few records into a file of their own.
func (s *Spool) OldestWith(minRecords int64) (*Segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return nil, nil
	}
	if len(s.segs) == 1 && s.active != nil {
		if s.segs[0].records < minRecords {
			return nil, nil
		}
		if err := s.sealLocked(); err != nil {
			return nil, err
		}
	}
	return s.segs[0], nil
}

// Remove deletes a segment whose entries were all handed on.
func (s *Spool) Remove(sg *Segment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.segs, sg)
	if i < 0 {
		return nil
	}
	if i == len(s.segs)-1 {
		s.sealLocked()
	}
	if err := os.Remove(sg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot delete a replayed spool segment: %w", err)
	}
	s.segs = slices.Delete(s.segs, i, i+1)
	s.bytes.Add(-sg.bytes)
	s.records.Add(-sg.records)
	return nil
}

// Empty says whether the spool holds no segment.
func (s *Spool) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0
}

// Segments is the number of segment files.
func (s *Spool) Segments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs)
}

// Free is how many bytes may still be appended before MaxBytes.
func (s *Spool) Free() int64 {
	return s.maxBytes - s.bytes.Load()
}

// Size is the bytes and entries in the spool.
func (s *Spool) Size() (bytes, records int64) {
	return s.bytes.Load(), s.records.Load()
}

// Close closes the segment being appended to.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

// ReadSegment reads a segment's entries up to the first torn or corrupt
// frame, and how many bytes it skipped from there.
func ReadSegment(path string) ([]Entry, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read a spool segment: %w", err)
	}
	entries, rest := decodeSegment(b)
	return entries, int64(rest), nil
}

// decodeSegment decodes frames until the first invalid one; it returns the
// number of bytes left undecoded.
func decodeSegment(b []byte) ([]Entry, int) {
	if len(b) < len(spoolMagic) || string(b[:len(spoolMagic)]) != spoolMagic {
		return nil, len(b)
	}
	b = b[len(spoolMagic):]
	var out []Entry
	for len(b) > 0 {
		if len(b) < frameHeader {
			break
		}
		n := binary.LittleEndian.Uint32(b)
		sum := binary.LittleEndian.Uint32(b[4:])
		if n > maxFrame || int64(n) > int64(len(b)-frameHeader) {
			break
		}
		payload := b[frameHeader : frameHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != sum {
			break
		}
		idLen, k := binary.Uvarint(payload)
		// Only the canonical varint is valid: the frame is what appendFrame wrote.
		if k <= 0 || idLen > uint64(len(payload)-k) || len(binary.AppendUvarint(nil, idLen)) != k {
			break
		}
		id := string(payload[k : k+int(idLen)])
		// A sub-slice: the segment's bytes were read for this call alone.
		doc := payload[k+int(idLen) : len(payload) : len(payload)]
		out = append(out, Entry{ID: id, Data: doc})
		b = b[frameHeader+int(n):]
	}
	return out, len(b)
}

package elasticsearch

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
)

// The spool keeps the documents Elasticsearch has not acknowledged yet, in
// segment files of frames:
//
//	uint32 little-endian payload length | uint32 CRC-32C of the payload | payload
//
// after an 8-byte magic. A payload is uvarint(len(id)) id document. Appends
// are fsync'd before Write returns; a segment is deleted only after every
// document in it was acknowledged. After a crash the last frame of a segment
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
	// ErrSpoolFull is returned by Write while Elasticsearch is unavailable
	// and the spool has reached its size bound.
	ErrSpoolFull = errors.New("elasticsearch spool is full")
)

// entry is one document on its way to Elasticsearch. The id is chosen once,
// when the record is accepted, so that a retried create of a document
// Elasticsearch already has is answered 409 instead of duplicating it.
type entry struct {
	id  string
	doc []byte
}

func (e entry) size() int64 {
	return int64(frameHeader + binary.MaxVarintLen64 + len(e.id) + len(e.doc))
}

type segment struct {
	seq     uint64
	path    string
	bytes   int64
	records int64
}

// spool is safe for concurrent use.
type spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	logger       *slog.Logger
	// skipped counts bytes of torn or corrupt frames.
	skipped func(n int64)

	mu      sync.Mutex
	segs    []*segment // oldest first; the last is appended to unless sealed
	active  *os.File   // the open last segment, nil when sealed
	nextSeq uint64
	bytes   int64
	records int64
}

func openSpool(dir string, maxBytes, segmentBytes int64, logger *slog.Logger, skipped func(int64)) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create spool directory: %w", err)
	}
	s := &spool{dir: dir, maxBytes: maxBytes, segmentBytes: segmentBytes, logger: logger, skipped: skipped, nextSeq: 1}
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
		entries, skipped, err := readSegment(name)
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
		s.segs = append(s.segs, &segment{seq: seq, path: name, bytes: st.Size(), records: int64(len(entries))})
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpUint(a.seq, b.seq) })
	for _, sg := range s.segs {
		s.bytes += sg.bytes
		s.records += sg.records
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

// append writes entries to the spool and fsyncs them; all or none are
// accepted.
func (s *spool) append(entries []entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var need int64
	for _, e := range entries {
		need += e.size()
	}
	if s.bytes+need > s.maxBytes {
		return fmt.Errorf("%w (%d bytes spooled, max_bytes %d)", ErrSpoolFull, s.bytes, s.maxBytes)
	}
	var buf []byte
	for _, e := range entries {
		buf = appendFrame(buf, e)
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
	if err := s.active.Sync(); err != nil {
		s.sealLocked()
		return fmt.Errorf("cannot sync the spool: %w", err)
	}
	sg.bytes += int64(len(buf))
	sg.records += int64(len(entries))
	s.bytes += int64(len(buf))
	s.records += int64(len(entries))
	return nil
}

func appendFrame(buf []byte, e entry) []byte {
	var payload []byte
	payload = binary.AppendUvarint(payload, uint64(len(e.id)))
	payload = append(payload, e.id...)
	payload = append(payload, e.doc...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload, castagnoli))
	return append(buf, payload...)
}

func (s *spool) createLocked() error {
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
	s.segs = append(s.segs, &segment{seq: s.nextSeq, path: path, bytes: int64(len(spoolMagic))})
	s.bytes += int64(len(spoolMagic))
	s.nextSeq++
	return nil
}

func (s *spool) sealLocked() error {
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

// oldest seals the oldest segment if it is being appended to, and returns
// it; nil when the spool is empty.
func (s *spool) oldest() (*segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return nil, nil
	}
	if len(s.segs) == 1 && s.active != nil {
		if err := s.sealLocked(); err != nil {
			return nil, err
		}
	}
	return s.segs[0], nil
}

// remove deletes a segment whose documents were all acknowledged.
func (s *spool) remove(sg *segment) error {
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
	s.bytes -= sg.bytes
	s.records -= sg.records
	return nil
}

func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0
}

func (s *spool) size() (bytes, records int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes, s.records
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

// readSegment reads a segment's entries up to the first torn or corrupt
// frame, and how many bytes it skipped from there.
func readSegment(path string) ([]entry, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read a spool segment: %w", err)
	}
	entries, rest := decodeSegment(b)
	return entries, int64(rest), nil
}

// decodeSegment decodes frames until the first invalid one; it returns the
// number of bytes left undecoded.
func decodeSegment(b []byte) ([]entry, int) {
	if len(b) < len(spoolMagic) || string(b[:len(spoolMagic)]) != spoolMagic {
		return nil, len(b)
	}
	b = b[len(spoolMagic):]
	var out []entry
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
		doc := slices.Clone(payload[k+int(idLen):])
		out = append(out, entry{id: id, doc: doc})
		b = b[frameHeader+int(n):]
	}
	return out, len(b)
}

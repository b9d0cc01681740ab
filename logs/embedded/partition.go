package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A partition is the SQLite database of one UTC day. Retention deletes
// whole files instead of rows, so dropping a day costs nothing however
// many records it holds, and every index stays as small as one day.
type partition struct {
	day  int64 // days since the Unix epoch, UTC
	path string
	db   *sql.DB

	// writeMu makes the partition's writers take turns in Go rather than
	// spin on SQLite's busy handler; nextID is the next record id, kept
	// here so that rows and their index entries can be inserted in bulk
	// without asking SQLite for each row's id.
	writeMu sync.Mutex
	nextID  int64

	// refs counts queries and writes in flight; dropped is set once
	// retention has taken the partition out of the store. The last
	// holder of a dropped partition closes and deletes it. Both are
	// guarded by the Store's mu.
	refs    int
	dropped bool
}

const dayLayout = "2006-01-02"

func dayOf(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func dayStart(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

func partitionFile(day int64) string { return "logs-" + dayStart(day).Format(dayLayout) + ".db" }

// parsePartitionFile is the inverse of partitionFile; ok is false for
// every other file in the directory (WAL and shared-memory files too).
func parsePartitionFile(name string) (day int64, ok bool) {
	s, found := strings.CutPrefix(name, "logs-")
	if !found {
		return 0, false
	}
	s, found = strings.CutSuffix(s, ".db")
	if !found {
		return 0, false
	}
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return 0, false
	}
	return dayOf(t), true
}

// The records table keeps the fields rules filter and group on most
// (event.code, host.ip) and the text fields as columns, so that they need
// no JSON parsing on insert or query; every other field is in doc.
// Records are never deleted one by one, so the FTS index is contentless
// without delete support, and keeps no column sizes (nothing ranks).
const schema = `
CREATE TABLE IF NOT EXISTS records (
	id       INTEGER PRIMARY KEY,
	ts       INTEGER NOT NULL,
	code     TEXT,
	host     TEXT,
	message  TEXT NOT NULL,
	original TEXT,
	doc      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_ts ON records(ts);
CREATE INDEX IF NOT EXISTS records_code ON records(code, ts);
CREATE VIRTUAL TABLE IF NOT EXISTS records_text USING fts5(message, original, content='', columnsize=0, tokenize="unicode61 tokenchars '_'");
`

// pragmas apply to every connection. page_size comes first: it only
// takes effect while the file is empty, before WAL is switched on. Large
// pages mean fewer WAL frames, so fewer write calls per batch. WAL lets
// queries read while a batch is written. synchronous=NORMAL syncs the WAL
// at checkpoints rather than at every commit: a committed batch survives
// the process being killed, and only an operating system crash or power
// loss can take back the batches written since the last checkpoint.
// mmap reads pages from the shared page cache without a read call each.
const pragmas = "_pragma=page_size(16384)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
	"&_pragma=busy_timeout(10000)&_pragma=mmap_size(268435456)&_pragma=temp_store(MEMORY)"

func openPartition(ctx context.Context, dir string, day int64) (*partition, error) {
	path := filepath.Join(dir, partitionFile(day))
	db, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		return nil, fmt.Errorf("cannot open log partition %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot create log partition schema in %s: %w", path, err)
	}
	var maxID sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(id) FROM records").Scan(&maxID); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot read log partition %s: %w", path, err)
	}
	return &partition{day: day, path: path, db: db, nextID: maxID.Int64 + 1}, nil
}

// records is how many records the partition holds: ids are dense from 1
// and rows are never deleted.
func (p *partition) records() int64 {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return p.nextID - 1
}

// remove closes the partition and deletes its files.
func (p *partition) remove() error {
	err := p.db.Close()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if rerr := os.Remove(p.path + suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("cannot delete log partition %s: %w", p.path, err)
	}
	return nil
}

// size is the bytes the partition's files take on disk.
func (p *partition) size() int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(p.path + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

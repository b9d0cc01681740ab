package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A partition is the records of one UTC day. Retention deletes whole
// files instead of rows, so dropping a day costs nothing however many
// records it holds, and every index stays as small as one day.
//
// A day is kept in shards, SQLite databases written at the same time:
// SQLite lets one writer at a time into a database, and that one writer,
// on one core, was what bounded indexing. Record ids are unique across a
// day's shards and run in time order across them (see recordKey), so a
// query asks every shard and merges by id.
type partition struct {
	day    int64 // days since the Unix epoch, UTC
	shards []*shard

	// writeMu makes the partition's writers take turns in Go rather than
	// spin on SQLite's busy handler; lastID is the largest record id
	// (see recordKey) and lateSeq the next number for a late record (see
	// assignIDs), both over all shards; next is the shard a batch too
	// small to split goes to. All guarded by writeMu.
	writeMu sync.Mutex
	lastID  int64
	lateSeq int64
	next    int

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

// partitionFile names the database of a day's shard: logs-2026-11-25.db
// for the first (the only one before days were sharded), then
// logs-2026-11-25.1.db and on.
func partitionFile(day int64, shard int) string {
	if shard == 0 {
		return "logs-" + dayStart(day).Format(dayLayout) + ".db"
	}
	return "logs-" + dayStart(day).Format(dayLayout) + "." + strconv.Itoa(shard) + ".db"
}

// parsePartitionFile is the inverse of partitionFile; ok is false for
// every other file in the directory (WAL and shared-memory files too).
func parsePartitionFile(name string) (day int64, shard int, ok bool) {
	s, found := strings.CutPrefix(name, "logs-")
	if !found {
		return 0, 0, false
	}
	s, found = strings.CutSuffix(s, ".db")
	if !found {
		return 0, 0, false
	}
	if date, n, sharded := strings.Cut(s, "."); sharded {
		k, err := strconv.Atoi(n)
		if err != nil || k < 1 || strconv.Itoa(k) != n {
			return 0, 0, false
		}
		s, shard = date, k
	}
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return 0, 0, false
	}
	return dayOf(t), shard, true
}

// A record's id is its millisecond of the day in the high bits and a
// sequence number in the low seqBits: ids run in time order, so a time
// window is a range of ids (no index on time, no lookup to find the range)
// and the FTS index, keyed by the same ids, is searched within it.
const seqBits = 36

const msPerDay = 86_400_000

// recordKey is the smallest id a record at ts can have in the partition.
func (p *partition) recordKey(ts time.Time) int64 {
	return p.msKey((ts.UnixNano() - p.day*86400e9) / 1e6)
}

func (p *partition) msKey(ms int64) int64 { return min(max(ms, 0), msPerDay) << seqBits }

// idRange is the ids of the records in [from, to): the exact times are
// checked on the rows, since an id only holds the millisecond.
func (p *partition) idRange(from, to time.Time) (lo, hi int64) {
	start := p.day * 86400e9
	lo = p.msKey(floorDiv(from.UnixNano()-start, 1e6))
	hi = p.msKey(-floorDiv(-(to.UnixNano()-start), 1e6)) - 1 // the ms holding to-1ns, ceiled
	return lo, hi
}

// The records table keeps the fields rules filter and group on most
// (event.code, host.ip) and the text fields as columns, so that they need
// no JSON parsing on insert or query; every other field is in doc.
// The index on event.code holds the id too: a rule's keyword and time
// window together are one range of it.
// Records are never deleted one by one, so the FTS index is contentless
// without delete support, and keeps no column sizes (nothing ranks). It
// holds the message only (see ftsColumn). Its words are compared with
// their diacritics, as Elasticsearch's standard analyzer compares them,
// and as containsWords can compare them on a row.
// FTS5 merges a level's segments into one when there are automerge of
// them; 16 rather than its default 4 rewrites each posting fewer times as
// the day's index grows: BenchmarkWriteParsedSyslog indexed 75-84k records/s
// rather than 59-69k over a million records, and counts over the whole
// million, by the index, took no longer.
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
CREATE INDEX IF NOT EXISTS records_code ON records(code);
CREATE VIRTUAL TABLE IF NOT EXISTS records_text USING fts5(message, content='', columnsize=0, tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
INSERT INTO records_text(records_text, rank) VALUES ('automerge', 16);
CREATE TABLE IF NOT EXISTS meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
);
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
	"&_pragma=busy_timeout(10000)&_pragma=mmap_size(268435456)&_pragma=temp_store(MEMORY)" +
	"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(33554432)"

// openPartition opens the day's shards in dir: n of them, or as many as
// an earlier run made if that is more.
func openPartition(ctx context.Context, dir string, day int64, n int) (*partition, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, partitionFile(day, n))); err != nil {
			break
		}
		n++
	}
	p := &partition{day: day}
	for k := range n {
		sh, maxID, late, err := openShard(ctx, filepath.Join(dir, partitionFile(day, k)))
		if err != nil {
			p.close()
			return nil, err
		}
		p.shards = append(p.shards, sh)
		p.lastID, p.lateSeq = max(p.lastID, maxID), max(p.lateSeq, late)
	}
	return p, nil
}

// A shard is one SQLite database of a day. Its batches are written on one
// connection of their own: a connection drops its page cache when another
// one has committed since it last read, so batches written on whichever
// connection the pool handed out (queries and checkpoints take them too)
// found the previous batch committed by another connection, and read the
// B-trees' and FTS5's pages back from the log. Keeping the connection made
// logstorebench index 115-122k records/s rather than 92-110k.
type shard struct {
	path        string
	db          *sql.DB
	writer      *sql.Conn
	checkpoints *checkpointer
}

// openShard opens the database at path and returns its largest record id
// and late sequence.
func openShard(ctx context.Context, path string) (sh *shard, maxID, lateSeq int64, err error) {
	db, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("cannot open log partition %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, 0, 0, fmt.Errorf("cannot create log partition schema in %s: %w", path, err)
	}
	var id, late sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT (SELECT max(id) FROM records), (SELECT value FROM meta WHERE name = 'late_seq')").Scan(&id, &late)
	if err != nil {
		db.Close()
		return nil, 0, 0, fmt.Errorf("cannot read log partition %s: %w", path, err)
	}
	writer, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, 0, 0, fmt.Errorf("cannot open log partition %s for writing: %w", path, err)
	}
	return &shard{path: path, db: db, writer: writer, checkpoints: startCheckpointer(db)}, id.Int64, late.Int64, nil
}

// reconnect replaces the writer's connection; the partition's write lock
// is held.
func (sh *shard) reconnect(ctx context.Context) error {
	sh.writer.Close()
	writer, err := sh.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("cannot open log partition %s for writing: %w", sh.path, err)
	}
	sh.writer = writer
	return nil
}

// records counts the partition's records.
func (p *partition) records(ctx context.Context) (int64, error) {
	var total int64
	for _, sh := range p.shards {
		var n int64
		if err := sh.db.QueryRowContext(ctx, "SELECT count(*) FROM records").Scan(&n); err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// remove closes the partition and deletes its files.
func (p *partition) remove() error {
	err := p.close()
	for _, sh := range p.shards {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if rerr := os.Remove(sh.path + suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = errors.Join(err, rerr)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("cannot delete log partition %s: %w", partitionFile(p.day, 0), err)
	}
	return nil
}

// close stops the shards' checkpoints and closes their databases.
func (p *partition) close() error {
	var errs []error
	for _, sh := range p.shards {
		sh.checkpoints.stop()
		errs = append(errs, sh.writer.Close(), sh.db.Close())
	}
	return errors.Join(errs...)
}

// size is the bytes the partition's files take on disk.
func (p *partition) size() int64 {
	var n int64
	for _, sh := range p.shards {
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(sh.path + suffix); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// Write stores each record in the partition of its @timestamp's UTC day,
// one transaction per day. A record of a day that retention has already
// deleted is refused and counted (kusanagi_logs_embedded_records_refused_total):
// it would be deleted at once. A record more than MaxFuture ahead is
// stored at the time of writing (see MaxFuture). When one day's transaction fails
// the error is returned; days written before it stay written.
func (s *Store) Write(ctx context.Context, records []logs.Record) error {
	if len(records) == 0 {
		return nil
	}
	now := s.opts.Now()
	latest := now.Add(MaxFuture)
	// A batch nearly always holds one day: only then is no map needed.
	var byDay map[int64][]*logs.Record
	first := int64(0)
	var one []*logs.Record
	for i := range records {
		r := &records[i]
		if r.Timestamp.After(latest) {
			r = restamp(r, now)
			s.metrics.restamped.Inc()
		}
		day := dayOf(r.Timestamp)
		if byDay == nil && (len(one) == 0 || day == first) {
			if len(one) == 0 {
				one = make([]*logs.Record, 0, len(records))
			}
			first = day
			one = append(one, r)
			continue
		}
		if byDay == nil {
			byDay = map[int64][]*logs.Record{first: one}
		}
		byDay[day] = append(byDay[day], r)
	}
	if byDay == nil {
		return s.writeDay(ctx, first, one)
	}
	days := make([]int64, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		if err := s.writeDay(ctx, d, byDay[d]); err != nil {
			return err
		}
	}
	return nil
}

func restamp(r *logs.Record, now time.Time) *logs.Record {
	c := *r
	c.Fields = make(map[string]string, len(r.Fields)+1)
	maps.Copy(c.Fields, r.Fields)
	c.Fields[OriginalTimestampField] = r.Timestamp.UTC().Format(time.RFC3339Nano)
	c.Timestamp = now
	return &c
}

func (s *Store) writeDay(ctx context.Context, day int64, recs []*logs.Record) error {
	p, err := s.partitionFor(ctx, day)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	if p == nil {
		s.metrics.refusedExpired.Add(float64(len(recs)))
		s.logger.Warn("records older than the retention refused", "records", len(recs), "day", dayStart(day).Format(dayLayout), "retention_days", s.opts.RetentionDays)
		return nil
	}
	defer s.release(p)
	return p.write(ctx, recs)
}

// rowsPerInsert rows go into one INSERT statement: one statement step
// stores them all, so the cost of a step and of the driver's call is
// shared by many rows.
const rowsPerInsert = 64

const insertColumns = 7

var insertSQL = sync.OnceValue(func() string { return insertRows(rowsPerInsert) })

func insertRows(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO records(id, ts, code, host, message, original, doc) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?)")
	}
	return b.String()
}

// scratch is reused across writes: the argument slice, the JSON bytes and
// the ids of a batch.
type scratch struct {
	args []any
	doc  []byte
	keys []string
	ids  []int64
	// lateIDs is the JSON array of the batch's late ids.
	lateIDs []byte
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{args: make([]any, 0, rowsPerInsert*insertColumns)}
}}

// write stores recs in one transaction. Once begun, the transaction is
// not interrupted when ctx ends: it takes a fraction of a second, and
// the writer in front of the store gives it the same records again
// anyway. A cancellable context costs the driver a watcher goroutine per
// statement and a progress callback every 1000 steps: a tenth of the CPU
// indexing takes (BenchmarkWriteContext).
func (p *partition) write(ctx context.Context, recs []*logs.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	defer tx.Rollback()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	last, late, err := p.assignIDs(ctx, tx, recs, sc)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	ids := sc.ids
	if len(recs) >= rowsPerInsert {
		stmt, err := tx.PrepareContext(ctx, insertSQL())
		if err != nil {
			return fmt.Errorf("cannot write logs: %w", err)
		}
		defer stmt.Close()
		for len(recs) >= rowsPerInsert {
			sc.bind(ids[:rowsPerInsert], recs[:rowsPerInsert])
			if _, err := stmt.ExecContext(ctx, sc.args...); err != nil {
				return fmt.Errorf("cannot write logs: %w", err)
			}
			recs, ids = recs[rowsPerInsert:], ids[rowsPerInsert:]
		}
	}
	if len(recs) > 0 {
		sc.bind(ids, recs)
		if _, err := tx.ExecContext(ctx, insertRows(len(recs)), sc.args...); err != nil {
			return fmt.Errorf("cannot write logs: %w", err)
		}
	}
	// The FTS index is filled from the rows just inserted, in one
	// statement: the text goes through the driver once, and FTS5 writes
	// its in-memory index to disk at every statement that opens a
	// savepoint, so one statement makes one segment rather than one per
	// INSERT.
	if _, err := tx.ExecContext(ctx, "INSERT INTO records_text(rowid, message) SELECT id, message FROM records WHERE id > ?1 UNION ALL "+
		"SELECT id, message FROM records WHERE id IN (SELECT value FROM json_each(?2))", p.lastID, string(sc.lateIDs)); err != nil {
		return fmt.Errorf("cannot index logs: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	p.lastID, p.lateSeq = last, late
	return nil
}

// assignIDs fills sc.ids with an unused id per record (see recordKey)
// and returns the largest id and the late sequence the partition will
// have. A record in time order takes the next id of its millisecond. A
// late one, earlier than the newest millisecond, takes the upper half of
// its millisecond's sequence numbers and a number from the partition's
// late sequence, kept in the same transaction: no lookup, whatever the
// senders' clocks.
func (p *partition) assignIDs(ctx context.Context, tx *sql.Tx, recs []*logs.Record, sc *scratch) (last, late int64, err error) {
	last, late = p.lastID, p.lateSeq
	sc.ids = sc.ids[:0]
	sc.lateIDs = append(sc.lateIDs[:0], '[')
	for _, r := range recs {
		key := p.recordKey(r.Timestamp)
		var id int64
		switch {
		case key > last:
			id = key
			last = id
		case key>>seqBits == last>>seqBits:
			last++
			id = last
		default:
			id = key | lateBit | late&(lateBit-1)
			late++
			if id > p.lastID {
				break // indexed with the ids above the last batch's
			}
			if len(sc.lateIDs) > 1 {
				sc.lateIDs = append(sc.lateIDs, ',')
			}
			sc.lateIDs = strconv.AppendInt(sc.lateIDs, id, 10)
		}
		sc.ids = append(sc.ids, id)
	}
	sc.lateIDs = append(sc.lateIDs, ']')
	if late != p.lateSeq {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta(name, value) VALUES ('late_seq', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", late); err != nil {
			return 0, 0, err
		}
	}
	return last, late, nil
}

// lateBit marks the ids of late records: the upper half of each
// millisecond's sequence numbers.
const lateBit = 1 << (seqBits - 1)

// bind fills sc.args with the rows of recs.
func (sc *scratch) bind(ids []int64, recs []*logs.Record) {
	sc.args = sc.args[:0]
	for i, r := range recs {
		var code, host, original any
		if c, ok := r.Fields["event.code"]; ok {
			code = c
		}
		if r.HostIP != "" {
			host = r.HostIP
		}
		if r.Original != "" {
			original = r.Original
		}
		sc.doc, sc.keys = document(sc.doc[:0], r, sc.keys)
		sc.args = append(sc.args, ids[i], r.Timestamp.UnixNano(), code, host, r.Message, original, string(sc.doc))
	}
}

package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// Write stores each record in the partition of the UTC day it arrived
// (Record.Arrival), one transaction per day, whatever its sender's clock
// says. A record that arrived on a day retention has already deleted
// (replayed from a spool after a long outage) is refused and counted
// (kusanagi_logs_embedded_records_refused_total): it would be deleted at
// once. When one day's transaction fails the error is returned; days
// written before it stay written.
func (s *Store) Write(ctx context.Context, records []logs.Record) error {
	if len(records) == 0 {
		return nil
	}
	// A batch nearly always holds one day: only then is no map needed.
	var byDay map[int64][]*logs.Record
	first := int64(0)
	var one []*logs.Record
	for i := range records {
		r := &records[i]
		day := dayOf(r.Arrival())
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

// scratch is reused across writes: the argument slice and the JSON bytes
// of a shard's rows, or the ids of a batch.
type scratch struct {
	args []any
	doc  []byte
	keys []string
	ids  []int64
	// late marks the ids that go between records already stored.
	late []bool
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{args: make([]any, 0, rowsPerInsert*insertColumns)}
}}

// minShardRows is the fewest rows worth a shard's transaction of their own.
const minShardRows = 500

// write stores recs, spread over the partition's shards in contiguous
// runs, one transaction per shard, all written at once. Once begun, the
// transactions are not interrupted when ctx ends: they take a fraction of
// a second, and the writer in front of the store gives it the same
// records again anyway. A cancellable context costs the driver a watcher
// goroutine per statement and a progress callback every 1000 steps: a
// tenth of the CPU indexing takes (BenchmarkWriteContext).
//
// Every shard's rows are inserted before any shard commits, so a failed
// insert leaves the partition as it was. A commit that fails after
// another shard's succeeded leaves that shard's rows stored: the error
// makes the writer give the batch again, and those rows are stored twice,
// as after a crash (delivery is at least once).
func (p *partition) write(ctx context.Context, recs []*logs.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	last, late := p.assignIDs(recs, sc)
	runs := p.split(len(recs))
	txs := make([]*sql.Tx, len(runs))
	errs := make([]error, len(runs))
	parallel := func(f func(i int)) {
		var wg sync.WaitGroup
		for i := range runs[1:] {
			wg.Go(func() { f(i + 1) })
		}
		f(0)
		wg.Wait()
	}
	parallel(func(i int) {
		r := runs[i]
		txs[i], errs[i] = p.shards[r.shard].insert(ctx, recs[r.from:r.to], sc.ids[r.from:r.to], sc.late[r.from:r.to], p.lastID, late, late != p.lateSeq)
	})
	if err := errors.Join(errs...); err != nil {
		for _, tx := range txs {
			if tx != nil {
				tx.Rollback()
			}
		}
		return fmt.Errorf("cannot write logs: %w", err)
	}
	parallel(func(i int) { errs[i] = txs[i].Commit() })
	committed := false
	for i, err := range errs {
		if err == nil {
			committed = true
			p.shards[runs[i].shard].checkpoints.committed(runs[i].to - runs[i].from)
		}
	}
	if committed {
		p.lastID, p.lateSeq = last, late
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	return nil
}

// run is recs[from:to] going to one shard.
type run struct{ shard, from, to int }

// split spreads n records over the shards: a batch too small to be worth
// splitting goes whole to one shard, the next shard each time.
func (p *partition) split(n int) []run {
	k := min(len(p.shards), max(n/minShardRows, 1))
	if k == 1 {
		sh := p.next
		p.next = (p.next + 1) % len(p.shards)
		return []run{{sh, 0, n}}
	}
	runs := make([]run, k)
	for i := range k {
		runs[i] = run{shard: i, from: n * i / k, to: n * (i + 1) / k}
	}
	return runs
}

// insert stores recs with their ids in a transaction of the shard and
// returns it uncommitted. prevLast is the partition's largest id before
// this batch; lateSeq, when changed, is saved with the rows.
func (sh *shard) insert(ctx context.Context, recs []*logs.Record, ids []int64, late []bool, prevLast, lateSeq int64, saveLate bool) (*sql.Tx, error) {
	sh.checkpoints.beforeWrite()
	tx, err := sh.writer.BeginTx(ctx, nil)
	if errors.Is(err, sql.ErrConnDone) {
		// The driver gave the connection up: take another from the pool
		// rather than failing every batch from now on.
		if err = sh.reconnect(ctx); err == nil {
			tx, err = sh.writer.BeginTx(ctx, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := sh.insertRows(ctx, tx, recs, ids, late, prevLast, lateSeq, saveLate); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

func (sh *shard) insertRows(ctx context.Context, tx *sql.Tx, recs []*logs.Record, ids []int64, late []bool, prevLast, lateSeq int64, saveLate bool) error {
	if saveLate {
		if _, err := tx.ExecContext(ctx, "INSERT INTO meta(name, value) VALUES ('late_seq', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", lateSeq); err != nil {
			return err
		}
	}
	// The late records that go below the ids of earlier batches are
	// indexed by their ids; the rest are all above prevLast.
	lateIDs := []byte{'['}
	for i, id := range ids {
		if late[i] && id <= prevLast {
			if len(lateIDs) > 1 {
				lateIDs = append(lateIDs, ',')
			}
			lateIDs = strconv.AppendInt(lateIDs, id, 10)
		}
	}
	lateIDs = append(lateIDs, ']')
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	if len(recs) >= rowsPerInsert {
		stmt, err := tx.PrepareContext(ctx, insertSQL())
		if err != nil {
			return err
		}
		defer stmt.Close()
		for len(recs) >= rowsPerInsert {
			sc.bind(ids[:rowsPerInsert], recs[:rowsPerInsert])
			if _, err := stmt.ExecContext(ctx, sc.args...); err != nil {
				return err
			}
			// A receiver woken by its socket waits for a processor while
			// the writers hold both (2 cores): yielding here, every 64
			// rows, bounds that wait by a statement rather than by the
			// scheduler's 10 ms preemption. syslogbench side by side, two
			// rounds of two runs: TCP accepted 379-608k lines/s against
			// 283-476k, indexing the same.
			runtime.Gosched()
			recs, ids = recs[rowsPerInsert:], ids[rowsPerInsert:]
		}
	}
	if len(recs) > 0 {
		sc.bind(ids, recs)
		if _, err := tx.ExecContext(ctx, insertRows(len(recs)), sc.args...); err != nil {
			return err
		}
	}
	// The FTS index is filled from the rows just inserted, in one
	// statement: the text goes through the driver once, and FTS5 writes
	// its in-memory index to disk at every statement that opens a
	// savepoint, so one statement makes one segment rather than one per
	// INSERT.
	if _, err := tx.ExecContext(ctx, "INSERT INTO records_text(rowid, message) SELECT id, message FROM records WHERE id > ?1 UNION ALL "+
		"SELECT id, message FROM records WHERE id IN (SELECT value FROM json_each(?2))", prevLast, string(lateIDs)); err != nil {
		return fmt.Errorf("cannot index logs: %w", err)
	}
	return nil
}

// assignIDs fills sc.ids with an unused id per record (see recordKey),
// marking the late ones in sc.late, and returns the largest id and the
// late sequence the partition will have. A record in time order takes the
// next id of its millisecond. A late one, earlier than the newest
// millisecond, takes the upper half of its millisecond's sequence numbers
// and a number from the partition's late sequence, saved with the rows:
// no lookup, whatever the senders' clocks.
func (p *partition) assignIDs(recs []*logs.Record, sc *scratch) (last, late int64) {
	last, late = p.lastID, p.lateSeq
	sc.ids, sc.late = sc.ids[:0], sc.late[:0]
	for _, r := range recs {
		key := p.recordKey(r.Arrival())
		var id int64
		isLate := false
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
			isLate = true
		}
		sc.ids = append(sc.ids, id)
		sc.late = append(sc.late, isLate)
	}
	return last, late
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
		sc.args = append(sc.args, ids[i], r.Arrival().UnixNano(), code, host, r.Message, original, string(sc.doc))
	}
}

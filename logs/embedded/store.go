// Package embedded is the log store of `kusanagi run`: SQLite (pure Go,
// modernc.org/sqlite) with an FTS5 index over the text fields and the
// records' fields in a JSON document.
package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// Store is an embedded log store in one directory.
type Store struct {
	db *sql.DB
}

var _ logs.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS records (
	id  INTEGER PRIMARY KEY,
	ts  INTEGER NOT NULL,
	doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_ts ON records(ts);
CREATE INDEX IF NOT EXISTS records_event_code ON records(json_extract(doc, '$."event.code"'), ts);
CREATE VIRTUAL TABLE IF NOT EXISTS records_text USING fts5(message, original, content='', contentless_delete=1, tokenize="unicode61 tokenchars '_'");
`

// Open opens (or creates) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create log store directory: %w", err)
	}
	// WAL: readers never block the writer; synchronous=NORMAL keeps every
	// committed write across a process kill (not across power loss).
	dsn := "file:" + filepath.Join(dir, "logs.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot open log store: %w", err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot create log store schema: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func record(ts int64, doc string) (logs.Record, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return logs.Record{}, err
	}
	r := logs.Record{Timestamp: time.Unix(0, ts).UTC(), Message: m["message"], Original: m["event.original"], HostIP: m["host.ip"], HostName: m["host.name"]}
	for _, k := range []string{"message", "event.original", "host.ip", "host.name"} {
		delete(m, k)
	}
	if len(m) > 0 {
		r.Fields = m
	}
	return r, nil
}

// Write stores records in one transaction.
func (s *Store) Write(ctx context.Context, records []logs.Record) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO records(ts, doc) VALUES (?, ?)`)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	defer ins.Close()
	text, err := tx.PrepareContext(ctx, `INSERT INTO records_text(rowid, message, original) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	defer text.Close()
	for i := range records {
		r := &records[i]
		doc, err := document(r)
		if err != nil {
			return fmt.Errorf("cannot encode log record: %w", err)
		}
		res, err := ins.ExecContext(ctx, r.Timestamp.UnixNano(), string(doc))
		if err != nil {
			return fmt.Errorf("cannot write logs: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("cannot write logs: %w", err)
		}
		if _, err := text.ExecContext(ctx, id, r.Message, r.Original); err != nil {
			return fmt.Errorf("cannot index logs: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cannot write logs: %w", err)
	}
	return nil
}

func (s *Store) where(ctx context.Context, q query.Node, from, to time.Time) (string, []any, error) {
	t := &translator{}
	var lo, hi sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT min(id), max(id) FROM records WHERE ts >= ? AND ts < ?", from.UnixNano(), to.UnixNano()).Scan(&lo, &hi)
	if err != nil {
		return "", nil, fmt.Errorf("cannot search logs: %w", err)
	}
	t.loID, t.hiID = lo.Int64, hi.Int64
	if !lo.Valid {
		t.loID, t.hiID = 1, 0 // an empty window: nothing matches
	}
	cond := "id BETWEEN " + t.arg(t.loID) + " AND " + t.arg(t.hiID) + " AND ts >= " + t.arg(from.UnixNano()) + " AND ts < " + t.arg(to.UnixNano())
	if q != nil {
		c, err := t.node(q)
		if err != nil {
			return "", nil, err
		}
		cond += " AND (" + c + ")"
	}
	return cond, t.args, nil
}

// Search returns matching records, newest first.
func (s *Store) Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]logs.Record, error) {
	cond, args, err := s.where(ctx, q, from, to)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, "SELECT ts, doc FROM records WHERE "+cond+" ORDER BY ts DESC, id DESC LIMIT "+fmt.Sprint(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot search logs: %w", err)
	}
	defer rows.Close()
	var out []logs.Record
	for rows.Next() {
		var ts int64
		var doc string
		if err := rows.Scan(&ts, &doc); err != nil {
			return nil, err
		}
		r, err := record(ts, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Count counts matching records per group.
func (s *Store) Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error) {
	cond, args, err := s.where(ctx, q, from, to)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(groupBy))
	for i, g := range groupBy {
		if g == "" || strings.ContainsAny(g, `"'`) {
			return nil, errors.New("invalid group_by field")
		}
		cols[i] = "COALESCE(" + jsonField(g) + ", '')"
	}
	sel, group := "count(*)", ""
	if len(cols) > 0 {
		sel = strings.Join(cols, ", ") + ", count(*)"
		group = " GROUP BY " + strings.Join(cols, ", ")
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+sel+" FROM records WHERE "+cond+group, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot count logs: %w", err)
	}
	defer rows.Close()
	var out []logs.GroupCount
	for rows.Next() {
		vals := make([]string, len(groupBy))
		dest := make([]any, 0, len(groupBy)+1)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		var n int64
		dest = append(dest, &n)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		gc := logs.GroupCount{Count: n, Group: map[string]string{}}
		for i, g := range groupBy {
			gc.Group[g] = vals[i]
		}
		if n > 0 {
			out = append(out, gc)
		}
	}
	return out, rows.Err()
}

package embedded

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// window holds the partitions [from, to) touches, newest first.
func (s *Store) window(from, to time.Time) ([]*partition, error) {
	if !from.Before(to) {
		return nil, nil
	}
	return s.acquire(dayOf(from), dayOf(to.Add(-time.Nanosecond)))
}

// Search returns matching records, newest first to the millisecond
// (records of one millisecond in the order they were written): partitions are searched
// from the newest day back until limit records are found.
func (s *Store) Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]logs.Record, error) {
	if limit <= 0 {
		limit = 100
	}
	parts, err := s.window(from, to)
	if err != nil {
		return nil, fmt.Errorf("cannot search logs: %w", err)
	}
	defer s.release(parts...)
	var out []logs.Record
	for _, p := range parts {
		if out, err = p.search(ctx, q, from, to, limit-len(out), out); err != nil {
			return nil, err
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// Count counts matching records per group, summed over the partitions.
func (s *Store) Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error) {
	for _, g := range groupBy {
		if g == "" || strings.ContainsAny(g, `"'`) {
			return nil, errors.New("invalid group_by field")
		}
	}
	parts, err := s.window(from, to)
	if err != nil {
		return nil, fmt.Errorf("cannot count logs: %w", err)
	}
	defer s.release(parts...)
	if len(parts) == 1 {
		return parts[0].count(ctx, q, groupBy, from, to)
	}
	var sum groupSum
	for _, p := range parts {
		counts, err := p.count(ctx, q, groupBy, from, to)
		if err != nil {
			return nil, err
		}
		sum.add(counts, groupBy)
	}
	return sum.counts, nil
}

// groupSum adds up counts per group from several partitions or shards.
type groupSum struct {
	counts []logs.GroupCount
	index  map[string]int
}

func (s *groupSum) add(counts []logs.GroupCount, groupBy []string) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	for _, gc := range counts {
		k := groupKey(gc.Group, groupBy)
		if i, ok := s.index[k]; ok {
			s.counts[i].Count += gc.Count
			continue
		}
		s.index[k] = len(s.counts)
		s.counts = append(s.counts, gc)
	}
}

func groupKey(group map[string]string, groupBy []string) string {
	var b strings.Builder
	for _, g := range groupBy {
		b.WriteString(strconv.Quote(group[g]))
	}
	return b.String()
}

// where is the condition for q in [from, to) in this partition.
func (p *partition) where(q query.Node, from, to time.Time) (string, []any, error) {
	t := &translator{}
	t.loID, t.hiID = p.idRange(from, to)
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

// search appends to out the newest limit records of the partition that
// match, asking every shard and merging by id.
func (p *partition) search(ctx context.Context, q query.Node, from, to time.Time, limit int, out []logs.Record) ([]logs.Record, error) {
	cond, args, err := p.where(q, from, to)
	if err != nil {
		return nil, err
	}
	var found []foundRecord
	for _, sh := range p.shards {
		if found, err = sh.search(ctx, cond, args, limit, found); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(found, func(a, b foundRecord) int { return cmp.Compare(b.id, a.id) })
	for _, f := range found[:min(limit, len(found))] {
		out = append(out, f.record)
	}
	return out, nil
}

// foundRecord is a record a search found, with its id.
type foundRecord struct {
	id     int64
	record logs.Record
}

func (sh *shard) search(ctx context.Context, cond string, args []any, limit int, out []foundRecord) ([]foundRecord, error) {
	rows, err := sh.db.QueryContext(ctx, "SELECT id, ts, code, host, message, original, doc FROM records WHERE "+cond+" ORDER BY id DESC LIMIT "+strconv.Itoa(limit), args...)
	if err != nil {
		return nil, fmt.Errorf("cannot search logs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, ts int64
		var code, host, original sql.NullString
		var message, doc string
		if err := rows.Scan(&id, &ts, &code, &host, &message, &original, &doc); err != nil {
			return nil, fmt.Errorf("cannot search logs: %w", err)
		}
		r := logs.Record{Received: time.Unix(0, ts).UTC(), Message: message, Original: original.String, HostIP: host.String}
		r.Timestamp = r.Received
		if doc != "{}" {
			if err := json.Unmarshal([]byte(doc), &r.Fields); err != nil {
				return nil, fmt.Errorf("cannot decode log record: %w", err)
			}
			if name, ok := r.Fields["host.name"]; ok {
				r.HostName = name
				delete(r.Fields, "host.name")
			}
			if err := takeTimestamp(&r, timestampField); err != nil {
				return nil, err
			}
			if err := takeTimestamp(&r, legacyTimestampField); err != nil {
				return nil, err
			}
		}
		if code.Valid {
			if r.Fields == nil {
				r.Fields = map[string]string{}
			}
			r.Fields["event.code"] = code.String
		}
		if len(r.Fields) == 0 {
			r.Fields = nil
		}
		out = append(out, foundRecord{id, r})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot search logs: %w", err)
	}
	return out, nil
}

// takeTimestamp moves the sender's time kept in the document under key
// to the record's Timestamp.
func takeTimestamp(r *logs.Record, key string) error {
	v, ok := r.Fields[key]
	if !ok {
		return nil
	}
	ts, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("cannot decode log record: %s %q: %w", key, v, err)
	}
	r.Timestamp = ts.UTC()
	delete(r.Fields, key)
	return nil
}

// count counts the partition's matching records per group, over its shards.
func (p *partition) count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error) {
	cond, args, err := p.where(q, from, to)
	if err != nil {
		return nil, err
	}
	if len(p.shards) == 1 {
		return p.shards[0].count(ctx, cond, args, groupBy)
	}
	var sum groupSum
	for _, sh := range p.shards {
		counts, err := sh.count(ctx, cond, args, groupBy)
		if err != nil {
			return nil, err
		}
		sum.add(counts, groupBy)
	}
	return sum.counts, nil
}

func (sh *shard) count(ctx context.Context, cond string, args []any, groupBy []string) ([]logs.GroupCount, error) {
	cols := make([]string, len(groupBy))
	for i, g := range groupBy {
		cols[i] = "COALESCE(" + column(g) + ", '')"
	}
	sel, group := "count(*)", ""
	if len(cols) > 0 {
		sel = strings.Join(cols, ", ") + ", count(*)"
		group = " GROUP BY " + strings.Join(cols, ", ")
	}
	rows, err := sh.db.QueryContext(ctx, "SELECT "+sel+" FROM records WHERE "+cond+group, args...)
	if err != nil {
		return nil, fmt.Errorf("cannot count logs: %w", err)
	}
	defer rows.Close()
	var out []logs.GroupCount
	vals := make([]string, len(groupBy))
	dest := make([]any, 0, len(groupBy)+1)
	for i := range vals {
		dest = append(dest, &vals[i])
	}
	var n int64
	dest = append(dest, &n)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("cannot count logs: %w", err)
		}
		if n == 0 {
			continue
		}
		gc := logs.GroupCount{Count: n, Group: make(map[string]string, len(groupBy))}
		for i, g := range groupBy {
			gc.Group[g] = vals[i]
		}
		out = append(out, gc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot count logs: %w", err)
	}
	return out, nil
}

package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/kusanagi-dev/kusanagi/internal/ctxutil"
	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

// result is what became of one bulk item.
type result struct {
	done    bool   // acknowledged, now or by an earlier attempt (409)
	refused bool   // refused for its content (400): retrying cannot help
	reason  string // the error type
	msg     string
}

// send runs one round of bulk requests for entries through the
// BulkIndexer and waits for every item's answer.
func (s *Store) send(ctx context.Context, entries []spool.Entry) []result {
	results := make([]result, len(entries))
	answered := make([]bool, len(entries))
	var mu sync.Mutex
	set := func(i int, r result) {
		mu.Lock()
		defer mu.Unlock()
		if answered != nil {
			results[i], answered[i] = r, true
		}
	}
	for i, e := range entries {
		err := s.bulk.Add(ctx, esutil.BulkIndexerItem{
			Action:     "create",
			DocumentID: e.ID,
			Body:       bytes.NewReader(e.Data),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
				set(i, result{done: true})
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				set(i, classify(res, err))
			},
		})
		if err != nil {
			break
		}
	}
	flushErr := s.bulk.Flush(ctx)
	mu.Lock()
	defer mu.Unlock()
	for i := range results {
		if !answered[i] {
			// Not sent, or the answer comes after ctx ended: try again;
			// if it was indexed after all, the retry gets a 409.
			msg := "no answer"
			if flushErr != nil {
				msg = flushErr.Error()
			}
			results[i] = result{reason: "request_failed", msg: msg}
		}
	}
	answered = nil // late callbacks write nothing
	return results
}

func classify(res esutil.BulkIndexerResponseItem, err error) result {
	switch {
	case err != nil:
		return result{reason: "request_failed", msg: err.Error()}
	case res.Status >= 200 && res.Status < 300:
		return result{done: true}
	case res.Status == http.StatusConflict && res.Error.Type == "version_conflict_engine_exception":
		return result{done: true}
	}
	reason := res.Error.Type
	if reason == "" {
		reason = "status_" + strconv.Itoa(res.Status)
	}
	msg := res.Error.Reason
	if res.Error.Cause.Type != "" {
		msg += " (caused by " + res.Error.Cause.Type + ": " + res.Error.Cause.Reason + ")"
	}
	// 400 is the document's fault (a field of the wrong type, a mapping
	// clash); 429, 5xx, a blocked or missing index are the cluster's and
	// pass.
	return result{refused: res.Status == http.StatusBadRequest, reason: reason, msg: msg}
}

// index sends entries until Elasticsearch has acknowledged each, refused
// documents in their fallback form, for at most attempts rounds (0: until
// ctx ends). It returns the entries still unacknowledged.
func (s *Store) index(ctx context.Context, entries []spool.Entry, attempts int) ([]spool.Entry, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		results := s.send(ctx, entries)
		var retry, fallback []spool.Entry
		indexed, missing := 0, false
		for i, r := range results {
			switch {
			case r.done:
				indexed++
			case r.refused:
				s.metrics.failures.WithLabelValues(r.reason).Inc()
				fb, err := s.fallback(entries[i], r)
				if err != nil {
					s.reject(entries[i], r.reason+": "+r.msg+"; "+err.Error())
					continue
				}
				fallback = append(fallback, fb)
			default:
				s.metrics.failures.WithLabelValues(r.reason).Inc()
				lastErr = fmt.Errorf("%s: %s", r.reason, r.msg)
				retry = append(retry, entries[i])
				missing = missing || r.reason == "index_not_found_exception"
			}
		}
		s.metrics.indexed.Add(float64(indexed))
		if len(fallback) > 0 {
			for i, r := range s.send(ctx, fallback) {
				switch {
				case r.done:
					s.metrics.indexed.Inc()
					s.metrics.fallbacks.Inc()
				case r.refused:
					s.metrics.failures.WithLabelValues(r.reason).Inc()
					s.reject(fallback[i], r.reason+": "+r.msg)
				default:
					s.metrics.failures.WithLabelValues(r.reason).Inc()
					retry = append(retry, fallback[i]) // spooled in its fallback form
				}
			}
		}
		if len(retry) == 0 {
			return nil, nil
		}
		if attempt == attempts || ctx.Err() != nil {
			return retry, lastErr
		}
		s.metrics.retries.WithLabelValues("item").Add(float64(len(retry)))
		if attempts == 0 {
			s.logger.Warn("Elasticsearch did not take spooled records; retrying", "records", len(retry), "attempt", attempt, "err", lastErr)
		}
		if missing {
			// The data stream was deleted where indices are not created
			// on write: put the template and the stream back.
			if err := s.install(ctx); err != nil {
				s.logger.Warn("cannot recreate the data stream", "err", err)
			}
		}
		if !ctxutil.Sleep(ctx, s.backoff.ForAttempt(float64(attempt-1))) {
			return retry, ctx.Err()
		}
		entries = retry
	}
}

// fallback is the safe form of a refused entry, logged with the refusal.
func (s *Store) fallback(e spool.Entry, r result) (spool.Entry, error) {
	doc, err := fallbackDocument(e.Data, r.reason, r.msg)
	if err != nil {
		return spool.Entry{}, err
	}
	s.logger.Warn("Elasticsearch refused a record; indexing it in the fallback form tagged "+tagIndexError,
		"index", s.target, "id", e.ID, "reason", r.reason+": "+r.msg)
	return spool.Entry{ID: e.ID, Data: doc}, nil
}

// reject keeps a record refused even in its fallback form in
// rejected.ndjson of the spool directory, where an operator finds it;
// nothing accepted is dropped silently.
func (s *Store) reject(e spool.Entry, reason string) {
	s.metrics.rejected.Inc()
	s.logger.Error("Elasticsearch refused a record even in the fallback form; kept in rejected.ndjson", "index", s.target, "id", e.ID, "reason", reason)
	line, err := json.Marshal(map[string]any{"id": e.ID, "error": reason, "document": json.RawMessage(e.Data)})
	if err != nil {
		line, _ = json.Marshal(map[string]any{"id": e.ID, "error": reason, "document": string(e.Data)})
	}
	s.rejectMu.Lock()
	defer s.rejectMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.opts.SpoolDir, "rejected.ndjson"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err == nil {
		_, err = f.Write(append(line, '\n'))
		err = errors.Join(err, f.Sync(), f.Close())
	}
	if err != nil {
		s.logger.Error("cannot keep a rejected record", "id", e.ID, "err", err)
	}
}

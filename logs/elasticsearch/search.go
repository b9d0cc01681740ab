package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// maxResultWindow is Elasticsearch's default index.max_result_window: a
// search returns at most that many hits.
const maxResultWindow = 10000

// compositePage is how many groups one request of Count fetches.
const compositePage = 1000

var yes = true

// do sends a request with a JSON body and decodes the answer into out.
func (s *Store) do(ctx context.Context, what string, req func(body io.Reader) esapi.Request, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(withOp(ctx, what), s.opts.RequestTimeout)
	defer cancel()
	res, err := req(bytes.NewReader(b)).Do(ctx, s.api)
	if err != nil {
		return fmt.Errorf("cannot %s logs: %w", what, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("cannot read the answer to %s: %w", what, err)
	}
	if res.IsError() {
		return statusError("cannot "+what+" logs", res.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("cannot decode the answer to %s: %w", what, err)
	}
	return nil
}

// Search returns up to limit matching records (at most 10000), the latest
// arrivals first.
func (s *Store) Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]logs.Record, error) {
	dsl, err := Query(q, from, to)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxResultWindow)
	body := map[string]any{
		"query": dsl,
		"sort": []any{
			map[string]any{fieldCreated: map[string]any{"order": "desc", "missing": "_last", "unmapped_type": "date_nanos"}},
			map[string]any{"@timestamp": map[string]any{"order": "desc"}},
		},
		"size":             limit,
		"track_total_hits": false,
	}
	var out struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	err = s.do(ctx, "search", func(b io.Reader) esapi.Request {
		return esapi.SearchRequest{Index: []string{s.target}, Body: b, IgnoreUnavailable: &yes}
	}, body, &out)
	if err != nil {
		return nil, err
	}
	recs := make([]logs.Record, 0, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		r, err := record(h.Source)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// Count counts matching records per group: _count without groups, a
// composite aggregation paged with after_key with them.
func (s *Store) Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error) {
	dsl, err := Query(q, from, to)
	if err != nil {
		return nil, err
	}
	if len(groupBy) == 0 {
		var out struct {
			Count int64 `json:"count"`
		}
		err := s.do(ctx, "count", func(b io.Reader) esapi.Request {
			return esapi.CountRequest{Index: []string{s.target}, Body: b, IgnoreUnavailable: &yes}
		}, map[string]any{"query": dsl}, &out)
		if err != nil || out.Count == 0 {
			return nil, err
		}
		return []logs.GroupCount{{Group: map[string]string{}, Count: out.Count}}, nil
	}
	sources := make([]any, len(groupBy))
	for i, f := range groupBy {
		if logs.TextFields[f] {
			return nil, fmt.Errorf("group_by %s: a text field cannot be grouped on Elasticsearch; group by a keyword field", f)
		}
		sources[i] = map[string]any{groupKey(i): map[string]any{"terms": map[string]any{"field": f, "missing_bucket": true}}}
	}
	var groups []logs.GroupCount
	var after map[string]any
	for {
		composite := map[string]any{"size": compositePage, "sources": sources}
		if after != nil {
			composite["after"] = after
		}
		body := map[string]any{
			"size": 0, "track_total_hits": false, "query": dsl,
			"aggs": map[string]any{"groups": map[string]any{"composite": composite}},
		}
		var out struct {
			Aggregations struct {
				Groups struct {
					AfterKey map[string]any `json:"after_key"`
					Buckets  []struct {
						Key      map[string]any `json:"key"`
						DocCount int64          `json:"doc_count"`
					} `json:"buckets"`
				} `json:"groups"`
			} `json:"aggregations"`
		}
		err := s.do(ctx, "count", func(b io.Reader) esapi.Request {
			return esapi.SearchRequest{Index: []string{s.target}, Body: b, IgnoreUnavailable: &yes}
		}, body, &out)
		if err != nil {
			return nil, err
		}
		agg := out.Aggregations.Groups
		for _, b := range agg.Buckets {
			gc := logs.GroupCount{Group: map[string]string{}, Count: b.DocCount}
			for i, f := range groupBy {
				gc.Group[f] = keyString(b.Key[groupKey(i)])
			}
			groups = append(groups, gc)
		}
		if len(agg.Buckets) < compositePage || agg.AfterKey == nil {
			return groups, nil
		}
		after = agg.AfterKey
	}
}

func groupKey(i int) string { return fmt.Sprintf("g%d", i) }

// keyString renders a bucket key as the embedded store does: the value as
// text, "" for a record without the field.
func keyString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

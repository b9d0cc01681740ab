package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	bq "github.com/blevesearch/bleve/v2/search/query"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// bleveStore is a real Bleve (scorch) index of the same records, mapped
// as Elasticsearch maps them: text fields through a lowercasing Unicode
// word analyzer without stop words (Bleve's "standard" drops "down"),
// every other field a keyword with doc values for grouping. The whole
// record is kept as a stored JSON field, as SQLite keeps it.
type bleveStore struct {
	index bleve.Index
	seq   int
}

// Bleve splits field paths at dots; names with dots become underscores.
func bleveField(name string) string { return strings.ReplaceAll(name, ".", "_") }

func newBleve(dir string) (*bleveStore, error) {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomAnalyzer("words", map[string]any{
		"type": custom.Name, "tokenizer": unicode.Name, "token_filters": []string{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	doc := bleve.NewDocumentStaticMapping()
	text := bleve.NewTextFieldMapping()
	text.Analyzer, text.Store, text.DocValues = "words", false, false // term vectors stay: phrases need positions
	for _, f := range []string{"message", "event.original"} {
		doc.AddFieldMappingsAt(bleveField(f), text)
	}
	kw := bleve.NewKeywordFieldMapping()
	kw.Store = false
	for _, f := range []string{"host.ip", "host.name", "event.code", "log.syslog.severity.code", "log.syslog.facility.code"} {
		doc.AddFieldMappingsAt(bleveField(f), kw)
	}
	ts := bleve.NewDateTimeFieldMapping()
	ts.Store = false
	doc.AddFieldMappingsAt("timestamp", ts)
	src := bleve.NewTextFieldMapping()
	src.Index, src.Store, src.DocValues = false, true, false
	doc.AddFieldMappingsAt("source", src)
	m.DefaultMapping = doc
	m.DefaultAnalyzer = "words"
	idx, err := bleve.New(dir, m)
	if err != nil {
		return nil, fmt.Errorf("cannot create bleve index: %w", err)
	}
	return &bleveStore{index: idx}, nil
}

func (b *bleveStore) Write(_ context.Context, recs []logs.Record) error {
	batch := b.index.NewBatch()
	for i := range recs {
		r := &recs[i]
		src, err := json.Marshal(r)
		if err != nil {
			return err
		}
		d := map[string]any{"timestamp": r.Timestamp, "message": r.Message, "source": string(src)}
		if r.Original != "" {
			d["event_original"] = r.Original
		}
		if r.HostIP != "" {
			d["host_ip"] = r.HostIP
		}
		if r.HostName != "" {
			d["host_name"] = r.HostName
		}
		for k, v := range r.Fields {
			d[bleveField(k)] = v
		}
		b.seq++
		if err := batch.Index(fmt.Sprint(b.seq), d); err != nil {
			return err
		}
	}
	return b.index.Batch(batch)
}

// translate turns the catalogue's query tree into a Bleve query, for the
// node kinds the benchmark's queries use.
func translate(n query.Node) (bq.Query, error) {
	switch n := n.(type) {
	case query.And:
		qs, err := translateAll(n.Nodes)
		return bleve.NewConjunctionQuery(qs...), err
	case query.Or:
		qs, err := translateAll(n.Nodes)
		return bleve.NewDisjunctionQuery(qs...), err
	case query.Not:
		q, err := translate(n.Node)
		if err != nil {
			return nil, err
		}
		b := bleve.NewBooleanQuery()
		b.AddMust(bleve.NewMatchAllQuery())
		b.AddMustNot(q)
		return b, nil
	case query.Term:
		return fieldQuery(n.Field, n.Value, false), nil
	case query.Phrase:
		return fieldQuery(n.Field, n.Text, true), nil
	}
	return nil, fmt.Errorf("the benchmark's Bleve translation has no %T", n)
}

// fieldQuery matches text in a field: analyzed words (a phrase, or any
// order) in a text field, the whole value in a keyword.
func fieldQuery(field, text string, phrase bool) bq.Query {
	type fielded interface {
		bq.Query
		SetField(string)
	}
	var q fielded
	switch {
	case !logs.TextFields[field]:
		q = bleve.NewTermQuery(text)
	case phrase:
		q = bleve.NewMatchPhraseQuery(text)
	default:
		q = bleve.NewMatchQuery(text)
	}
	q.SetField(bleveField(field))
	return q
}

func translateAll(nodes []query.Node) ([]bq.Query, error) {
	qs := make([]bq.Query, len(nodes))
	for i, c := range nodes {
		q, err := translate(c)
		if err != nil {
			return nil, err
		}
		qs[i] = q
	}
	return qs, nil
}

func (b *bleveStore) request(q query.Node, from, to time.Time) (*bleve.SearchRequest, error) {
	inc, exc := true, false
	window := bleve.NewDateRangeInclusiveQuery(from, to, &inc, &exc)
	window.SetField("timestamp")
	var bq bq.Query = window
	if q != nil {
		t, err := translate(q)
		if err != nil {
			return nil, err
		}
		bq = bleve.NewConjunctionQuery(window, t)
	}
	return bleve.NewSearchRequest(bq), nil
}

func (b *bleveStore) Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error) {
	req, err := b.request(q, from, to)
	if err != nil {
		return nil, err
	}
	req.Size = 0
	if len(groupBy) > 1 {
		return nil, fmt.Errorf("the benchmark groups by one field at most")
	}
	if len(groupBy) == 1 {
		req.AddFacet("g", bleve.NewFacetRequest(bleveField(groupBy[0]), 100000))
	}
	res, err := b.index.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	if len(groupBy) == 0 {
		return []logs.GroupCount{{Count: int64(res.Total)}}, nil
	}
	var out []logs.GroupCount
	for _, t := range res.Facets["g"].Terms.Terms() {
		out = append(out, logs.GroupCount{Group: map[string]string{groupBy[0]: t.Term}, Count: int64(t.Count)})
	}
	return out, nil
}

func (b *bleveStore) Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]logs.Record, error) {
	req, err := b.request(q, from, to)
	if err != nil {
		return nil, err
	}
	req.Size = limit
	req.SortBy([]string{"-timestamp"})
	req.Fields = []string{"source"}
	res, err := b.index.SearchInContext(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]logs.Record, 0, len(res.Hits))
	for _, h := range res.Hits {
		src, _ := h.Fields["source"].(string)
		var r logs.Record
		if err := json.Unmarshal([]byte(src), &r); err != nil {
			return nil, fmt.Errorf("cannot decode a stored record: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (b *bleveStore) Close() error { return b.index.Close() }

func openBleve(dir string) (*bleveStore, error) {
	idx, err := bleve.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open bleve index: %w", err)
	}
	return &bleveStore{index: idx}, nil
}

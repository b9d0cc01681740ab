package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// templateVersion is bumped whenever the mappings change; it is kept in the
// template's _meta so an operator can see which Kusanagi wrote it.
const templateVersion = 2

// The mapping follows ECS: @timestamp is the sender's time, a date (a
// gear clock can say 1969, which date_nanos cannot hold; version 1 of the
// template had date_nanos), event.created the arrival, date_nanos (what
// windows, ranges and sorting use); message and event.original are text (the
// standard analyzer, as the query translator assumes), host.ip and
// source.ip are ip (so CIDR terms work), the numeric ECS fields are long
// (ranges compare numbers, as on the embedded store), and every other
// string is a keyword. Varbinds and structured data, whose names gear makes
// up (ifDescr.3, ifDescr.3.1), go to one flattened field each, so that
// neither the field count limit nor a leaf/object clash refuses a trap.
func mappings(flavor string) map[string]any {
	props := map[string]any{}
	leaf := func(path string, m map[string]any) {
		cur := props
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			obj, ok := cur[p].(map[string]any)
			if !ok {
				obj = map[string]any{"properties": map[string]any{}}
				cur[p] = obj
			}
			cur = obj["properties"].(map[string]any)
		}
		cur[parts[len(parts)-1]] = m
	}
	leaf("@timestamp", map[string]any{"type": "date"})
	leaf(fieldCreated, map[string]any{"type": "date_nanos"})
	leaf("message", map[string]any{"type": "text"})
	leaf("event.original", map[string]any{"type": "text"})
	for _, f := range []string{"host.ip", "source.ip"} {
		leaf(f, map[string]any{"type": "ip"})
	}
	for _, f := range []string{"log.syslog.severity.code", "log.syslog.facility.code", "log.syslog.priority", "log.syslog.version", "source.port", "event.sequence"} {
		// A gear's odd value is kept in _source rather than refusing the line.
		leaf(f, map[string]any{"type": "long", "ignore_malformed": true})
	}
	flat := "flattened"
	if flavor == FlavorOpenSearch {
		flat = "flat_object"
	}
	for _, f := range []string{"snmp.varbind", "log.syslog.structured_data"} {
		leaf(f, map[string]any{"type": flat})
	}
	// The record Elasticsearch refused, kept whole but not indexed.
	leaf(fieldRecord, map[string]any{"type": "object", "enabled": false})
	return map[string]any{
		"dynamic_templates": []any{
			map[string]any{"strings_as_keyword": map[string]any{
				"match_mapping_type": "string",
				// 8191 characters of 4 bytes are Lucene's 32766-byte term limit.
				"mapping": map[string]any{"type": "keyword", "ignore_above": 8191},
			}},
		},
		"properties": props,
	}
}

// indexTemplate is the composable index template for the store's target.
func (s *Store) indexTemplate() map[string]any {
	tmpl := map[string]any{"mappings": mappings(s.opts.Flavor)}
	body := map[string]any{
		"index_patterns": []string{s.target},
		// Above the built-in logs-*-* template of Elasticsearch (100).
		"priority": 200,
		"template": tmpl,
		"_meta":    map[string]any{"managed_by": "kusanagi", "version": templateVersion},
	}
	if s.opts.DataStream != "" {
		body["data_stream"] = map[string]any{}
		if s.opts.Retention > 0 && s.opts.Flavor != FlavorOpenSearch {
			tmpl["lifecycle"] = map[string]any{"data_retention": fmt.Sprintf("%ds", int64(s.opts.Retention.Seconds()))}
		}
	}
	return body
}

// templateName is the target's name: one template per data stream.
func (s *Store) templateName() string { return s.target }

// install puts the index template and creates the data stream; both are
// idempotent, so every start does it.
func (s *Store) install(ctx context.Context) error {
	body, err := json.Marshal(s.indexTemplate())
	if err != nil {
		return err
	}
	res, err := esapi.IndicesPutIndexTemplateRequest{Name: s.templateName(), Body: bytes.NewReader(body)}.Do(withOp(ctx, "template"), s.api)
	if err := checkResponse("cannot install index template "+s.templateName(), res, err); err != nil {
		return err
	}
	if s.opts.DataStream == "" {
		return nil
	}
	res, err = esapi.IndicesCreateDataStreamRequest{Name: s.opts.DataStream}.Do(withOp(ctx, "template"), s.api)
	if err != nil {
		return &retryableError{err: fmt.Errorf("cannot create data stream %s: %w", s.opts.DataStream, err)}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == 400 && bytes.Contains(b, []byte("resource_already_exists_exception")) {
		return nil
	}
	if res.IsError() {
		return statusError("cannot create data stream "+s.opts.DataStream, res.StatusCode, b)
	}
	return nil
}

// checkResponse turns a failed request or an error answer into an error,
// and closes the body.
func checkResponse(what string, res *esapi.Response, err error) error {
	if err != nil {
		return &retryableError{err: fmt.Errorf("%s: %w", what, err)}
	}
	defer res.Body.Close()
	if res.IsError() {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return statusError(what, res.StatusCode, b)
	}
	io.Copy(io.Discard, res.Body)
	return nil
}

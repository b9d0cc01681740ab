package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// On OpenSearch, which has no data stream lifecycle, retention is an Index
// State Management policy named after the data stream: backing indices
// roll over daily and are deleted once they have been rolled over for the
// retention. Both parts are needed. ISM refuses to delete a data stream's
// write index, so without rollover the one backing index would grow
// forever; and min_rollover_age counts from the last write to the index,
// so a record is kept at least the retention (as Elasticsearch's lifecycle,
// which counts from rollover too, and the embedded store do), at most one
// rollover period more. min_index_age would count from the index's
// creation and delete a day's newest records up to a day early.
const (
	// ismPriority puts the policy's ism_template above an operator's
	// catch-all policy, as the index template is above logs-*-*.
	ismPriority = 200
	// ismRollover is how long a backing index takes writes.
	ismRollover = 24 * time.Hour
)

// ismPolicyID names the policy: the data stream, as the index template.
func (s *Store) ismPolicyID() string { return s.opts.DataStream }

// ismPattern matches the data stream's backing indices, which ISM manages
// (a data stream name given to _ism/add reaches only its write index).
func (s *Store) ismPattern() string { return ".ds-" + s.opts.DataStream + "-*" }

// wantsISM: retention is applied through ISM on OpenSearch data streams;
// a plain index would be deleted whole.
func (s *Store) wantsISM() bool {
	return s.opts.Flavor == FlavorOpenSearch && s.opts.DataStream != "" && s.opts.Retention > 0
}

// ismPolicy is the body of PUT _plugins/_ism/policies/<id>.
func (s *Store) ismPolicy() map[string]any {
	keep := timeValue(s.opts.Retention)
	return map[string]any{"policy": map[string]any{
		"description":   fmt.Sprintf("Kusanagi: %s keeps records %s (retention_days); managed by Kusanagi, changed at its next start", s.opts.DataStream, keep),
		"default_state": "hot",
		"states": []any{
			map[string]any{
				"name":    "hot",
				"actions": []any{map[string]any{"rollover": map[string]any{"min_index_age": timeValue(min(ismRollover, s.opts.Retention))}}},
				"transitions": []any{map[string]any{
					"state_name": "delete",
					"conditions": map[string]any{"min_rollover_age": keep},
				}},
			},
			map[string]any{
				"name":        "delete",
				"actions":     []any{map[string]any{"delete": map[string]any{}}},
				"transitions": []any{},
			},
		},
		"ism_template": []any{map[string]any{"index_patterns": []string{s.ismPattern()}, "priority": ismPriority}},
	}}
}

// installISM puts the retention policy if it is missing or differs (a
// changed retention_days), and attaches it to the backing indices that
// exist already: its ism_template reaches only indices created after it.
// Every start does it; an unchanged policy is not written again.
func (s *Store) installISM(ctx context.Context) error {
	if !s.wantsISM() {
		return nil
	}
	id := s.ismPolicyID()
	what := "cannot install ISM policy " + id
	want := s.ismPolicy()
	body, err := json.Marshal(want)
	if err != nil {
		return err
	}
	var decoded struct{ Policy any }
	if err := json.Unmarshal(body, &decoded); err != nil {
		return err
	}
	// Compared as OpenSearch gives it back: decoded JSON.
	wantShape := policyShape(decoded.Policy)
	path := "/_plugins/_ism/policies/" + id // names are [a-z0-9._-]
	changed := false
	// Two Kusanagi processes starting together may both write; the loser's
	// write is answered 409 and it looks again.
	for attempt := 1; ; attempt++ {
		cur, err := s.getISMPolicy(ctx, what, path)
		if err != nil {
			return err
		}
		if cur != nil && policyShape(cur.Policy) == wantShape {
			break
		}
		q := url.Values{}
		if cur != nil {
			// OpenSearch writes a policy that exists only with these.
			q.Set("if_seq_no", strconv.FormatInt(cur.SeqNo, 10))
			q.Set("if_primary_term", strconv.FormatInt(cur.PrimaryTerm, 10))
		}
		status, b, err := s.ismDo(ctx, http.MethodPut, path, q, body)
		if err != nil {
			return ismRequestError(what, http.MethodPut, path, err)
		}
		if status == http.StatusConflict && attempt < 3 {
			continue
		}
		if status >= 300 {
			return ismStatusError(what, http.MethodPut, path, status, b)
		}
		changed = cur != nil
		if changed {
			s.logger.Info("ISM retention policy updated", "policy", id, "retention", s.opts.Retention, "was", cur.retention())
		} else {
			s.logger.Info("ISM retention policy created", "policy", id, "retention", s.opts.Retention)
		}
		break
	}
	if err := s.attachISM(ctx, what, "add"); err != nil {
		return err
	}
	if changed {
		// A managed index keeps the policy version it was given; a
		// changed retention reaches the existing backing indices only so.
		return s.attachISM(ctx, what, "change_policy")
	}
	return nil
}

// ismPolicyDoc is the answer of GET _plugins/_ism/policies/<id>.
type ismPolicyDoc struct {
	SeqNo       int64 `json:"_seq_no"`
	PrimaryTerm int64 `json:"_primary_term"`
	Policy      any   `json:"policy"`
}

// retention is the stored policy's delete condition, for the log.
func (d *ismPolicyDoc) retention() string {
	for _, st := range asList(asObject(d.Policy)["states"]) {
		for _, tr := range asList(asObject(st)["transitions"]) {
			for k, v := range asObject(asObject(tr)["conditions"]) {
				return k + " " + fmt.Sprint(v)
			}
		}
	}
	return "?"
}

// getISMPolicy returns the stored policy, or nil when there is none.
func (s *Store) getISMPolicy(ctx context.Context, what, path string) (*ismPolicyDoc, error) {
	status, b, err := s.ismDo(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, ismRequestError(what, http.MethodGet, path, err)
	}
	if status == http.StatusNotFound && policyAbsent(b) {
		return nil, nil
	}
	if status != http.StatusOK {
		return nil, ismStatusError(what, http.MethodGet, path, status, b)
	}
	var doc ismPolicyDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: GET %s answered what is not a policy: %w", what, path, err)
	}
	return &doc, nil
}

// policyAbsent tells OpenSearch's "no such policy" 404s (before the first
// policy of the cluster, its config index is missing) from a 404 of
// something that is not ISM.
func policyAbsent(body []byte) bool {
	var e esError
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	return e.Error.Type == "status_exception" && strings.Contains(e.Error.Reason, "Policy not found") ||
		e.Error.Type == "index_not_found_exception" && strings.Contains(e.Error.Reason, ".opendistro-ism-config")
}

// attachISM runs _ism/add or _ism/change_policy on the backing indices.
// An index that has a policy already (ours, from the ism_template, or an
// operator's) is left alone by add; other refusals are logged, as the
// records still go in.
func (s *Store) attachISM(ctx context.Context, what, verb string) error {
	path := "/_plugins/_ism/" + verb + "/" + s.ismPattern()
	body, _ := json.Marshal(map[string]string{"policy_id": s.ismPolicyID()})
	status, b, err := s.ismDo(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return ismRequestError(what, http.MethodPost, path, err)
	}
	if status >= 300 {
		return ismStatusError(what, http.MethodPost, path, status, b)
	}
	var res struct {
		Updated int `json:"updated_indices"`
		Failed  []struct {
			Index  string `json:"index_name"`
			Reason string `json:"reason"`
		} `json:"failed_indices"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: POST %s answered what is not an ISM status: %w", what, path, err)
	}
	for _, f := range res.Failed {
		if verb == "add" && strings.Contains(f.Reason, "already has a policy") {
			continue
		}
		s.logger.Warn("ISM did not apply the retention policy to a backing index", "policy", s.ismPolicyID(), "endpoint", "POST "+path, "index", f.Index, "reason", f.Reason)
	}
	if res.Updated > 0 {
		s.logger.Info("ISM retention policy applied to existing backing indices", "policy", s.ismPolicyID(), "endpoint", "POST "+path, "indices", res.Updated)
	}
	return nil
}

// ismDo sends one ISM request through the store's transport (esapi has no
// ISM requests) and reads the answer.
func (s *Store) ismDo(ctx context.Context, method, path string, query url.Values, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	u := path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	ctx, cancel := context.WithTimeout(withOp(ctx, "ism"), s.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, b, err := perform(s.api, req)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

func ismRequestError(what, method, path string, err error) error {
	return &retryableError{err: fmt.Errorf("%s: %s %s: %w", what, method, path, err)}
}

// ismStatusError names the endpoint. A cluster without the ISM plugin
// answers its paths "no handler found" (400), and a proxy in front of one
// may answer 404 without ISM's policy reasons; both get an error that says
// what to install.
func ismStatusError(what, method, path string, status int, body []byte) error {
	noHandler := status == http.StatusBadRequest && bytes.Contains(body, []byte("no handler found for uri"))
	notISM := status == http.StatusNotFound && !bytes.Contains(bytes.ToLower(body), []byte("policy"))
	if noHandler || notISM {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return fmt.Errorf("%s: %s %s: %d %s: %s: the Index State Management plugin (opensearch-index-management) is missing; retention_days on OpenSearch needs it (or set retention_days: 0)",
			what, method, path, status, http.StatusText(status), msg)
	}
	return statusError(what+": "+method+" "+path, status, body)
}

// timeValue writes d as an OpenSearch time value: whole days as "30d",
// anything else in seconds.
func timeValue(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%ds", int64((d+time.Second-1)/time.Second))
}

// parseTimeValue reads an OpenSearch time value ("30d", "2592000s",
// "720h").
func parseTimeValue(v string) (time.Duration, bool) {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	v = strings.TrimSpace(strings.ToLower(v))
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				continue // "ms" is not "s" of "m"
			}
			return time.Duration(f * float64(u.d)), true
		}
	}
	return 0, false
}

// policyShape is what of a policy Kusanagi decides: states, actions with
// their conditions, transitions and the ism_template. What OpenSearch adds
// when storing it (policy_id, schema_version, last_updated_time, an
// action's retry, a rollover's copy_alias) and the description are left
// out, and time values are compared as durations, so that only a real
// difference rewrites the policy.
func policyShape(policy any) string {
	p := asObject(policy)
	var b strings.Builder
	fmt.Fprintf(&b, "default=%v", p["default_state"])
	for _, st := range asList(p["states"]) {
		st := asObject(st)
		fmt.Fprintf(&b, "; state %v:", st["name"])
		for _, a := range asList(st["actions"]) {
			for _, k := range slices.Sorted(maps.Keys(asObject(a))) {
				if k == "retry" || k == "timeout" {
					continue
				}
				fmt.Fprintf(&b, " %s(%s)", k, conditions(asObject(asObject(a)[k]), "min_index_age", "min_size", "min_doc_count", "min_primary_shard_size"))
			}
		}
		for _, tr := range asList(st["transitions"]) {
			tr := asObject(tr)
			fmt.Fprintf(&b, " -> %v if (%s)", tr["state_name"], conditions(asObject(tr["conditions"]), "min_index_age", "min_rollover_age", "min_doc_count", "min_size", "cron"))
		}
	}
	// Stored as a list; given as an object or a list.
	tmpls := asList(p["ism_template"])
	if m, ok := p["ism_template"].(map[string]any); ok {
		tmpls = []any{m}
	}
	for _, t := range tmpls {
		t := asObject(t)
		fmt.Fprintf(&b, "; template %v priority %v", t["index_patterns"], t["priority"])
	}
	return b.String()
}

// conditions renders the named keys of m, time values as durations.
func conditions(m map[string]any, keys ...string) string {
	var parts []string
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if s, ok := v.(string); ok && strings.Contains(k, "age") {
			if d, ok := parseTimeValue(s); ok {
				v = d
			}
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, ",")
}

// asObject and asList view decoded JSON (or the policy as built) without
// failing on a shape OpenSearch may change.
func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

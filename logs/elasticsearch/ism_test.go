package elasticsearch

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
)

const (
	day        = 24 * time.Hour
	policyPath = "/_plugins/_ism/policies/logs-kusanagi-default"
	addPath    = "/_plugins/_ism/add/.ds-logs-kusanagi-default-*"
	changePath = "/_plugins/_ism/change_policy/.ds-logs-kusanagi-default-*"
)

// TestRetention: retention_days is the data stream lifecycle on
// Elasticsearch and an ISM policy on OpenSearch, written only when missing
// or changed, and attached to the backing indices that exist already.
func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name   string
		srv    estest.Options
		flavor string
		// runs are the retentions of successive starts; the checks are of
		// the last one.
		runs []time.Duration
		// during is a fault hook for the last start.
		during func(t *testing.T, srv *estest.Server) func(*http.Request) estest.Fault
		// wantISM are the last start's _plugins requests; wantErr its Run
		// error, if it fails.
		wantISM []string
		wantErr []string
		check   func(t *testing.T, srv *estest.Server)
	}{{
		name: "opensearch creates the policy", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs:    []time.Duration{7 * day},
		wantISM: []string{"GET " + policyPath, "PUT " + policyPath, "POST " + addPath},
		check: func(t *testing.T, srv *estest.Server) {
			checkPolicy(t, srv, "7d", 0)
			// The backing index predates the policy: attached by _ism/add.
			checkManaged(t, srv, 0)
		},
	}, {
		name: "opensearch restart with the same retention writes nothing", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs:    []time.Duration{7 * day, 7 * day},
		wantISM: []string{"GET " + policyPath, "POST " + addPath},
		check: func(t *testing.T, srv *estest.Server) {
			checkPolicy(t, srv, "7d", 0)
			checkManaged(t, srv, 0)
		},
	}, {
		name: "opensearch changed retention updates the policy", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs: []time.Duration{7 * day, 30 * day},
		wantISM: []string{"GET " + policyPath, "PUT " + policyPath + "?if_primary_term=1&if_seq_no=0",
			"POST " + addPath, "POST " + changePath},
		check: func(t *testing.T, srv *estest.Server) {
			checkPolicy(t, srv, "30d", 1)
			// change_policy gave the existing backing index the new version.
			checkManaged(t, srv, 1)
		},
	}, {
		name: "opensearch policy changed by another process meanwhile", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs: []time.Duration{7 * day, 30 * day},
		// Between the store's GET and PUT, another Kusanagi writes 14d:
		// the PUT with the stale _seq_no 0 is answered 409, the store
		// looks again and writes over _seq_no 1.
		during: func(t *testing.T, srv *estest.Server) func(*http.Request) estest.Fault {
			// Not a sync.Once: the other process's PUT passes here too,
			// while the first call waits for it.
			var done atomic.Bool
			return func(r *http.Request) estest.Fault {
				if r.Method == http.MethodPut && r.URL.Query().Get("if_seq_no") == "0" && done.CompareAndSwap(false, true) {
					putPolicy(t, srv, 14*day, "?if_seq_no=0&if_primary_term=1")
				}
				return estest.Fault{}
			}
		},
		wantISM: []string{"GET " + policyPath, "PUT " + policyPath + "?if_seq_no=0&if_primary_term=1",
			"PUT " + policyPath + "?if_primary_term=1&if_seq_no=0", "GET " + policyPath,
			"PUT " + policyPath + "?if_primary_term=1&if_seq_no=1", "POST " + addPath, "POST " + changePath},
		check: func(t *testing.T, srv *estest.Server) {
			checkPolicy(t, srv, "30d", 2)
			checkManaged(t, srv, 2)
		},
	}, {
		name: "opensearch without retention makes no ISM call", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs: []time.Duration{0},
		check: func(t *testing.T, srv *estest.Server) {
			if _, _, _, ok := srv.ISMPolicy("logs-kusanagi-default"); ok {
				t.Error("a policy was created without retention")
			}
		},
	}, {
		name: "elasticsearch uses the data stream lifecycle", srv: estest.Options{}, flavor: FlavorElasticsearch,
		runs: []time.Duration{7 * day},
		check: func(t *testing.T, srv *estest.Server) {
			tmpl := asObject(srv.IndexTemplate("logs-kusanagi-default")["template"])
			if got := asObject(tmpl["lifecycle"])["data_retention"]; got != "604800s" {
				t.Errorf("lifecycle.data_retention %v, want 604800s", got)
			}
		},
	}, {
		name: "opensearch without the ISM plugin", srv: estest.Options{OpenSearch: true, NoISM: true}, flavor: FlavorOpenSearch,
		runs:    []time.Duration{7 * day},
		wantISM: []string{"GET " + policyPath},
		wantErr: []string{
			"cannot install ISM policy logs-kusanagi-default: GET " + policyPath + ": 400 Bad Request",
			"no handler found for uri [" + policyPath + "] and method [GET]",
			"the Index State Management plugin (opensearch-index-management) is missing",
		},
	}, {
		name: "opensearch behind a proxy answering 404", srv: estest.Options{OpenSearch: true}, flavor: FlavorOpenSearch,
		runs: []time.Duration{7 * day},
		during: func(*testing.T, *estest.Server) func(*http.Request) estest.Fault {
			return func(r *http.Request) estest.Fault {
				if strings.HasPrefix(r.URL.Path, "/_plugins/") {
					return estest.Fault{Status: http.StatusNotFound}
				}
				return estest.Fault{}
			}
		},
		wantErr: []string{
			"cannot install ISM policy logs-kusanagi-default: GET " + policyPath + ": 404 Not Found",
			"the Index State Management plugin (opensearch-index-management) is missing",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.New(t, tc.srv)
			o := Options{URLs: []string{srv.URL()}, Flavor: tc.flavor}
			for i, r := range tc.runs {
				o.Retention = r
				if i < len(tc.runs)-1 {
					start(t, o, true).stop()
					continue
				}
				before := len(srv.ISMRequests())
				if tc.during != nil {
					srv.FailRequests(tc.during(t, srv))
				}
				if tc.wantErr != nil {
					err := runErr(t, o)
					for _, want := range tc.wantErr {
						if err == nil || !strings.Contains(err.Error(), want) {
							t.Errorf("Run: %v\nwant it to contain %q", err, want)
						}
					}
				} else {
					start(t, o, true).stop()
				}
				if got := srv.ISMRequests()[before:]; !reflect.DeepEqual(got, tc.wantISM) && (len(got) > 0 || len(tc.wantISM) > 0) {
					t.Errorf("ISM requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantISM, "\n"))
				}
			}
			if tc.check != nil {
				tc.check(t, srv)
			}
		})
	}
}

// checkPolicy compares the stored policy with what the store must write.
func checkPolicy(t *testing.T, srv *estest.Server, keep string, seqNo int) {
	t.Helper()
	p, seq, term, ok := srv.ISMPolicy("logs-kusanagi-default")
	if !ok {
		t.Fatal("no ISM policy logs-kusanagi-default")
	}
	if seq != seqNo || term != 1 {
		t.Errorf("_seq_no %d _primary_term %d, want %d and 1", seq, term, seqNo)
	}
	want := `{
		"default_state": "hot",
		"states": [
			{"name": "hot",
			 "actions": [{"rollover": {"min_index_age": "1d", "copy_alias": false},
			              "retry": {"count": 3, "backoff": "exponential", "delay": "1m"}}],
			 "transitions": [{"state_name": "delete", "conditions": {"min_rollover_age": "` + keep + `"}}]},
			{"name": "delete",
			 "actions": [{"delete": {}, "retry": {"count": 3, "backoff": "exponential", "delay": "1m"}}],
			 "transitions": []}
		],
		"ism_template": [{"index_patterns": [".ds-logs-kusanagi-default-*"], "priority": 200}]
	}`
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for k := range w {
		got[k] = p[k]
	}
	for _, tm := range asList(got["ism_template"]) {
		delete(asObject(tm), "last_updated_time")
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("policy:\n%s\nwant:\n%s", g, want)
	}
	if d, _ := p["description"].(string); !strings.Contains(d, "keeps records "+keep) {
		t.Errorf("description %q does not say the retention", d)
	}
}

// checkManaged: the data stream's backing index is managed by the policy
// at _seq_no seqNo.
func checkManaged(t *testing.T, srv *estest.Server, seqNo int) {
	t.Helper()
	managed := srv.ManagedIndices()
	if len(managed) != 1 {
		t.Fatalf("managed indices %v, want the one backing index", managed)
	}
	for name, m := range managed {
		if !strings.HasPrefix(name, ".ds-logs-kusanagi-default-") || m != (estest.ManagedIndex{PolicyID: "logs-kusanagi-default", PolicySeqNo: seqNo}) {
			t.Errorf("%s managed by %+v, want policy logs-kusanagi-default at _seq_no %d", name, m, seqNo)
		}
	}
}

// putPolicy writes the policy of another retention, as another process
// would.
func putPolicy(t *testing.T, srv *estest.Server, keep time.Duration, query string) {
	t.Helper()
	s := &Store{opts: Options{DataStream: "logs-kusanagi-default", Retention: keep}}
	body, _ := json.Marshal(s.ismPolicy())
	req, _ := http.NewRequest(http.MethodPut, srv.URL()+policyPath+query, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Errorf("concurrent PUT: %d %s", res.StatusCode, b)
	}
}

// TestISMWireAnswers: the test server answers ISM requests with the
// plugin's statuses and shapes, and Elasticsearch has no handler there.
func TestISMWireAnswers(t *testing.T) {
	es := estest.New(t, estest.Options{})
	os := estest.New(t, estest.Options{OpenSearch: true})
	s := &Store{opts: Options{DataStream: "p", Retention: 7 * day}}
	policy, _ := json.Marshal(s.ismPolicy())
	for _, tc := range []struct {
		srv                *estest.Server
		method, path, body string
		wantStatus         int
		wantBody           []string
	}{
		{es, "GET", "/_plugins/_ism/policies/p", "", 400, []string{`{"error":"no handler found for uri [/_plugins/_ism/policies/p] and method [GET]"}`}},
		{os, "GET", "/_plugins/_ism/policies/p", "", 404, []string{`"type":"index_not_found_exception"`, `"reason":"no such index [.opendistro-ism-config]"`}},
		{os, "PUT", "/_plugins/_ism/policies/p", string(policy), 201, []string{`"_id":"p"`, `"_version":1`, `"_primary_term":1`, `"_seq_no":0`, `"policy":{"policy":{`, `"policy_id":"p"`}},
		{os, "GET", "/_plugins/_ism/policies/q", "", 404, []string{`"type":"status_exception"`, `"reason":"Policy not found"`}},
		{os, "GET", "/_plugins/_ism/policies/p", "", 200, []string{`"_seq_no":0`, `"policy":{"default_state":"hot"`}},
		{os, "PUT", "/_plugins/_ism/policies/p", string(policy), 409, []string{`"type":"version_conflict_engine_exception"`, `document already exists (current version [1])`}},
		{os, "PUT", "/_plugins/_ism/policies/p?if_seq_no=5&if_primary_term=1", string(policy), 409, []string{`required seqNo [5], primary term [1]. current document has seqNo [0] and primary term [1]`}},
		{os, "PUT", "/_plugins/_ism/policies/p?if_seq_no=0&if_primary_term=1", string(policy), 200, []string{`"_version":2`, `"_seq_no":1`}},
		{os, "POST", "/_plugins/_ism/add/nothing-*", `{"policy_id":"p"}`, 200, []string{`{"failed_indices":[],"failures":false,"updated_indices":0}`}},
		{os, "POST", "/_plugins/_ism/add/x", `{"policy_id":"nope"}`, 404, []string{`"reason":"Could not find policy=nope"`}},
	} {
		req, _ := http.NewRequest(tc.method, tc.srv.URL()+tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.wantStatus {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, res.StatusCode, b, tc.wantStatus)
		}
		for _, w := range tc.wantBody {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s %s: %s\nwant it to contain %s", tc.method, tc.path, b, w)
			}
		}
	}
}

// Package estest is an Elasticsearch 8 (or OpenSearch 2) test server: the
// part of the REST API Kusanagi's log store uses, over real HTTP on
// loopback, with Elasticsearch's headers, answer shapes and error types,
// evaluating the query DSL subset of the translator against the documents
// it stores (mappings from the index template, the standard analyzer, ip
// and numeric fields). Faults can be injected per request and per bulk item,
// and the listener stopped and restarted on the same address.
package estest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server.
type Options struct {
	// OpenSearch makes the server answer as OpenSearch 2 does: no
	// X-Elastic-Product header, version.distribution "opensearch",
	// flat_object instead of flattened, mapper_parsing_exception.
	OpenSearch bool
	// NoISM makes OpenSearch answer as without the Index State Management
	// plugin: no handler for _plugins/_ism.
	NoISM bool
	// Username and Password, or APIKey (the encoded id:key), are required
	// of every request when set.
	Username, Password, APIKey string
	// RefreshInterval is how long an indexed document takes to become
	// searchable without an explicit refresh (default 1s).
	RefreshInterval time.Duration
	// TLS serves HTTPS with httptest's certificate; with ClientCAs,
	// clients must show a certificate they signed.
	TLS       bool
	ClientCAs *x509.CertPool
}

// Fault is how a request is failed: with an Elasticsearch error status
// (429, 503, ...), or by closing the connection (Drop).
type Fault struct {
	Status int
	Drop   bool
}

// ItemFault fails one bulk item.
type ItemFault struct {
	Status       int
	Type, Reason string
}

// Server is the test server.
type Server struct {
	opts       Options
	opensearch bool
	t          testing.TB
	addr       string
	httpSrv    *http.Server
	tlsSrv     *httptest.Server

	mu        sync.Mutex
	templates map[string]*template
	streams   map[string]*stream
	indices   map[string]*index
	seq       int
	created   []string // ids in the order they were indexed
	requests  map[string]int
	reqFault  func(*http.Request) Fault
	itemFault func(id string, src map[string]any) *ItemFault

	// ISM (ism.go): policies by id, managed indices by name, whether the
	// config index exists, its next _seq_no, and the _plugins requests.
	ismPolicies map[string]*ismPolicy
	ismManaged  map[string]ManagedIndex
	ismConfig   bool
	ismSeq      int
	ismLog      []string
}

type template struct {
	name       string
	patterns   []string
	priority   int
	dataStream bool
	mapping    *mapping
	raw        []byte // the body as put
}

type stream struct {
	name    string
	backing string
}

type index struct {
	name      string
	mapping   *mapping
	docs      []*doc
	ids       map[string]bool
	refreshed int // docs[:refreshed] are searchable
	lastFlush time.Time
}

// New starts a server on 127.0.0.1; it stops when the test ends.
func New(t testing.TB, o Options) *Server {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Second
	}
	s := &Server{
		opts: o, opensearch: o.OpenSearch, t: t,
		templates: map[string]*template{}, streams: map[string]*stream{}, indices: map[string]*index{}, requests: map[string]int{},
		ismPolicies: map[string]*ismPolicy{}, ismManaged: map[string]ManagedIndex{},
	}
	if o.TLS {
		s.tlsSrv = httptest.NewUnstartedServer(s)
		s.tlsSrv.TLS = &tls.Config{ClientCAs: o.ClientCAs}
		if o.ClientCAs != nil {
			s.tlsSrv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
		s.tlsSrv.StartTLS()
		s.addr = s.tlsSrv.Listener.Addr().String()
		t.Cleanup(s.tlsSrv.Close)
		return s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's address.
func (s *Server) URL() string {
	if s.tlsSrv != nil {
		return s.tlsSrv.URL
	}
	return "http://" + s.addr
}

// Certificate is the TLS server's certificate, PEM-encoded, to trust.
func (s *Server) Certificate() []byte {
	if s.tlsSrv == nil {
		return nil
	}
	var b bytes.Buffer
	for _, c := range s.tlsSrv.TLS.Certificates {
		for _, der := range c.Certificate {
			fmt.Fprintf(&b, "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", base64.StdEncoding.EncodeToString(der))
		}
	}
	return b.Bytes()
}

func (s *Server) serve(ln net.Listener) {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpSrv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: the cluster is down.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start listens again on the same address, with the same documents.
func (s *Server) Start() {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("cannot listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// FailRequests decides whole-request faults; nil stops injecting.
func (s *Server) FailRequests(f func(*http.Request) Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqFault = f
}

// FailItems decides bulk item faults (nil result: index normally).
func (s *Server) FailItems(f func(id string, src map[string]any) *ItemFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.itemFault = f
}

// Created returns the ids of the documents indexed, in order.
func (s *Server) Created() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.created...)
}

// Requests counts requests by endpoint ("_bulk", "_search", ...).
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[endpoint]
}

// IndexTemplate returns the body of a composable index template as put,
// or nil.
func (s *Server) IndexTemplate(name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.templates[name]
	if !ok {
		return nil
	}
	var m map[string]any
	json.Unmarshal(t.raw, &m)
	return m
}

// Docs returns the _source of every document of a data stream or index.
func (s *Server) Docs(target string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, ix := range s.resolve(target) {
		for _, d := range ix.docs {
			var m map[string]any
			json.Unmarshal(d.source, &m)
			out = append(out, m)
		}
	}
	return out
}

// esError is an Elasticsearch error object.
type esError struct {
	Status   int
	Type     string
	Reason   string
	CausedBy *esError
	Extra    map[string]any
}

func (e *esError) Error() string { return e.Type + ": " + e.Reason }

func (e *esError) object() map[string]any {
	m := map[string]any{"type": e.Type, "reason": e.Reason}
	for k, v := range e.Extra {
		m[k] = v
	}
	if e.CausedBy != nil {
		m["caused_by"] = e.CausedBy.object()
	}
	return m
}

// body is an error answer: {"error":{"root_cause":[...],...},"status":N}.
func (e *esError) body() map[string]any {
	root := e
	for root.CausedBy != nil && root.Type != "document_parsing_exception" && root.Type != "mapper_parsing_exception" {
		root = root.CausedBy
	}
	rc := root.object()
	delete(rc, "caused_by")
	obj := e.object()
	obj["root_cause"] = []any{rc}
	return map[string]any{"error": obj, "status": e.Status}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.opensearch {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	s.mu.Lock()
	fault := s.reqFault
	s.mu.Unlock()
	if fault != nil {
		if f := fault(r); f.Drop {
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		} else if f.Status != 0 {
			s.write(w, r, f.Status, faultError(f.Status).body())
			return
		}
	}
	if err := s.authenticate(r); err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
		s.write(w, r, err.Status, err.body())
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return
		}
	}
	if len(body) > 0 {
		if err := s.checkContentType(r.Header.Get("Content-Type")); err != nil {
			s.write(w, r, err.Status, err.body())
			return
		}
	}
	status, out := s.route(r, body)
	s.write(w, r, status, out)
}

// faultError is what Elasticsearch answers when overloaded or not ready.
func faultError(status int) *esError {
	switch status {
	case http.StatusTooManyRequests:
		return &esError{Status: status, Type: "es_rejected_execution_exception", Reason: "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=107374182]"}
	case http.StatusServiceUnavailable:
		return &esError{Status: status, Type: "cluster_block_exception", Reason: "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"}
	}
	return &esError{Status: status, Type: "exception", Reason: http.StatusText(status)}
}

func (s *Server) authenticate(r *http.Request) *esError {
	want := ""
	switch {
	case s.opts.APIKey != "":
		want = "ApiKey " + s.opts.APIKey
	case s.opts.Username != "":
		want = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.opts.Username+":"+s.opts.Password))
	default:
		return nil
	}
	got := r.Header.Get("Authorization")
	if got == want {
		return nil
	}
	if got == "" {
		return &esError{Status: 401, Type: "security_exception", Reason: "missing authentication credentials for REST request [" + r.URL.Path + "]"}
	}
	return &esError{Status: 401, Type: "security_exception", Reason: "unable to authenticate user for REST request [" + r.URL.Path + "]"}
}

// checkContentType accepts what Elasticsearch 8 accepts: JSON and NDJSON,
// plain or in the versioned compatible-with=7|8 form (OpenSearch only
// the plain ones).
func (s *Server) checkContentType(ct string) *esError {
	mt := strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])
	switch mt {
	case "application/json", "application/x-ndjson":
		return nil
	case "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		if !s.opensearch && (strings.Contains(ct, "compatible-with=8") || strings.Contains(ct, "compatible-with=7")) {
			return nil
		}
	}
	return &esError{Status: http.StatusNotAcceptable, Type: "media_type_header_exception", Reason: fmt.Sprintf("Content-Type header [%s] is not supported", ct)}
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, body any) {
	ct := "application/json"
	if accept := r.Header.Get("Accept"); !s.opensearch && strings.Contains(accept, "compatible-with=8") {
		ct = "application/vnd.elasticsearch+json;compatible-with=8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	if r.Method == http.MethodHead || body == nil {
		return
	}
	json.NewEncoder(w).Encode(body)
}

// route dispatches a request; the server lock is held throughout, as one
// node applies requests one by one.
func (s *Server) route(r *http.Request, body []byte) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
	endpoint := ""
	for _, p := range parts {
		if strings.HasPrefix(p, "_") {
			endpoint = p
			break
		}
	}
	s.requests[endpoint]++
	var status int
	var out any
	var err *esError
	switch {
	case len(parts) > 0 && (parts[0] == "_plugins" || parts[0] == "_opendistro"):
		return s.pluginRequest(r, parts, body)
	case len(parts) == 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		status, out = 200, s.info()
	case len(parts) == 2 && parts[0] == "_index_template" && r.Method == http.MethodPut:
		out, err = s.putTemplate(parts[1], body)
	case len(parts) == 2 && parts[0] == "_data_stream" && r.Method == http.MethodPut:
		out, err = s.createStream(parts[1])
	case len(parts) == 2 && parts[0] == "_data_stream" && r.Method == http.MethodGet:
		out, err = s.getStream(parts[1])
	case endpoint == "_bulk" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		target := ""
		if len(parts) == 2 {
			target = parts[0]
		}
		out, err = s.bulk(r, target, body)
	case endpoint == "_refresh" && len(parts) <= 2:
		for _, ix := range s.targets(parts) {
			ix.refreshed = len(ix.docs)
		}
		out = map[string]any{"_shards": shards(1)}
	case (endpoint == "_search" || endpoint == "_count") && len(parts) <= 2 && (r.Method == http.MethodPost || r.Method == http.MethodGet):
		out, err = s.search(r, parts, endpoint, body)
	default:
		err = &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("request [%s] contains unrecognized parameter or is not supported by this test server: [%s %s]", r.URL.Path, r.Method, r.URL.Path)}
	}
	if err != nil {
		return err.Status, err.body()
	}
	if status == 0 {
		status = 200
	}
	return status, out
}

func shards(n int) map[string]any {
	return map[string]any{"total": n, "successful": n, "skipped": 0, "failed": 0}
}

func (s *Server) info() map[string]any {
	if s.opensearch {
		return map[string]any{
			"name": "estest", "cluster_name": "estest", "cluster_uuid": "Vq3Hn0bWRzKs8xyq3JpQYQ",
			"version": map[string]any{
				"distribution": "opensearch", "number": "2.19.1", "build_type": "tar", "build_hash": "unknown",
				"build_date": "2025-02-27T01:16:47.726162386Z", "build_snapshot": false, "lucene_version": "9.12.1",
				"minimum_wire_compatibility_version": "7.10.0", "minimum_index_compatibility_version": "7.0.0",
			},
			"tagline": "The OpenSearch Project: https://opensearch.org/",
		}
	}
	return map[string]any{
		"name": "estest", "cluster_name": "estest", "cluster_uuid": "Vq3Hn0bWRzKs8xyq3JpQYQ",
		"version": map[string]any{
			"number": "8.19.3", "build_flavor": "default", "build_type": "docker", "build_hash": "unknown",
			"build_date": "2025-08-28T10:20:45.545934810Z", "build_snapshot": false, "lucene_version": "9.12.2",
			"minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "You Know, for Search",
	}
}

func (s *Server) putTemplate(name string, body []byte) (any, *esError) {
	var raw map[string]any
	if err := decode(body, &raw); err != nil {
		return nil, &esError{Status: 400, Type: "x_content_parse_exception", Reason: err.Error()}
	}
	tmpl := asMap(raw["template"])
	for k := range tmpl {
		if k == "lifecycle" && s.opensearch || k != "settings" && k != "mappings" && k != "aliases" && k != "lifecycle" {
			return nil, &esError{Status: 400, Type: "x_content_parse_exception", Reason: fmt.Sprintf("[1:2] [template] unknown field [%s]", k)}
		}
	}
	var patterns []string
	for _, p := range asSlice(raw["index_patterns"]) {
		patterns = append(patterns, str(p))
	}
	if len(patterns) == 0 {
		return nil, &esError{Status: 400, Type: "action_request_validation_exception", Reason: "Validation Failed: 1: index patterns are missing;"}
	}
	m, err := parseMapping(asMap(tmpl["mappings"]), s.opensearch)
	if err != nil {
		return nil, err.(*esError)
	}
	prio := 0
	if n, ok := raw["priority"].(json.Number); ok {
		v, _ := n.Int64()
		prio = int(v)
	}
	_, ds := raw["data_stream"]
	s.templates[name] = &template{name: name, patterns: patterns, priority: prio, dataStream: ds, mapping: m, raw: append([]byte(nil), body...)}
	return map[string]any{"acknowledged": true}, nil
}

// matchTemplate is the highest-priority template whose pattern matches.
func (s *Server) matchTemplate(name string) *template {
	var best *template
	for _, t := range s.templates {
		for _, p := range t.patterns {
			if globMatch(p, name) && (best == nil || t.priority > best.priority) {
				best = t
			}
		}
	}
	return best
}

func (s *Server) createStream(name string) (any, *esError) {
	if _, ok := s.streams[name]; ok {
		return nil, &esError{Status: 400, Type: "resource_already_exists_exception", Reason: fmt.Sprintf("data_stream [%s] already exists", name)}
	}
	t := s.matchTemplate(name)
	if t == nil || !t.dataStream {
		return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("no matching index template found for data stream [%s]", name)}
	}
	s.newStream(name, t)
	return map[string]any{"acknowledged": true}, nil
}

func (s *Server) newStream(name string, t *template) *stream {
	backing := fmt.Sprintf(".ds-%s-%s-000001", name, time.Now().UTC().Format("2006.01.02"))
	s.indices[backing] = &index{name: backing, mapping: t.mapping.clone(), ids: map[string]bool{}}
	st := &stream{name: name, backing: backing}
	s.streams[name] = st
	s.applyISMTemplate(backing)
	return st
}

func (s *Server) getStream(name string) (any, *esError) {
	st, ok := s.streams[name]
	if !ok {
		return nil, notFound(name)
	}
	return map[string]any{"data_streams": []any{map[string]any{
		"name": st.name, "timestamp_field": map[string]any{"name": "@timestamp"},
		"indices": []any{map[string]any{"index_name": st.backing}}, "generation": 1, "status": "GREEN",
	}}}, nil
}

func notFound(name string) *esError {
	return &esError{Status: 404, Type: "index_not_found_exception", Reason: "no such index [" + name + "]",
		Extra: map[string]any{"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name}}
}

// resolve finds the indices of a name, a data stream or a pattern.
func (s *Server) resolve(name string) []*index {
	var out []*index
	for _, n := range strings.Split(name, ",") {
		if st, ok := s.streams[n]; ok {
			out = append(out, s.indices[st.backing])
			continue
		}
		if ix, ok := s.indices[n]; ok {
			out = append(out, ix)
			continue
		}
		if strings.Contains(n, "*") {
			for sn, st := range s.streams {
				if globMatch(n, sn) {
					out = append(out, s.indices[st.backing])
				}
			}
			for in, ix := range s.indices {
				if globMatch(n, in) && !strings.HasPrefix(in, ".ds-") {
					out = append(out, ix)
				}
			}
		}
	}
	return out
}

func (s *Server) targets(parts []string) []*index {
	if len(parts) == 2 {
		return s.resolve(parts[0])
	}
	var all []*index
	for _, ix := range s.indices {
		all = append(all, ix)
	}
	return all
}

// writeIndex returns the index a document for target goes to, creating
// the data stream or the index from its template as auto-create does.
func (s *Server) writeIndex(target string) (*index, bool, *esError) {
	if st, ok := s.streams[target]; ok {
		return s.indices[st.backing], true, nil
	}
	if ix, ok := s.indices[target]; ok {
		return ix, false, nil
	}
	t := s.matchTemplate(target)
	if t != nil && t.dataStream {
		st := s.newStream(target, t)
		return s.indices[st.backing], true, nil
	}
	m := &mapping{fields: map[string]field{}}
	if t != nil {
		m = t.mapping.clone()
	}
	ix := &index{name: target, mapping: m, ids: map[string]bool{}}
	s.indices[target] = ix
	return ix, false, nil
}

// bulk runs a _bulk request: NDJSON action and source lines, an answer
// item per action in order.
func (s *Server) bulk(r *http.Request, target string, body []byte) (any, *esError) {
	start := time.Now()
	lines := bytes.Split(body, []byte("\n"))
	if len(lines) > 0 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	} else {
		return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: "The bulk request must be terminated by a newline [\\n]"}
	}
	var items []any
	hasErrors := false
	for i := 0; i < len(lines); i++ {
		if len(bytes.TrimSpace(lines[i])) == 0 {
			continue
		}
		var action map[string]map[string]any
		if err := json.Unmarshal(lines[i], &action); err != nil || len(action) != 1 {
			return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]", i+1)}
		}
		var op string
		var meta map[string]any
		for op, meta = range action {
		}
		if op != "create" && op != "index" {
			return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]", i+1, op)}
		}
		if i+1 >= len(lines) {
			return nil, &esError{Status: 400, Type: "action_request_validation_exception", Reason: "Validation Failed: 1: no requests added;"}
		}
		i++
		item := s.bulkItem(op, meta, target, lines[i])
		if _, failed := item["error"]; failed {
			hasErrors = true
		}
		items = append(items, map[string]any{op: item})
	}
	if q := r.URL.Query().Get("refresh"); q == "true" || q == "wait_for" {
		for _, ix := range s.indices {
			ix.refreshed = len(ix.docs)
		}
	}
	return map[string]any{"errors": hasErrors, "took": time.Since(start).Milliseconds(), "items": items}, nil
}

func (s *Server) bulkItem(op string, meta map[string]any, target string, line []byte) map[string]any {
	name := str(meta["_index"])
	if name == "" {
		name = target
	}
	id := str(meta["_id"])
	if id == "" {
		id = fmt.Sprintf("auto%019d", s.seq)
	}
	fail := func(ix string, e *esError) map[string]any {
		return map[string]any{"_index": ix, "_id": id, "status": e.Status, "error": e.object()}
	}
	if name == "" {
		return fail("", &esError{Status: 400, Type: "action_request_validation_exception", Reason: "Validation Failed: 1: index is missing;"})
	}
	var src map[string]any
	if err := decode(line, &src); err != nil {
		return fail(name, s.parseError("failed to parse", err))
	}
	if s.itemFault != nil {
		if f := s.itemFault(id, src); f != nil {
			return fail(name, &esError{Status: f.Status, Type: f.Type, Reason: f.Reason})
		}
	}
	ix, isStream, err := s.writeIndex(name)
	if err != nil {
		return fail(name, err)
	}
	if isStream && op != "create" {
		return fail(ix.name, &esError{Status: 400, Type: "illegal_argument_exception", Reason: "only write ops with an op_type of create are allowed in data streams"})
	}
	if isStream {
		if _, ok := src["@timestamp"]; !ok {
			return fail(ix.name, s.parseError("data stream timestamp field [@timestamp] is missing", nil))
		}
	}
	if ix.ids[id] && op == "create" {
		return fail(ix.name, &esError{Status: 409, Type: "version_conflict_engine_exception",
			Reason: fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", id),
			Extra:  map[string]any{"index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": ix.name}})
	}
	m := ix.mapping.clone()
	fields, perr := s.parseDoc(m, id, src)
	if perr != nil {
		return fail(ix.name, perr)
	}
	ix.mapping = m
	s.seq++
	ix.docs = append(ix.docs, &doc{id: id, index: ix.name, seq: s.seq, source: append(json.RawMessage(nil), line...), fields: fields})
	ix.ids[id] = true
	s.created = append(s.created, id)
	return map[string]any{
		"_index": ix.name, "_id": id, "_version": 1, "result": "created",
		"_shards": map[string]any{"total": 2, "successful": 1, "failed": 0},
		"_seq_no": len(ix.docs) - 1, "_primary_term": 1, "status": 201,
	}
}

func decode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func asSlice(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	}
	return []any{v}
}

// globMatch matches an index pattern where * is any run of characters.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}

// waitRefresh makes documents older than the refresh interval searchable,
// as the periodic refresh does.
func (ix *index) waitRefresh(interval time.Duration) {
	if time.Since(ix.lastFlush) >= interval {
		ix.refreshed = len(ix.docs)
		ix.lastFlush = time.Now()
	}
}

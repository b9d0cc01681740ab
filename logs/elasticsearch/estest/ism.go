package estest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OpenSearch's Index State Management plugin, the part the log store
// uses: policies (GET, and PUT with if_seq_no/if_primary_term), _ism/add
// and _ism/change_policy, and ism_template matching when a backing index
// is created. Policies are documents of .opendistro-ism-config, so they
// share its _seq_no; answers have the plugin's shapes and error types.
// Elasticsearch, and OpenSearch with Options.NoISM, have no handler there.

const ismConfigIndex = ".opendistro-ism-config"

type ismPolicy struct {
	id          string
	version     int
	seqNo       int
	primaryTerm int
	policy      map[string]any // as stored, with what the plugin adds
	templates   []ismTemplate
}

type ismTemplate struct {
	patterns []string
	priority int
}

// ManagedIndex is an index ISM manages: the policy and the policy's
// _seq_no it was given (an index keeps that version until change_policy).
type ManagedIndex struct {
	PolicyID    string
	PolicySeqNo int
}

// ISMPolicy returns a stored policy as GET would, with its _seq_no and
// _primary_term.
func (s *Server) ISMPolicy(id string) (policy map[string]any, seqNo, primaryTerm int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.ismPolicies[id]
	if !ok {
		return nil, 0, 0, false
	}
	b, _ := json.Marshal(p.policy)
	json.Unmarshal(b, &policy)
	return policy, p.seqNo, p.primaryTerm, true
}

// ManagedIndices returns the indices ISM manages.
func (s *Server) ManagedIndices() map[string]ManagedIndex {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ManagedIndex{}
	for k, v := range s.ismManaged {
		out[k] = v
	}
	return out
}

// ISMRequests lists the requests to _plugins and _opendistro paths, as
// "METHOD /path?query", in order.
func (s *Server) ISMRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ismLog...)
}

// pluginRequest answers a _plugins or _opendistro path.
func (s *Server) pluginRequest(r *http.Request, parts []string, body []byte) (int, any) {
	s.ismLog = append(s.ismLog, r.Method+" "+r.URL.RequestURI())
	noHandler := map[string]any{"error": fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method)}
	if !s.opensearch || s.opts.NoISM || len(parts) != 4 || parts[0] != "_plugins" || parts[1] != "_ism" {
		return http.StatusBadRequest, noHandler
	}
	var out any
	var err *esError
	status := http.StatusOK
	switch {
	case parts[2] == "policies" && r.Method == http.MethodGet:
		out, err = s.getISMPolicy(parts[3])
	case parts[2] == "policies" && r.Method == http.MethodPut:
		status, out, err = s.putISMPolicy(parts[3], r.URL.Query(), body)
	case (parts[2] == "add" || parts[2] == "change_policy") && r.Method == http.MethodPost:
		out, err = s.attachISMPolicy(parts[2], parts[3], body)
	default:
		return http.StatusBadRequest, noHandler
	}
	if err != nil {
		return err.Status, err.body()
	}
	return status, out
}

func (s *Server) getISMPolicy(id string) (any, *esError) {
	p, ok := s.ismPolicies[id]
	if !ok {
		return nil, s.policyNotFound()
	}
	return map[string]any{"_id": p.id, "_version": p.version, "_seq_no": p.seqNo, "_primary_term": p.primaryTerm, "policy": p.policy}, nil
}

// policyNotFound: before the cluster's first policy, the config index
// itself is missing.
func (s *Server) policyNotFound() *esError {
	if !s.ismConfig {
		return notFound(ismConfigIndex)
	}
	return &esError{Status: http.StatusNotFound, Type: "status_exception", Reason: "Policy not found"}
}

func (s *Server) putISMPolicy(id string, q url.Values, body []byte) (int, any, *esError) {
	var req struct {
		Policy map[string]any `json:"policy"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Policy == nil {
		return 0, nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: "Invalid field: [policy] found in Policy."}
	}
	tmpls, perr := validatePolicy(req.Policy)
	if perr != nil {
		return 0, nil, perr
	}
	for _, t := range tmpls {
		if other := s.conflictingTemplate(id, t); other != "" {
			return 0, nil, &esError{Status: 400, Type: "index_management_exception",
				Reason:   fmt.Sprintf("New policy %s has an ISM template with index pattern %v matching existing policy templates, please use a different priority than %d", id, t.patterns, t.priority),
				CausedBy: &esError{Type: "exception", Reason: "java.lang.IllegalArgumentException: conflicts with policy " + other}}
		}
	}
	cur, exists := s.ismPolicies[id]
	seqParam, termParam := q.Get("if_seq_no"), q.Get("if_primary_term")
	conflict := func(reason string) *esError {
		return &esError{Status: http.StatusConflict, Type: "version_conflict_engine_exception", Reason: "[" + id + "]: version conflict, " + reason,
			Extra: map[string]any{"index_uuid": indexUUID(ismConfigIndex), "shard": "0", "index": ismConfigIndex}}
	}
	if seqParam == "" || termParam == "" {
		// Without both, the plugin creates: an existing policy conflicts.
		if exists {
			return 0, nil, conflict(fmt.Sprintf("document already exists (current version [%d])", cur.version))
		}
	} else {
		seq, err1 := strconv.Atoi(seqParam)
		term, err2 := strconv.Atoi(termParam)
		if err1 != nil || err2 != nil {
			return 0, nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf("Failed to parse [if_seq_no=%s] or [if_primary_term=%s]", seqParam, termParam)}
		}
		if !exists {
			return 0, nil, conflict(fmt.Sprintf("required seqNo [%d], primary term [%d] but no document was found", seq, term))
		}
		if seq != cur.seqNo || term != cur.primaryTerm {
			return 0, nil, conflict(fmt.Sprintf("required seqNo [%d], primary term [%d]. current document has seqNo [%d] and primary term [%d]", seq, term, cur.seqNo, cur.primaryTerm))
		}
	}
	now := time.Now().UnixMilli()
	stored := storedPolicy(id, req.Policy, now)
	p := &ismPolicy{id: id, version: 1, primaryTerm: 1, policy: stored, templates: tmpls}
	status := http.StatusCreated
	if exists {
		p.version = cur.version + 1
		status = http.StatusOK
	}
	s.ismConfig = true
	p.seqNo = s.ismSeq
	s.ismSeq++
	s.ismPolicies[id] = p
	return status, map[string]any{"_id": id, "_version": p.version, "_primary_term": p.primaryTerm, "_seq_no": p.seqNo,
		"policy": map[string]any{"policy": stored}}, nil
}

// validatePolicy checks what the plugin's parser checks of the parts the
// store writes, and returns the ism_templates.
func validatePolicy(p map[string]any) ([]ismTemplate, *esError) {
	bad := func(format string, a ...any) *esError {
		return &esError{Status: 400, Type: "illegal_argument_exception", Reason: fmt.Sprintf(format, a...)}
	}
	names := map[string]bool{}
	states := asSlice(p["states"])
	for _, st := range states {
		names[str(asMap(st)["name"])] = true
	}
	if len(states) == 0 {
		return nil, bad("Policy must contain at least one State")
	}
	if !names[str(p["default_state"])] {
		return nil, bad("Policy default_state %v is not a valid state", p["default_state"])
	}
	for _, st := range states {
		for _, a := range asSlice(asMap(st)["actions"]) {
			for k := range asMap(a) {
				switch k {
				case "rollover", "delete", "retry", "timeout", "read_only", "read_write", "replica_count", "force_merge", "close", "open", "index_priority", "snapshot", "notification", "allocation", "shrink", "rollup", "transform", "alias":
				default:
					return nil, bad("Invalid field: [%s] found in Action.", k)
				}
			}
			if ro := asMap(asMap(a)["rollover"]); ro != nil {
				if err := checkTimeValues(ro, "min_index_age"); err != nil {
					return nil, err
				}
			}
		}
		for _, tr := range asSlice(asMap(st)["transitions"]) {
			if !names[str(asMap(tr)["state_name"])] {
				return nil, bad("Policy contains a transition in state %v pointing to a nonexistent state %v", asMap(st)["name"], asMap(tr)["state_name"])
			}
			cond := asMap(asMap(tr)["conditions"])
			for k := range cond {
				switch k {
				case "min_index_age", "min_rollover_age", "min_doc_count", "min_size", "cron":
				default:
					return nil, bad("Invalid field: [%s] found in Conditions.", k)
				}
			}
			if len(cond) > 1 {
				return nil, bad("Cannot provide more than one Transition condition")
			}
			if err := checkTimeValues(cond, "min_index_age", "min_rollover_age"); err != nil {
				return nil, err
			}
		}
	}
	var tmpls []ismTemplate
	raw := asSlice(p["ism_template"]) // an object or a list
	for _, t := range raw {
		var tm ismTemplate
		for _, pat := range asSlice(asMap(t)["index_patterns"]) {
			tm.patterns = append(tm.patterns, str(pat))
		}
		if n, ok := asMap(t)["priority"].(float64); ok {
			tm.priority = int(n)
		}
		if len(tm.patterns) == 0 {
			return nil, bad("ISM template must have at least one index pattern")
		}
		tmpls = append(tmpls, tm)
	}
	return tmpls, nil
}

// checkTimeValues parses time values as OpenSearch's TimeValue does.
func checkTimeValues(m map[string]any, keys ...string) *esError {
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			continue
		}
		if _, ok := parseTimeValue(str(v)); !ok {
			return &esError{Status: 400, Type: "illegal_argument_exception",
				Reason: fmt.Sprintf("failed to parse setting [%s] with value [%v] as a time value: unit is missing or unrecognized", k, v)}
		}
	}
	return nil
}

func parseTimeValue(v string) (time.Duration, bool) {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			if f, err := strconv.ParseFloat(n, 64); err == nil && f >= 0 {
				return time.Duration(f * float64(u.d)), true
			}
		}
	}
	return 0, false
}

// storedPolicy is the policy as the plugin keeps and returns it: with its
// id, schema version and update time, a default retry on every action, and
// the ism_template as a list with its update time.
func storedPolicy(id string, in map[string]any, now int64) map[string]any {
	b, _ := json.Marshal(in)
	var p map[string]any
	json.Unmarshal(b, &p)
	delete(p, "policy_id")
	p["policy_id"] = id
	p["last_updated_time"] = now
	p["schema_version"] = 21
	if _, ok := p["error_notification"]; !ok {
		p["error_notification"] = nil
	}
	if _, ok := p["description"]; !ok {
		p["description"] = ""
	}
	for _, st := range asSlice(p["states"]) {
		for _, a := range asSlice(asMap(st)["actions"]) {
			a := asMap(a)
			if _, ok := a["retry"]; !ok {
				a["retry"] = map[string]any{"count": 3, "backoff": "exponential", "delay": "1m"}
			}
			if ro := asMap(a["rollover"]); ro != nil {
				if _, ok := ro["copy_alias"]; !ok {
					ro["copy_alias"] = false
				}
			}
		}
		if _, ok := asMap(st)["transitions"]; !ok {
			asMap(st)["transitions"] = []any{}
		}
	}
	if t, ok := p["ism_template"]; ok && t != nil {
		var list []any
		for _, t := range asSlice(t) {
			t := asMap(t)
			if _, ok := t["priority"]; !ok {
				t["priority"] = 0
			}
			t["last_updated_time"] = now
			list = append(list, t)
		}
		p["ism_template"] = list
	}
	return p
}

// conflictingTemplate is another policy with an overlapping index pattern
// at the same priority, which the plugin refuses.
func (s *Server) conflictingTemplate(id string, t ismTemplate) string {
	ids := make([]string, 0, len(s.ismPolicies))
	for pid := range s.ismPolicies {
		ids = append(ids, pid)
	}
	sort.Strings(ids)
	for _, pid := range ids {
		if pid == id {
			continue
		}
		for _, o := range s.ismPolicies[pid].templates {
			if o.priority != t.priority {
				continue
			}
			for _, a := range t.patterns {
				for _, b := range o.patterns {
					if a == b || globMatch(a, b) || globMatch(b, a) {
						return pid
					}
				}
			}
		}
	}
	return ""
}

// attachISMPolicy runs _ism/add or _ism/change_policy on an index
// expression (names and wildcards, hidden .ds- indices included when the
// pattern starts with a dot).
func (s *Server) attachISMPolicy(verb, expr string, body []byte) (any, *esError) {
	var req struct {
		PolicyID string `json:"policy_id"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.PolicyID == "" {
		return nil, &esError{Status: 400, Type: "illegal_argument_exception", Reason: "Missing policy_id"}
	}
	p, ok := s.ismPolicies[req.PolicyID]
	if !ok {
		return nil, &esError{Status: 404, Type: "status_exception", Reason: "Could not find policy=" + req.PolicyID}
	}
	var names []string
	for _, e := range strings.Split(expr, ",") {
		for name := range s.indices {
			if globMatch(e, name) && (!strings.HasPrefix(name, ".") || strings.HasPrefix(e, ".")) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	updated := 0
	failed := []any{}
	for _, name := range names {
		_, managed := s.ismManaged[name]
		fail := ""
		switch {
		case verb == "add" && managed:
			fail = "This index already has a policy, use the update policy API to update index policies"
		case verb == "change_policy" && !managed:
			fail = "This index is not being managed"
		}
		if fail != "" {
			failed = append(failed, map[string]any{"index_name": name, "index_uuid": indexUUID(name), "reason": fail})
			continue
		}
		s.ismManaged[name] = ManagedIndex{PolicyID: p.id, PolicySeqNo: p.seqNo}
		updated++
	}
	return map[string]any{"updated_indices": updated, "failures": len(failed) > 0, "failed_indices": failed}, nil
}

// applyISMTemplate manages a new index with the policy whose ism_template
// matches it at the highest priority, as the plugin's coordinator does.
func (s *Server) applyISMTemplate(index string) {
	if !s.opensearch || s.opts.NoISM {
		return
	}
	var best *ismPolicy
	prio := -1
	for _, p := range s.ismPolicies {
		for _, t := range p.templates {
			for _, pat := range t.patterns {
				if globMatch(pat, index) && t.priority > prio {
					best, prio = p, t.priority
				}
			}
		}
	}
	if best != nil {
		s.ismManaged[index] = ManagedIndex{PolicyID: best.id, PolicySeqNo: best.seqNo}
	}
}

// indexUUID is a stable made-up uuid of an index.
func indexUUID(name string) string {
	h := fnv.New128a()
	h.Write([]byte(name))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}

package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
)

// serveLogs answers GET /api/v1/logs?query=Q&since=1h[&until=RFC3339][&limit=N]
// with the matching records, newest first: what a catalogue log query would
// see, and the raw traps.
func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"status": "error", "error": msg})
	}
	if s.opts.Logs == nil {
		fail(http.StatusNotFound, "no log store in this component")
		return
	}
	var q query.Node
	if qs := r.URL.Query().Get("query"); qs != "" {
		var err error
		if q, err = query.Parse(qs); err != nil {
			fail(http.StatusBadRequest, "query: "+err.Error())
			return
		}
	}
	to := time.Now()
	if u := r.URL.Query().Get("until"); u != "" {
		t, err := time.Parse(time.RFC3339Nano, u)
		if err != nil {
			fail(http.StatusBadRequest, "until: want RFC 3339, got "+strconv.Quote(u))
			return
		}
		to = t
	}
	since := time.Hour
	if v := r.URL.Query().Get("since"); v != "" {
		d, err := model.ParseDuration(v)
		if err != nil {
			fail(http.StatusBadRequest, "since: "+err.Error())
			return
		}
		since = time.Duration(d)
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			fail(http.StatusBadRequest, "limit: want 1 to 10000")
			return
		}
		limit = n
	}
	recs, err := s.opts.Logs.Search(r.Context(), q, to.Add(-since), to, limit)
	if err != nil {
		fail(http.StatusInternalServerError, err.Error())
		return
	}
	if recs == nil {
		recs = []logs.Record{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": recs})
}

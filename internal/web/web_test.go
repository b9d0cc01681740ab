package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kusanagi-dev/kusanagi/rules"
)

func TestEndpoints(t *testing.T) {
	reloadErr := errors.New("catalogue.yml:3:15: alert \"X\": unknown severity")
	s, err := New(Options{
		ListenAddress: "[::1]:0",
		Gatherer:      prometheus.NewRegistry(),
		Reload:        func() error { return reloadErr },
		Catalogue:     func() *rules.Catalogue { return &rules.Catalogue{Files: []string{"c.yml"}} },
	})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string) (int, string) {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := do("GET", "/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready before ready: %d", code)
	}
	s.SetReady(true)
	if code, _ := do("GET", "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready: %d", code)
	}
	if code, _ := do("GET", "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d", code)
	}
	if code, body := do("POST", "/-/reload"); code != http.StatusInternalServerError || !strings.Contains(body, "unknown severity") {
		t.Errorf("POST /-/reload with a bad catalogue: %d %q", code, body)
	}
	reloadErr = nil
	if code, _ := do("PUT", "/-/reload"); code != http.StatusOK {
		t.Errorf("PUT /-/reload: %d", code)
	}
	if code, body := do("GET", "/api/v1/catalogue"); code != 200 || !strings.Contains(body, `"files": [`) {
		t.Errorf("/api/v1/catalogue: %d %s", code, body)
	}
	if code, _ := do("GET", "/nothing"); code != http.StatusNotFound {
		t.Errorf("/nothing: %d", code)
	}
}

func TestNewRejectsBadAddress(t *testing.T) {
	if _, err := New(Options{ListenAddress: "::1:9180"}); err == nil {
		t.Fatal("want an error for an unbracketed IPv6 address")
	}
}

package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/jpillora/backoff"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	commoncfg "github.com/prometheus/common/config"
)

// Flavors of server.
const (
	FlavorElasticsearch = "elasticsearch"
	FlavorOpenSearch    = "opensearch"
)

// retryStatus are the answers worth repeating a whole request for.
var retryStatus = []int{http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

type opKey struct{}

// withOp names the request for the duration metric.
func withOp(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// newTransport builds the client of the configured flavor.
//
// go-elasticsearch's Client refuses every server whose answers lack
// "X-Elastic-Product: Elasticsearch", which OpenSearch never sends. The
// check lives only in elasticsearch.BaseClient.Perform; the transport
// underneath (elastictransport: connection pool, retries) and the esapi
// request types do not depend on it. So Elasticsearch is spoken to through
// elasticsearch.Client, product check included, and OpenSearch through an
// elastictransport.Client under the same esapi, without the Elasticsearch
// compatibility media type, which OpenSearch does not accept. Authentication
// and TLS are done by the HTTP round tripper below both (Prometheus's
// HTTPClientConfig), so credential files are re-read when Kubernetes
// rotates them.
func newTransport(o *Options, m *metrics) (esapi.Transport, *elastictransport.Client, error) {
	rt, err := commoncfg.NewRoundTripperFromConfig(o.HTTP, "elasticsearch")
	if err != nil {
		return nil, nil, fmt.Errorf("cannot configure the Elasticsearch client: %w", err)
	}
	rt = promhttp.InstrumentRoundTripperDuration(m.duration, rt, promhttp.WithLabelFromCtx("operation", func(ctx context.Context) string {
		if op, ok := ctx.Value(opKey{}).(string); ok {
			return op
		}
		return "other"
	}))
	urls := make([]*url.URL, len(o.URLs))
	for i, s := range o.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, nil, fmt.Errorf("elasticsearch URL %q must be http(s)://host:port", s)
		}
		urls[i] = u
	}
	b := &backoff.Backoff{Min: o.RetryBackoffMin, Max: o.RetryBackoffMax, Factor: 2, Jitter: true}
	retryBackoff := func(attempt int) time.Duration {
		m.retries.WithLabelValues("request").Inc()
		return b.ForAttempt(float64(attempt - 1))
	}
	raw, err := elastictransport.NewClient(
		elastictransport.WithURLs(urls...), elastictransport.WithTransport(rt), elastictransport.WithRetryOnStatus(retryStatus...),
		elastictransport.WithMaxRetries(o.MaxRetries), elastictransport.WithRetryBackoff(retryBackoff),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create the Elasticsearch client: %w", err)
	}
	if o.Flavor == FlavorOpenSearch {
		return raw, raw, nil
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: o.URLs, Transport: rt, RetryOnStatus: retryStatus, MaxRetries: o.MaxRetries, RetryBackoff: retryBackoff,
		// Elasticsearch 9 answers v8 clients that ask for the 8 format.
		EnableCompatibilityMode: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create the Elasticsearch client: %w", err)
	}
	return es, raw, nil
}

// serverInfo is the answer of GET /.
type serverInfo struct {
	Product string // the X-Elastic-Product header
	Version struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
}

func (i serverInfo) major() int {
	n, _ := strconv.Atoi(strings.SplitN(i.Version.Number, ".", 2)[0])
	return n
}

func (i serverInfo) String() string {
	if i.Version.Distribution == "opensearch" {
		return "OpenSearch " + i.Version.Number
	}
	return "Elasticsearch " + i.Version.Number
}

// probe asks the server what it is, without the product check, so that a
// wrong flavor gets an error that says what to configure.
func probe(ctx context.Context, raw *elastictransport.Client) (serverInfo, error) {
	var info serverInfo
	req, err := http.NewRequestWithContext(withOp(ctx, "info"), http.MethodGet, "/", nil)
	if err != nil {
		return info, err
	}
	res, body, err := perform(raw, req)
	if res == nil {
		return info, &retryableError{err: fmt.Errorf("cannot reach Elasticsearch: %w", err)}
	}
	if err != nil {
		return info, &retryableError{err: fmt.Errorf("cannot read the answer of GET /: %w", err)}
	}
	if res.StatusCode != http.StatusOK {
		return info, statusError("GET /", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, fmt.Errorf("GET / answered what is not Elasticsearch: %w", err)
	}
	info.Product = res.Header.Get("X-Elastic-Product")
	return info, nil
}

// perform sends req, one esapi has no request type for, through t and
// reads up to 1 MiB of the answer. The response is nil when the request
// got no answer; the error is then the transport's, else the reading's.
func perform(t esapi.Transport, req *http.Request) (*http.Response, []byte, error) {
	res, err := t.Perform(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, body, err
}

// checkFlavor refuses a server of another kind than configured, or too old.
func checkFlavor(flavor string, info serverInfo) error {
	switch flavor {
	case FlavorOpenSearch:
		if info.Version.Distribution != "opensearch" {
			return fmt.Errorf("flavor is opensearch but the server is %s; set flavor: elasticsearch", info)
		}
		if info.major() < 2 {
			return fmt.Errorf("%s is not supported: OpenSearch 2 or later is", info)
		}
	default:
		if info.Version.Distribution == "opensearch" {
			return fmt.Errorf("the server is %s; set flavor: opensearch", info)
		}
		if info.Product != "Elasticsearch" {
			return fmt.Errorf("the server does not answer as Elasticsearch does (no X-Elastic-Product header); refusing it")
		}
		if info.major() < 8 {
			return fmt.Errorf("%s is not supported: Elasticsearch 8 or later is", info)
		}
	}
	return nil
}

// retryableError is a failure that may go away: the server is down, busy
// or failing.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

// esError is the error object of an Elasticsearch answer.
type esError struct {
	Error struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

// statusError describes a refused request: the status and the server's
// error type and reason. 429, 5xx and 408 are retryable; other refusals
// (401 and 403 included: credentials or privileges) are not.
func statusError(what string, status int, body []byte) error {
	var e esError
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error.Type != "" {
		msg = e.Error.Type + ": " + e.Error.Reason
		if e.Error.CausedBy != nil {
			msg += " (caused by " + e.Error.CausedBy.Type + ": " + e.Error.CausedBy.Reason + ")"
		}
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	err := fmt.Errorf("%s: %d %s: %s", what, status, http.StatusText(status), msg)
	if retryableStatus(status) {
		return &retryableError{err: err}
	}
	return err
}

func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout
}

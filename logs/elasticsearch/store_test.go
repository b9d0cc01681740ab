package elasticsearch

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/elasticsearch/estest"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness runs a Store against a server for one test.
type harness struct {
	t     *testing.T
	store *Store
	reg   *prometheus.Registry
	stop  func()
}

// start opens a store on o (the spool in a temporary directory unless
// set), runs it, and waits until it is ready when wait is set.
func start(t *testing.T, o Options, wait bool) *harness {
	t.Helper()
	if o.SpoolDir == "" {
		o.SpoolDir = t.TempDir()
	}
	if o.Refresh == "" {
		o.Refresh = "wait_for"
	}
	if o.RetryBackoffMin == 0 {
		o.RetryBackoffMin, o.RetryBackoffMax = 5*time.Millisecond, 50*time.Millisecond
	}
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	h := &harness{t: t, store: s, reg: reg}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(h.stop)
	if wait {
		select {
		case <-s.Ready():
		case err := <-done:
			t.Fatalf("Run ended before the store was ready: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("store not ready after 10s")
		}
	}
	return h
}

// TestStoreContract runs the contract every log store passes on the
// wire-level Elasticsearch 8 server.
func TestStoreContract(t *testing.T) {
	srv := estest.New(t, estest.Options{})
	storetest.Run(t, func(t *testing.T) logs.Store {
		return start(t, Options{URLs: []string{srv.URL()}, DataStream: "logs-kusanagi-contract"}, true).store
	})
}

// TestStoreContractOpenSearch runs it on OpenSearch-shaped answers.
func TestStoreContractOpenSearch(t *testing.T) {
	srv := estest.New(t, estest.Options{OpenSearch: true})
	storetest.Run(t, func(t *testing.T) logs.Store {
		return start(t, Options{URLs: []string{srv.URL()}, Flavor: FlavorOpenSearch}, true).store
	})
}

// TestStoreContractRealCluster runs the contract on a real cluster.
func TestStoreContractRealCluster(t *testing.T) {
	url := os.Getenv("KUSANAGI_TEST_ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("KUSANAGI_TEST_ELASTICSEARCH_URL is not set: no Elasticsearch or OpenSearch to run the contract against (none can run on this machine)")
	}
	// Credentials go in the URL (https://user:password@host:9200).
	o := Options{URLs: []string{url}, Flavor: os.Getenv("KUSANAGI_TEST_ELASTICSEARCH_FLAVOR")}
	o.HTTP.TLSConfig.CAFile = os.Getenv("KUSANAGI_TEST_ELASTICSEARCH_CA_FILE")
	storetest.Run(t, func(t *testing.T) logs.Store {
		// A data stream of its own per run, deleted after: the contract
		// counts records.
		o.DataStream = "logs-kusanagi-test" + time.Now().UTC().Format("20060102t150405.000000000")
		h := start(t, o, true)
		t.Cleanup(func() {
			ctx := context.Background()
			for _, req := range []esapi.Request{
				esapi.IndicesDeleteDataStreamRequest{Name: []string{o.DataStream}},
				esapi.IndicesDeleteIndexTemplateRequest{Name: o.DataStream},
			} {
				res, err := req.Do(ctx, h.store.api)
				if err := checkResponse("cannot clean up", res, err); err != nil {
					t.Log(err)
				}
			}
		})
		return h.store
	})
}

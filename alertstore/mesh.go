package alertstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MeshState is the replication contract of Alertmanager's silences and
// notification log: they hand every local change to a broadcast function
// and take changes from elsewhere through Merge.
type MeshState interface {
	Merge(b []byte) error
	SetBroadcast(func([]byte))
}

// MeshEntry is one entry of a MeshState's broadcast, ready to store.
type MeshEntry struct {
	// Key identifies the entry under the mesh prefix.
	Key string
	// Updated orders versions of the same entry: a stored version is only
	// replaced by a newer one, so etcd never goes back in time when two
	// replicas write concurrently.
	Updated time.Time
	// Expires is when the entry may be deleted.
	Expires time.Time
	// Data is the entry alone, in the form Merge takes.
	Data []byte
}

// MeshOptions configure a Mesh.
type MeshOptions struct {
	Client *clientv3.Client
	// Prefix is where entries live, ending in /.
	Prefix string
	// Name names the state in logs and metrics ("silences", "nflog").
	Name  string
	State MeshState
	// Split turns broadcast bytes into entries.
	Split func(b []byte) ([]MeshEntry, error)
	// WriteTimeout bounds one write; default 5s.
	WriteTimeout time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Mesh replicates a MeshState through etcd instead of gossip: local changes
// are written (only over older versions), every replica watches the prefix
// and merges what it sees, and a new replica loads everything before it
// serves. Writes that fail while etcd is unreachable are kept and retried.
type Mesh struct {
	opts   MeshOptions
	logger *slog.Logger
	leases *leaseBuckets

	mu       sync.Mutex
	merging  map[string]int       // broadcast bytes that are our own Merge echoing
	pending  map[string]MeshEntry // writes to retry, by key
	revision int64
	loaded   chan struct{}
	retry    chan struct{}

	writes, writeErrors, merges prometheus.Counter
	pendingGauge                prometheus.Gauge
}

// NewMesh connects o.State to etcd; call Load or Run before serving.
func NewMesh(o MeshOptions) (*Mesh, error) {
	if o.Client == nil || o.State == nil || o.Split == nil || o.Name == "" {
		return nil, errors.New("mesh: Client, State, Split and Name are required")
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		return nil, fmt.Errorf("mesh: prefix %q must end with /", o.Prefix)
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	f := promauto.With(prometheus.WrapRegistererWith(prometheus.Labels{"state": o.Name}, o.Registerer))
	m := &Mesh{
		opts:    o,
		logger:  o.Logger.With("component", "alertstore", "state", o.Name),
		leases:  newLeaseBuckets(o.Client, time.Hour),
		merging: make(map[string]int),
		pending: make(map[string]MeshEntry),
		loaded:  make(chan struct{}),
		retry:   make(chan struct{}, 1),
		writes: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_mesh_writes_total", Help: "Silence or notification log entries written to etcd.",
		}),
		writeErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_mesh_write_errors_total", Help: "Failed writes of silence or notification log entries (kept and retried).",
		}),
		merges: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_mesh_merges_total", Help: "Entries read from etcd and merged into local state.",
		}),
		pendingGauge: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_alertstore_mesh_pending_writes", Help: "Entries waiting for etcd to take them.",
		}),
	}
	o.State.SetBroadcast(m.broadcast)
	return m, nil
}

// Loaded is closed once the state has been read from etcd.
func (m *Mesh) Loaded() <-chan struct{} { return m.loaded }

func (m *Mesh) merge(b []byte) {
	key := string(b)
	m.mu.Lock()
	m.merging[key]++
	m.mu.Unlock()
	if err := m.opts.State.Merge(b); err != nil {
		m.logger.Error("cannot merge entry from etcd", "err", err)
	} else {
		m.merges.Inc()
	}
	m.mu.Lock()
	if m.merging[key]--; m.merging[key] == 0 {
		delete(m.merging, key)
	}
	m.mu.Unlock()
}

// broadcast is the state's broadcast function.
func (m *Mesh) broadcast(b []byte) {
	m.mu.Lock()
	echo := m.merging[string(b)] > 0
	m.mu.Unlock()
	if echo {
		return // Merge relaying what it just took from etcd
	}
	entries, err := m.opts.Split(b)
	if err != nil {
		m.logger.Error("cannot split broadcast", "err", err)
		return
	}
	for _, e := range entries {
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.WriteTimeout)
		err := m.write(ctx, e)
		cancel()
		if err != nil {
			m.writeErrors.Inc()
			m.logger.Warn("cannot write to etcd, will retry", "key", e.Key, "err", err)
			m.mu.Lock()
			if old, ok := m.pending[e.Key]; !ok || !old.Updated.After(e.Updated) {
				m.pending[e.Key] = e
			}
			m.pendingGauge.Set(float64(len(m.pending)))
			m.mu.Unlock()
			select {
			case m.retry <- struct{}{}:
			default:
			}
		}
	}
}

// write stores e unless etcd already holds a version at least as new.
func (m *Mesh) write(ctx context.Context, e MeshEntry) error {
	if time.Now().After(e.Expires) {
		return nil
	}
	key := m.opts.Prefix + e.Key
	for attempt := 0; attempt < maxCASAttempts; attempt++ {
		get, err := m.opts.Client.Get(ctx, key)
		if err != nil {
			return err
		}
		var modRev int64
		if len(get.Kvs) > 0 {
			stored, err := m.opts.Split(get.Kvs[0].Value)
			if err == nil && len(stored) == 1 && !stored[0].Updated.Before(e.Updated) {
				return nil // etcd has this version or a newer one
			}
			modRev = get.Kvs[0].ModRevision
		}
		lease, err := m.leases.lease(ctx, e.Expires)
		if err != nil {
			return err
		}
		resp, err := m.opts.Client.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(clientv3.OpPut(key, string(e.Data), clientv3.WithLease(lease))).
			Commit()
		if isLeaseNotFound(err) {
			m.leases.forget(lease)
			continue
		}
		if err != nil {
			return err
		}
		if resp.Succeeded {
			m.writes.Inc()
			return nil
		}
	}
	return fmt.Errorf("cannot write %s: still conflicting after %d attempts", key, maxCASAttempts)
}

// Load merges every entry in etcd into the state.
func (m *Mesh) Load(ctx context.Context) error {
	resp, err := m.opts.Client.Get(ctx, m.opts.Prefix, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("cannot load %s from etcd: %w", m.opts.Name, err)
	}
	for _, kv := range resp.Kvs {
		m.merge(kv.Value)
	}
	m.mu.Lock()
	m.revision = resp.Header.Revision
	m.mu.Unlock()
	select {
	case <-m.loaded:
	default:
		close(m.loaded)
	}
	return nil
}

// Run loads the state if needed, then merges changes from etcd and retries
// failed writes until ctx ends.
func (m *Mesh) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { m.retryLoop(ctx) })
	for ctx.Err() == nil {
		select {
		case <-m.loaded:
		default:
			if err := m.Load(ctx); err != nil {
				m.logger.Error("cannot load, retrying", "err", err)
				sleep(ctx, time.Second)
				continue
			}
		}
		m.watch(ctx)
		if ctx.Err() != nil {
			break
		}
		// The watch broke or fell behind a compaction: load everything
		// again (Merge ignores what it already has), then watch anew.
		if err := m.Load(ctx); err != nil {
			m.logger.Error("cannot reload after the watch broke", "err", err)
			sleep(ctx, time.Second)
		}
	}
	return nil
}

func (m *Mesh) watch(ctx context.Context) {
	m.mu.Lock()
	rev := m.revision
	m.mu.Unlock()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range m.opts.Client.Watch(wctx, m.opts.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithFilterDelete()) {
		if err := resp.Err(); err != nil {
			m.logger.Warn("watch ended, reloading", "err", err)
			return
		}
		for _, ev := range resp.Events {
			m.merge(ev.Kv.Value)
		}
		m.mu.Lock()
		m.revision = resp.Header.Revision
		m.mu.Unlock()
	}
}

func (m *Mesh) retryLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.retry:
		case <-t.C:
		}
		m.mu.Lock()
		queued := make([]MeshEntry, 0, len(m.pending))
		for _, e := range m.pending {
			queued = append(queued, e)
		}
		m.mu.Unlock()
		for _, e := range queued {
			wctx, cancel := context.WithTimeout(ctx, m.opts.WriteTimeout)
			err := m.write(wctx, e)
			cancel()
			if err != nil {
				break // etcd still unreachable; try again later
			}
			m.mu.Lock()
			if cur, ok := m.pending[e.Key]; ok && !cur.Updated.After(e.Updated) {
				delete(m.pending, e.Key)
			}
			m.pendingGauge.Set(float64(len(m.pending)))
			m.mu.Unlock()
		}
	}
}

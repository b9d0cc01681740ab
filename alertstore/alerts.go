// Package alertstore keeps Alertmanager's state in etcd: alerts (an
// implementation of Alertmanager's provider.Alerts), silences and the
// notification log (through their SetBroadcast/Merge contract), and the
// claims that make each notification go out once across replicas.
//
// etcd is the source of truth and memory is a cache: every replica writes
// through to etcd with compare-and-swap on the key's revision, watches the
// prefix from the revision it loaded, and serves reads from memory.
package alertstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/kusanagi-dev/kusanagi/internal/ctxutil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// AlertsOptions configure Alerts.
type AlertsOptions struct {
	Client *clientv3.Client
	// KV is the KV API that alerts are written through; default: Client's
	// connection. An in-process client (v3client) has none: pass the
	// member's Embedded.KV.
	KV pb.KVClient
	// Prefix is the key prefix of this Alertmanager cluster's state
	// ("/kusanagi/alertmanager/"); alerts live under Prefix+"alerts/".
	Prefix string
	// Callback is told about stored and deleted alerts, as with
	// Alertmanager's memory provider (the silencer drops its cache entries).
	Callback mem.AlertStoreCallback
	// GCInterval is how often resolved alerts are deleted. Default 30m,
	// Alertmanager's --alerts.gc-interval.
	GCInterval time.Duration
	// WriteTimeout bounds one write to etcd; a Put that cannot store its
	// alerts within it fails, and the API answers 500. Default 5s.
	WriteTimeout time.Duration
	// MaxTxnOps bounds the operations of one etcd transaction; etcd's
	// --max-txn-ops defaults to 128. Default 100.
	MaxTxnOps  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (o *AlertsOptions) validate() error {
	if o.Client == nil {
		return errors.New("alertstore: Client is required")
	}
	if o.KV == nil {
		o.KV = defaultKV(o.Client)
	}
	if o.KV == nil {
		return errors.New("alertstore: KV is required with an in-process client")
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		return fmt.Errorf("alertstore: prefix %q must end with /", o.Prefix)
	}
	if o.Callback == nil {
		o.Callback = noopCallback{}
	}
	if o.GCInterval <= 0 {
		o.GCInterval = 30 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.MaxTxnOps <= 0 {
		o.MaxTxnOps = 100
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return nil
}

// Alerts is provider.Alerts backed by etcd.
type Alerts struct {
	opts   AlertsOptions
	prefix string
	logger *slog.Logger

	mtx       sync.Mutex
	cache     map[model.Fingerprint]*entry
	listeners map[int]listener
	next      int
	revision  int64 // the etcd revision the cache reflects
	// inflight are this replica's writes not yet acknowledged, so that the
	// watch recognises them coming back and does not decode a second copy.
	inflight map[model.Fingerprint]write

	loaded chan struct{}

	metrics *alertsMetrics
}

// entry is one alert: what this replica knows (current, possibly with a
// later endsAt not yet written) and what etcd holds (stored, at modRev).
type entry struct {
	current *alert.Alert
	stored  *alert.Alert
	modRev  int64
}

type listener struct {
	name   string
	alerts chan *provider.Alert
	done   chan struct{}
	// keep, when set, is which alerts the listener wants.
	keep func(*alert.Alert) bool
}

const alertChannelLength = 200

// NewAlerts returns a store that is empty until Run has loaded it; callers
// wait on Loaded before starting a dispatcher.
func NewAlerts(o AlertsOptions) (*Alerts, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &Alerts{
		opts:      o,
		prefix:    o.Prefix + "alerts/",
		logger:    o.Logger.With("component", "alertstore"),
		cache:     make(map[model.Fingerprint]*entry),
		listeners: make(map[int]listener),
		inflight:  make(map[model.Fingerprint]write),
		loaded:    make(chan struct{}),
		metrics:   newAlertsMetrics(o.Registerer),
	}, nil
}

// Loaded is closed once the whole state has been read from etcd.
func (a *Alerts) Loaded() <-chan struct{} { return a.loaded }

func (a *Alerts) key(fp model.Fingerprint) string { return string(appendKey(nil, a.prefix, fp)) }

// Load reads every alert from etcd into memory. Run calls it; tests and
// startup code may call it first to have the state before anything else.
func (a *Alerts) Load(ctx context.Context) error {
	parts, rev, err := a.readAll(ctx)
	if err != nil {
		return err
	}
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	a.mtx.Lock()
	defer a.mtx.Unlock()
	var seen map[model.Fingerprint]bool
	if len(a.cache) == 0 {
		a.cache = make(map[model.Fingerprint]*entry, total)
	} else {
		seen = make(map[model.Fingerprint]bool, total)
	}
	for _, p := range parts {
		for _, d := range p {
			if seen != nil {
				seen[d.fp] = true
			}
			a.applyRemoteLocked(d.alert, d.fp, d.modRev)
		}
	}
	if seen != nil {
		// Alerts deleted while we were not watching (after a compaction).
		for fp, e := range a.cache {
			if !seen[fp] && e.modRev != 0 {
				a.deleteLocked(fp)
			}
		}
	}
	a.revision = rev
	a.metrics.alerts.Set(float64(len(a.cache)))
	select {
	case <-a.loaded:
	default:
		close(a.loaded)
	}
	return nil
}

// readAll reads and decodes every alert at one revision. The prefix is
// read in sixteen ranges, by the first hex digit of the fingerprint, on
// every core at once: at 100k alerts, etcd's reads and decoding are most of
// what stands between a restarted replica and serving.
func (a *Alerts) readAll(ctx context.Context) ([][]decoded, int64, error) {
	bounds := make([]string, 0, 17)
	bounds = append(bounds, a.prefix)
	for _, digit := range "123456789abcdef" {
		bounds = append(bounds, a.prefix+string(digit))
	}
	bounds = append(bounds, clientv3.GetPrefixRangeEnd(a.prefix))
	read := func(i int, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
		resp, err := a.opts.Client.Get(ctx, bounds[i], append(opts, clientv3.WithRange(bounds[i+1]))...)
		if err != nil {
			return nil, fmt.Errorf("cannot load alerts from etcd: %w", err)
		}
		return resp, nil
	}
	// The first range fixes the revision the others are read at.
	first, err := read(0)
	if err != nil {
		return nil, 0, err
	}
	rev := first.Header.Revision
	parts := make([][]decoded, len(bounds)-1)
	parts[0] = a.decodeKVs(first.Kvs)
	errs := make([]error, len(parts))
	var next atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(parts); i = int(next.Add(1) - 1) {
				resp, err := read(i, clientv3.WithRev(rev))
				if err != nil {
					errs[i] = err
					return
				}
				parts[i] = a.decodeKVs(resp.Kvs)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	return parts, rev, nil
}

// decodeKVs decodes the alerts of kvs, skipping (and logging) those that
// do not decode.
func (a *Alerts) decodeKVs(kvs []*mvccpb.KeyValue) []decoded {
	out := make([]decoded, 0, len(kvs))
	for _, kv := range kvs {
		al, err := decodeAlert(kv.Value)
		if err != nil {
			a.logger.Error("skipping undecodable alert", "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, decoded{alert: al, fp: al.Fingerprint(), modRev: kv.ModRevision})
	}
	return out
}

// decoded is an alert read from etcd at modRev, with its fingerprint,
// which sorts and hashes its labels: computed by the decoding workers.
type decoded struct {
	alert  *alert.Alert
	fp     model.Fingerprint
	modRev int64
}

// Run loads the state if that has not happened, then follows changes until
// ctx ends. A watch that breaks or falls behind a compaction is replaced by
// a full reload, so no change is silently missed.
func (a *Alerts) Run(ctx context.Context) error {
	select {
	case <-a.loaded:
	default:
		for {
			if err := a.Load(ctx); err != nil {
				a.logger.Error("cannot load alerts, retrying", "err", err)
				if !sleep(ctx, time.Second) {
					return nil
				}
				continue
			}
			break
		}
	}
	var gc sync.WaitGroup
	defer gc.Wait()
	gc.Go(func() { a.gcLoop(ctx) })
	for ctx.Err() == nil {
		a.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		a.metrics.reloads.Inc()
		for ctx.Err() == nil {
			if err := a.Load(ctx); err != nil {
				a.logger.Error("cannot reload alerts after the watch broke, retrying", "err", err)
				sleep(ctx, time.Second)
				continue
			}
			break
		}
	}
	return nil
}

var sleep = ctxutil.Sleep

// watch follows the prefix from the loaded revision until the watch ends.
func (a *Alerts) watch(ctx context.Context) {
	a.mtx.Lock()
	rev := a.revision
	a.mtx.Unlock()
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range a.opts.Client.Watch(wctx, a.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			a.logger.Warn("alert watch ended, reloading", "err", err, "compact_revision", resp.CompactRevision)
			return
		}
		a.mtx.Lock()
		for _, ev := range resp.Events {
			switch ev.Type {
			case clientv3.EventTypePut:
				if fp, err := model.ParseFingerprint(strings.TrimPrefix(string(ev.Kv.Key), a.prefix)); err == nil {
					if e, ok := a.cache[fp]; ok && e.modRev >= ev.Kv.ModRevision {
						continue // our own write coming back: nothing to decode
					}
					if w, ok := a.inflight[fp]; ok && bytes.Equal(w.value, ev.Kv.Value) {
						// Our write, seen before its transaction returned.
						a.storedLocked(fp, w.merged, ev.Kv.ModRevision)
						continue
					}
				}
				al, err := decodeAlert(ev.Kv.Value)
				if err != nil {
					a.logger.Error("skipping undecodable alert", "key", string(ev.Kv.Key), "err", err)
					continue
				}
				a.applyRemoteLocked(al, al.Fingerprint(), ev.Kv.ModRevision)
			case clientv3.EventTypeDelete:
				fp, err := model.ParseFingerprint(strings.TrimPrefix(string(ev.Kv.Key), a.prefix))
				if err == nil {
					a.deleteLocked(fp)
				}
			}
		}
		a.revision = resp.Header.Revision
		a.metrics.alerts.Set(float64(len(a.cache)))
		a.mtx.Unlock()
	}
}

// applyRemoteLocked takes an alert read from etcd at modRev.
func (a *Alerts) applyRemoteLocked(al *alert.Alert, fp model.Fingerprint, modRev int64) {
	e, ok := a.cache[fp]
	if ok && e.modRev >= modRev {
		return // our own write coming back, or older news
	}
	cur := al
	if ok && e.current != nil {
		cur = e.current.Merge(al)
	}
	if !ok {
		e = &entry{}
		a.cache[fp] = e
	}
	e.stored, e.modRev = al, modRev
	changed := e.current == nil || !sameAlert(e.current, cur)
	e.current = cur
	if changed {
		a.opts.Callback.PostStore(cur, ok)
		a.notifyLocked(context.Background(), cur)
	}
}

func sameAlert(x, y *alert.Alert) bool {
	return x.StartsAt.Equal(y.StartsAt) && x.EndsAt.Equal(y.EndsAt) && x.Timeout == y.Timeout &&
		x.GeneratorURL == y.GeneratorURL && x.Annotations.Equal(y.Annotations)
}

func (a *Alerts) deleteLocked(fp model.Fingerprint) {
	e, ok := a.cache[fp]
	if !ok {
		return
	}
	delete(a.cache, fp)
	a.opts.Callback.PostDelete(e.current)
	a.opts.Callback.PostGC(model.Fingerprints{fp})
}

func (a *Alerts) notifyLocked(ctx context.Context, al *alert.Alert) {
	if len(a.listeners) == 0 {
		return // loading, before the dispatcher subscribes
	}
	// No Header: no trace context travels with a stored alert, and a nil
	// one spares upstream's inhibitor a propagator extraction per alert.
	msg := &provider.Alert{Data: al}
	for _, l := range a.listeners {
		if l.keep != nil && !l.keep(al) {
			continue
		}
		select {
		case l.alerts <- msg:
		case <-l.done:
		case <-ctx.Done():
			return
		}
	}
}

// Subscribe returns an iterator over every alert now in the store and every
// alert stored later.
func (a *Alerts) Subscribe(name string) provider.AlertIterator {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	a.gcListenersLocked()
	done := make(chan struct{})
	ch := make(chan *provider.Alert, max(len(a.cache), alertChannelLength))
	for _, e := range a.cache {
		ch <- &provider.Alert{Data: e.current}
	}
	a.listeners[a.next] = listener{name: name, alerts: ch, done: done}
	a.next++
	return provider.NewAlertIterator(ch, done, nil)
}

// SlurpAndSubscribe returns the alerts now in the store and an iterator
// over those stored later.
func (a *Alerts) SlurpAndSubscribe(name string) ([]*alert.Alert, provider.AlertIterator) {
	return a.SlurpAndSubscribeMatching(name, nil)
}

// SlurpAndSubscribeMatching is SlurpAndSubscribe for a subscriber that
// needs only the alerts keep accepts (all when keep is nil): the others
// cost it nothing, not even a wake-up. keep must depend only on an alert's
// labels, which identify it.
func (a *Alerts) SlurpAndSubscribeMatching(name string, keep func(*alert.Alert) bool) ([]*alert.Alert, provider.AlertIterator) {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	a.gcListenersLocked()
	alerts := a.listLocked()
	if keep != nil {
		alerts = slices.DeleteFunc(alerts, func(al *alert.Alert) bool { return !keep(al) })
	}
	done := make(chan struct{})
	ch := make(chan *provider.Alert, alertChannelLength)
	a.listeners[a.next] = listener{name: name, alerts: ch, done: done, keep: keep}
	a.next++
	return alerts, provider.NewAlertIterator(ch, done, nil)
}

func (a *Alerts) listLocked() []*alert.Alert {
	out := make([]*alert.Alert, 0, len(a.cache))
	for _, e := range a.cache {
		out = append(out, e.current)
	}
	return out
}

func (a *Alerts) gcListenersLocked() {
	for i, l := range a.listeners {
		select {
		case <-l.done:
			delete(a.listeners, i)
			close(l.alerts)
		default:
		}
	}
}

// GetPending returns an iterator over every alert in the store.
func (a *Alerts) GetPending() provider.AlertIterator {
	a.mtx.Lock()
	alerts := a.listLocked()
	a.mtx.Unlock()
	ch := make(chan *provider.Alert, alertChannelLength)
	done := make(chan struct{})
	go func() {
		defer close(ch)
		for _, al := range alerts {
			select {
			case ch <- &provider.Alert{Data: al}:
			case <-done:
				return
			}
		}
	}()
	return provider.NewAlertIterator(ch, done, nil)
}

// Get returns the alert with fingerprint fp.
func (a *Alerts) Get(fp model.Fingerprint) (*alert.Alert, error) {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	if e, ok := a.cache[fp]; ok {
		return e.current, nil
	}
	return nil, provider.ErrNotFound
}

// Len returns the number of alerts in memory.
func (a *Alerts) Len() int {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	return len(a.cache)
}

type noopCallback struct{}

func (noopCallback) PreStore(*alert.Alert, bool) error { return nil }
func (noopCallback) PostStore(*alert.Alert, bool)      {}
func (noopCallback) PostDelete(*alert.Alert)           {}
func (noopCallback) PostGC(model.Fingerprints)         {}

type alertsMetrics struct {
	alerts          prometheus.Gauge
	writes, skipped prometheus.Counter
	conflicts       prometheus.Counter
	writeErrors     prometheus.Counter
	reloads         prometheus.Counter
	gcDeleted       prometheus.Counter
	writeDuration   prometheus.Histogram
}

func newAlertsMetrics(reg prometheus.Registerer) *alertsMetrics {
	f := promauto.With(reg)
	return &alertsMetrics{
		alerts: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_alertstore_alerts", Help: "Alerts held in memory (mirroring etcd).",
		}),
		writes: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_alert_writes_total", Help: "Alerts written to etcd.",
		}),
		skipped: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_alert_writes_skipped_total", Help: "Alerts received that did not need an etcd write (unchanged, or endsAt still fresh in etcd).",
		}),
		conflicts: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_write_conflicts_total", Help: "Compare-and-swap conflicts with another replica's write, merged and retried.",
		}),
		writeErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_write_errors_total", Help: "Puts that failed to store their alerts in etcd (the API answered 500).",
		}),
		reloads: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_reloads_total", Help: "Full reloads after a broken or compacted watch.",
		}),
		gcDeleted: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_gc_deleted_total", Help: "Resolved alerts deleted from etcd.",
		}),
		writeDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "kusanagi_alertstore_write_duration_seconds", Help: "Time of one etcd write transaction.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
}

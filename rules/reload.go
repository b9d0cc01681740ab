package rules

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// ReloaderOptions configure a Reloader.
type ReloaderOptions struct {
	// Read returns the catalogue files as they are now. It is called again
	// on every reload, so globs pick up new files.
	Read func() ([]File, error)
	// Watch lists files whose directories are watched for changes; empty
	// for a catalogue that cannot change (the embedded default).
	Watch []string
	// PollInterval re-reads the files this often in case a change
	// notification was missed (network file systems, inotify limits).
	// Default 1m; negative turns polling off.
	PollInterval time.Duration
	// Debounce waits this long after a change notification for editors
	// and Kubernetes ConfigMap updates to finish writing. Default 250ms.
	Debounce   time.Duration
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Reloader holds the current catalogue and replaces it only with a
// catalogue that loads without errors: a bad edit is logged and rejected,
// and the last good catalogue keeps running.
type Reloader struct {
	opts   ReloaderOptions
	logger *slog.Logger

	mu       sync.Mutex // serialises reloads
	checksum [sha256.Size]byte
	// rejected is the checksum of the last rejected content, so that
	// polling does not log the same mistake again every interval.
	rejected [sha256.Size]byte
	current  atomic.Pointer[Catalogue]
	changed  atomic.Pointer[chan struct{}]

	lastSuccessful prometheus.Gauge
	lastSuccessTS  prometheus.Gauge
	reloads        *prometheus.CounterVec
	alerts         prometheus.Gauge
}

// NewReloader loads the catalogue once; it fails if that first load fails,
// since there is no last good catalogue to keep running.
func NewReloader(o ReloaderOptions) (*Reloader, error) {
	if o.Read == nil {
		return nil, errors.New("reloader: Read is required")
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Minute
	}
	if o.Debounce <= 0 {
		o.Debounce = 250 * time.Millisecond
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := promauto.With(o.Registerer)
	r := &Reloader{
		opts:   o,
		logger: o.Logger.With("component", "catalogue"),
		lastSuccessful: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_catalogue_last_reload_successful",
			Help: "Whether the last catalogue reload succeeded (1) or was rejected (0).",
		}),
		lastSuccessTS: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_catalogue_last_reload_success_timestamp_seconds",
			Help: "When the catalogue last loaded successfully.",
		}),
		reloads: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_catalogue_reloads_total",
			Help: "Catalogue reloads by result (success or failure).",
		}, []string{"result"}),
		alerts: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_catalogue_alerts",
			Help: "Alerts in the running catalogue.",
		}),
	}
	ch := make(chan struct{})
	r.changed.Store(&ch)
	if _, err := r.reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

// Current returns the catalogue in force. It never returns nil.
func (r *Reloader) Current() *Catalogue { return r.current.Load() }

// Changed returns a channel that is closed when the catalogue in force is
// next replaced.
func (r *Reloader) Changed() <-chan struct{} { return *r.changed.Load() }

// Reload reads the catalogue again and puts it in force if it is valid.
// On error the previous catalogue stays in force.
func (r *Reloader) Reload() error {
	_, err := r.reload(true)
	return err
}

// reload loads the catalogue; unless force is set, it does nothing when
// the files have not changed since the last successful load.
func (r *Reloader) reload(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, err := r.opts.Read()
	sum := checksum(files)
	if err == nil && !force && r.current.Load() != nil && (sum == r.checksum || sum == r.rejected) {
		return false, nil
	}
	var c *Catalogue
	if err == nil {
		var errs Errors
		if c, errs = Parse(files...); len(errs) > 0 {
			err = errs
		}
	}
	if err != nil {
		r.rejected = sum
		r.reloads.WithLabelValues("failure").Inc()
		r.lastSuccessful.Set(0)
		if r.current.Load() != nil {
			r.logger.Error("catalogue rejected, the previous catalogue stays in force", "err", err)
		}
		return false, err
	}
	r.checksum = sum
	r.current.Store(c)
	r.reloads.WithLabelValues("success").Inc()
	r.lastSuccessful.Set(1)
	r.lastSuccessTS.SetToCurrentTime()
	r.alerts.Set(float64(len(c.Alerts)))
	r.logger.Info("catalogue loaded", "files", c.Files, "alerts", len(c.Alerts))
	next := make(chan struct{})
	close(*r.changed.Swap(&next))
	return true, nil
}

func checksum(files []File) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write(f.Src)
		h.Write([]byte{0})
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// Run reloads when a watched file changes, and every PollInterval, until
// ctx ends. SIGHUP and POST /-/reload call Reload directly.
func (r *Reloader) Run(ctx context.Context) error {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if len(r.opts.Watch) > 0 {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			r.logger.Warn("cannot watch catalogue files, relying on polling, SIGHUP and /-/reload", "err", err)
		} else {
			defer w.Close()
			var dirs []string
			for _, f := range r.opts.Watch {
				if d := filepath.Dir(f); !slices.Contains(dirs, d) {
					dirs = append(dirs, d)
				}
			}
			for _, d := range dirs {
				// The directory, not the file: editors and Kubernetes
				// replace files by renaming, which ends a watch on the file.
				if err := w.Add(d); err != nil {
					r.logger.Warn("cannot watch catalogue directory", "dir", d, "err", err)
				}
			}
			events, watchErrs = w.Events, w.Errors
		}
	}
	var poll <-chan time.Time
	if r.opts.PollInterval > 0 && len(r.opts.Watch) > 0 {
		t := time.NewTicker(r.opts.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	debounce := time.NewTimer(0)
	<-debounce.C
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-watchErrs:
			r.logger.Warn("catalogue watch error", "err", err)
		case <-events:
			debounce.Reset(r.opts.Debounce)
		case <-debounce.C:
			r.reload(false)
		case <-poll:
			r.reload(false)
		}
	}
}

package traps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/internal/opts"
	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// Sender takes the alerts traps raise and resolve.
type Sender interface {
	Send(alerts ...sender.Alert) error
}

// Options configure a Receiver.
type Options struct {
	// ListenAddresses default to [::]:9162 (one dual-stack socket).
	ListenAddresses []string
	// ReceiveBuffer is the SO_RCVBUF asked for each socket; default 16 MiB.
	ReceiveBuffer int
	// Readers read each socket; default 2.
	Readers int
	// Workers decode and match; default GOMAXPROCS.
	Workers int
	// QueueSize bounds datagrams read but not yet decoded; default 65536.
	QueueSize int
	// Communities accepted from v1 and v2c senders; none by default.
	Communities []string
	// Users are the SNMPv3 users accepted.
	Users []User
	// TrustedForwarders are senders (CIDRs or addresses) whose
	// snmpTrapAddress.0 names the original device.
	TrustedForwarders []string
	// FoldWindow: a fault repeated within it is not sent again. Default 1m.
	FoldWindow time.Duration
	// UnknownTrapAlert raises UnknownTrap for traps no catalogue entry matches.
	UnknownTrapAlert bool
	// Catalogue returns the catalogue in force; Changed signals a new one.
	Catalogue func() *rules.Catalogue
	Changed   func() <-chan struct{}
	Names     *Names
	Sender    Sender
	// Records, when set, takes every accepted trap as a log record.
	Records interface{ Add(logs.Record) }
	// GeneratorURL is put in alerts, to find the receiver.
	GeneratorURL string
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

func (o *Options) validate() error {
	if o.Catalogue == nil || o.Sender == nil {
		return errors.New("traps: Catalogue and Sender are required")
	}
	if len(o.ListenAddresses) == 0 {
		o.ListenAddresses = []string{"[::]:9162"}
	}
	opts.Default(&o.ReceiveBuffer, 16<<20)
	opts.Default(&o.Readers, 2)
	opts.Default(&o.Workers, runtime.GOMAXPROCS(0))
	opts.Default(&o.QueueSize, 65536)
	opts.Default(&o.FoldWindow, time.Minute)
	if o.Names == nil {
		o.Names = NewNames()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	for _, u := range o.Users {
		if _, _, err := u.usm(); err != nil {
			return fmt.Errorf("traps: %w", err)
		}
	}
	return nil
}

// Receiver is the trap receiver.
type Receiver struct {
	opts    Options
	logger  *slog.Logger
	trusted []netip.Prefix
	metrics *metrics
	logs    *rateLimiter

	mu     sync.Mutex
	index  *index
	faults *faults

	engine      *engine
	discoveries atomic.Uint32

	bound chan []net.Addr
}

// New validates o.
func New(o Options) (*Receiver, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	r := &Receiver{
		opts:    o,
		logger:  o.Logger.With("component", "traps"),
		metrics: newMetrics(o.Registerer),
		logs:    newRateLimiter(10 * time.Second),
		faults:  &faults{fold: o.FoldWindow, active: map[string]*fault{}},
		bound:   make(chan []net.Addr, 1),
		engine:  newEngine(),
	}
	for _, s := range o.TrustedForwarders {
		p, err := parseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("traps: trusted forwarder: %w", err)
		}
		r.trusted = append(r.trusted, p)
	}
	if _, err := NewDecoder(o.Communities, o.Users); err != nil {
		return nil, err
	}
	r.recompile()
	return r, nil
}

func parseCIDR(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an address nor a CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (r *Receiver) recompile() {
	ix, errs := compile(r.opts.Catalogue(), r.opts.Names)
	for _, err := range errs {
		r.logger.Error("trap source left out", "err", err)
	}
	r.mu.Lock()
	r.index = ix
	r.mu.Unlock()
}

// Addrs waits until the sockets are bound and returns their addresses.
func (r *Receiver) Addrs(ctx context.Context) ([]net.Addr, error) {
	select {
	case a := <-r.bound:
		r.bound <- a
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type datagram struct {
	conn *net.UDPConn
	from netip.AddrPort
	data []byte
	at   time.Time
}

// Run receives until ctx ends.
func (r *Receiver) Run(ctx context.Context) error {
	var conns []*net.UDPConn
	var addrs []net.Addr
	for _, a := range r.opts.ListenAddresses {
		c, got, err := ipv6.ListenUDP(ctx, a, r.opts.ReceiveBuffer)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return fmt.Errorf("cannot listen for traps on %s: %w", a, err)
		}
		if got < r.opts.ReceiveBuffer {
			r.logger.Warn("the kernel capped the receive buffer; bursts may be dropped (raise net.core.rmem_max or grant CAP_NET_ADMIN)",
				"address", c.LocalAddr().String(), "asked_bytes", r.opts.ReceiveBuffer, "got_bytes", got)
		}
		r.metrics.receiveBuffer.WithLabelValues(c.LocalAddr().String()).Set(float64(got))
		r.logger.Info("listening for traps", "address", c.LocalAddr().String(), "receive_buffer_bytes", got)
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr())
	}
	r.bound <- addrs

	queue := make(chan datagram, r.opts.QueueSize)
	var readers, workers sync.WaitGroup
	for _, c := range conns {
		for range r.opts.Readers {
			readers.Go(func() { r.read(c, queue) })
		}
	}
	for range r.opts.Workers {
		workers.Go(func() { r.work(queue) })
	}
	expire := time.NewTicker(time.Minute)
	defer expire.Stop()
	var changed <-chan struct{}
	if r.opts.Changed != nil {
		changed = r.opts.Changed()
	}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-changed:
			changed = r.opts.Changed()
			r.recompile()
		case now := <-expire.C:
			r.mu.Lock()
			r.faults.expire(now)
			r.mu.Unlock()
		}
	}
	for _, c := range conns {
		c.Close()
	}
	readers.Wait()
	close(queue)
	workers.Wait()
	return nil
}

func (r *Receiver) read(c *net.UDPConn, queue chan<- datagram) {
	ipv6.ReadUDP(c, func(data []byte, from netip.AddrPort) {
		select {
		case queue <- datagram{conn: c, from: from, data: append([]byte(nil), data...), at: time.Now()}:
		default:
			r.metrics.dropped.WithLabelValues("queue_full").Inc()
		}
	})
}

func (r *Receiver) work(queue <-chan datagram) {
	dec, _ := NewDecoder(r.opts.Communities, r.opts.Users)
	for d := range queue {
		if len(r.opts.Users) > 0 {
			if report, _ := r.engine.discoveryReport(d.data, uint32(r.discoveries.Add(1))); report != nil {
				if _, err := d.conn.WriteToUDPAddrPort(report, d.from); err != nil {
					r.logger.Warn("cannot answer engine discovery", "source", d.from.String(), "err", err)
				}
				continue
			}
		}
		t, packet, err := dec.Decode(d.data, d.from, d.at)
		if err != nil {
			reason := DropMalformed
			var de *DropError
			if errors.As(err, &de) {
				reason = de.Reason
			}
			r.metrics.dropped.WithLabelValues(string(reason)).Inc()
			if r.logs.allow(string(reason) + d.from.Addr().String()) {
				r.logger.Warn("trap dropped", "source", d.from.String(), "reason", reason, "err", err)
			}
			continue
		}
		r.metrics.received.WithLabelValues(t.Version).Inc()
		r.Process(t)
		if t.Inform {
			r.ack(d, packet)
		}
	}
}

// ack answers an inform once its trap has been handled.
func (r *Receiver) ack(d datagram, p *gosnmp.SnmpPacket) {
	p.PDUType = gosnmp.GetResponse
	p.Error = gosnmp.NoError
	p.ErrorIndex = 0
	b, err := p.MarshalMsg()
	if err == nil {
		_, err = d.conn.WriteToUDPAddrPort(b, d.from)
	}
	if err != nil {
		r.logger.Warn("cannot acknowledge inform", "source", d.from.String(), "err", err)
		return
	}
	r.metrics.informsAcked.Inc()
}

// Process matches one trap against the catalogue and sends what it raises
// or resolves.
func (r *Receiver) Process(t *Trap) {
	t.OID = r.opts.Names.Notification(t.OID)
	instAddr := instance(t, r.trusted)
	inst := instAddr.String()
	if r.opts.Records != nil {
		r.opts.Records.Add(t.record(r.opts.Names, inst))
	}
	r.mu.Lock()
	ix := r.index
	r.mu.Unlock()
	var out []sender.Alert
	matched := false
	// apply raises (or, clearing, resolves) the fault of one catalogue source.
	apply := func(s *source, clearing bool) {
		labels, err := s.labels(t, r.opts.Names, inst)
		if err != nil {
			r.logger.Error("cannot render alert", "alert", s.alert.Name, "source", t.Source.String(), "err", err)
			return
		}
		matched = true
		annotate := func() (map[string]string, error) { return s.annotations(t, r.opts.Names, labels) }
		var a sender.Alert
		send, status := true, "firing"
		r.mu.Lock()
		if clearing {
			status = "resolved"
			a, err = r.faults.clear(s.key(labels), labels, annotate, t.Received)
		} else {
			a, send, err = r.faults.raise(s.key(labels), labels, annotate, time.Duration(s.src.ResolveAfter), t.Received, r.opts.GeneratorURL)
		}
		r.mu.Unlock()
		if err != nil {
			r.logger.Error("cannot render alert", "alert", s.alert.Name, "source", t.Source.String(), "err", err)
			return
		}
		if !send {
			r.metrics.folded.Inc()
			return
		}
		out = append(out, a)
		r.metrics.alerts.WithLabelValues(status).Inc()
	}
	for _, s := range ix.byOID[t.OID] {
		if raise, _ := s.classify(t); raise && s.fromAllowedSender(instAddr) {
			apply(s, false)
		}
	}
	for _, s := range ix.byClear[t.OID] {
		if _, clear := s.classify(t); clear && s.fromAllowedSender(instAddr) {
			apply(s, true)
		}
	}
	if !matched {
		r.metrics.unmatched.Inc()
		if r.opts.UnknownTrapAlert {
			if a, send := r.unknownTrap(t, inst); send {
				out = append(out, a)
			} else {
				r.metrics.folded.Inc()
			}
		}
	} else {
		r.metrics.matched.Inc()
	}
	if len(out) > 0 {
		if err := r.opts.Sender.Send(out...); err != nil {
			r.logger.Error("cannot queue alerts", "err", err)
		}
	}
}

func (r *Receiver) unknownTrap(t *Trap, inst string) (sender.Alert, bool) {
	name := r.opts.Names.Name(t.OID)
	labels := map[string]string{"alertname": "UnknownTrap", "severity": "info", "instance": inst, "trap_oid": t.OID}
	annotate := func() (map[string]string, error) {
		return map[string]string{"summary": fmt.Sprintf("%s sent %s, which no catalogue entry matches", inst, name)}, nil
	}
	r.mu.Lock()
	a, send, _ := r.faults.raise("UnknownTrap\x00"+inst+"\x00"+t.OID, labels, annotate, time.Hour, t.Received, r.opts.GeneratorURL)
	r.mu.Unlock()
	return a, send
}

type metrics struct {
	received, dropped, alerts *prometheus.CounterVec
	matched, unmatched        prometheus.Counter
	folded, informsAcked      prometheus.Counter
	receiveBuffer             *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	f.NewCounterFunc(prometheus.CounterOpts{
		Name: "kusanagi_traps_kernel_drops_total",
		Help: "UDP datagrams the kernel dropped for a full receive buffer (RcvbufErrors of /proc/net/snmp and snmp6; host or pod wide).",
	}, ipv6.UDPReceiveBufferErrors)
	return &metrics{
		received: f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_traps_received_total", Help: "Traps and informs accepted, by SNMP version."}, []string{"version"}),
		dropped:  f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_traps_dropped_total", Help: "Datagrams refused, by reason."}, []string{"reason"}),
		alerts:   f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_traps_alerts_total", Help: "Alerts sent, firing or resolved."}, []string{"state"}),
		matched:  f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_traps_matched_total", Help: "Traps that matched a catalogue entry."}),
		unmatched: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_traps_unmatched_total", Help: "Traps no catalogue entry matched.",
		}),
		folded: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_traps_folded_total", Help: "Repeated faults within the fold window, not sent again.",
		}),
		informsAcked: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_traps_informs_acknowledged_total", Help: "Informs answered."}),
		receiveBuffer: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kusanagi_traps_receive_buffer_bytes", Help: "The receive buffer the kernel gave each socket.",
		}, []string{"address"}),
	}
}

// rateLimiter lets a log line through once per interval per key, so a
// misconfigured sender cannot flood the log.
type rateLimiter struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
}

func newRateLimiter(every time.Duration) *rateLimiter {
	return &rateLimiter{every: every, last: map[string]time.Time{}}
}

func (l *rateLimiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[key]; ok && now.Sub(t) < l.every {
		return false
	}
	if len(l.last) > 10000 {
		clear(l.last)
	}
	l.last[key] = now
	return true
}

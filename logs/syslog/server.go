package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs"
)

// Records takes parsed lines, encoded into batches: AddBatch may drop
// under overload (UDP is lossy anyway), AddBatchWait blocks (TCP and TLS
// push back on their senders). Both empty the batch.
type Records interface {
	AddBatch(*logs.Batch)
	AddBatchWait(context.Context, *logs.Batch) error
}

// SourceProfile applies a Profile to senders in Sources.
type SourceProfile struct {
	Sources []netip.Prefix
	Profile Profile
}

// Options configure a Server.
type Options struct {
	UDPAddresses, TCPAddresses []string
	// TLSAddresses take RFC 5425 syslog over TLS, framed like TCP.
	TLSAddresses []string
	TLS          TLSOptions
	// ReceiveBuffer is the SO_RCVBUF of UDP sockets; default 16 MiB.
	ReceiveBuffer int
	// MaxMessageSize bounds one message; longer TCP lines are cut. Default 64 KiB.
	MaxMessageSize int
	Profiles       []SourceProfile
	Records        Records
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Server is the syslog receiver.
type Server struct {
	opts    Options
	logger  *slog.Logger
	bound   chan []net.Addr
	metrics *metrics
	tls     *tls.Config
}

type metrics struct {
	messages          *prometheus.CounterVec
	parseErrors       prometheus.Counter
	connections       map[string]prometheus.Gauge
	handshakeFailures *prometheus.CounterVec
	certExpiry        prometheus.GaugeFunc
	skew              *skewMetrics
}

// New validates o.
func New(o Options) (*Server, error) {
	if o.Records == nil {
		return nil, errors.New("syslog: Records is required")
	}
	if len(o.UDPAddresses)+len(o.TCPAddresses)+len(o.TLSAddresses) == 0 {
		return nil, errors.New("syslog: no listen addresses")
	}
	if o.ReceiveBuffer <= 0 {
		o.ReceiveBuffer = 16 << 20
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	s := &Server{opts: o, logger: o.Logger.With("component", "syslog"), bound: make(chan []net.Addr, 1)}
	var files *tlsFiles
	if len(o.TLSAddresses) > 0 {
		if err := s.opts.TLS.validate(); err != nil {
			return nil, err
		}
		var err error
		if files, err = newTLSFiles(s.opts.TLS, s.logger); err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
		s.tls = &tls.Config{GetConfigForClient: files.config}
	}
	f := promauto.With(o.Registerer)
	f.NewCounterFunc(prometheus.CounterOpts{
		Name: "kusanagi_syslog_kernel_drops_total",
		Help: "UDP datagrams the kernel dropped for a full receive buffer (RcvbufErrors of /proc/net/snmp and snmp6; host or pod wide).",
	}, ipv6.UDPReceiveBufferErrors)
	s.metrics = &metrics{
		messages:    f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_syslog_messages_total", Help: "Syslog messages received, by transport."}, []string{"transport"}),
		parseErrors: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_syslog_parse_errors_total", Help: "Messages stored whole because they did not parse."}),
		connections: map[string]prometheus.Gauge{
			"tcp": f.NewGauge(prometheus.GaugeOpts{Name: "kusanagi_syslog_tcp_connections", Help: "Open TCP connections."}),
			"tls": f.NewGauge(prometheus.GaugeOpts{Name: "kusanagi_syslog_tls_connections", Help: "Open TLS connections, handshake done."}),
		},
		skew: newSkewMetrics(f),
		handshakeFailures: f.NewCounterVec(prometheus.CounterOpts{
			Name: "kusanagi_syslog_tls_handshake_failures_total",
			Help: "TLS handshakes that failed, by reason (timeout, not_tls, no_client_certificate, bad_client_certificate, rejected_by_client, closed, other).",
		}, []string{"reason"}),
	}
	if files != nil {
		s.metrics.certExpiry = f.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "kusanagi_syslog_tls_certificate_expiry_timestamp_seconds",
			Help: "When the TLS certificate in use expires; it is re-read when its file changes.",
		}, files.expiry)
	}
	for _, r := range handshakeFailureReasons {
		s.metrics.handshakeFailures.WithLabelValues(r)
	}
	return s, nil
}

// Addrs waits until the sockets are bound: UDP first, then TCP, then TLS.
func (s *Server) Addrs(ctx context.Context) ([]net.Addr, error) {
	select {
	case a := <-s.bound:
		s.bound <- a
		return a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Server) profile(src netip.Addr) Profile {
	for _, sp := range s.opts.Profiles {
		for _, p := range sp.Sources {
			if p.Contains(src) {
				return sp.Profile
			}
		}
	}
	return Profile{}
}

// sender is what parsing needs to know of a source address, worked out
// once per connection, or per run of datagrams from one address.
type sender struct {
	addr    netip.Addr
	ip      string
	profile Profile
}

func (s *Server) sender(addr netip.Addr) sender {
	return sender{addr: addr, ip: addr.Unmap().String(), profile: s.profile(addr)}
}

// parse parses line into ps, which the caller reuses from line to line.
// text is line as a string (see parseInto).
func (s *Server) parse(ps *parsed, text string, line []byte, from sender) {
	parseInto(ps, text, line, from.ip, time.Now(), from.profile)
	if _, failed := ps.get("event.outcome"); failed {
		s.metrics.parseErrors.Inc()
	}
	if ps.skew != 0 {
		s.metrics.skew.observe(from.ip, ps.skew)
	}
}

// streamListener is a bound TCP socket and how its connections are served.
type streamListener struct {
	net.Listener
	serve func(net.Conn)
}

// Run listens until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var udp []*net.UDPConn
	var streams []streamListener
	closeAll := func() {
		for _, c := range udp {
			c.Close()
		}
		for _, l := range streams {
			l.Close()
		}
	}
	var addrs []net.Addr
	for _, a := range s.opts.UDPAddresses {
		c, got, err := ipv6.ListenUDP(ctx, a, s.opts.ReceiveBuffer)
		if err != nil {
			closeAll()
			return fmt.Errorf("cannot listen for syslog on udp %s: %w", a, err)
		}
		if got < s.opts.ReceiveBuffer {
			s.logger.Warn("the kernel capped the receive buffer (raise net.core.rmem_max or grant CAP_NET_ADMIN)", "address", c.LocalAddr().String(), "got_bytes", got)
		}
		s.logger.Info("listening for syslog", "transport", "udp", "address", c.LocalAddr().String())
		udp = append(udp, c)
		addrs = append(addrs, c.LocalAddr())
	}
	for _, t := range []struct {
		name  string
		addrs []string
		serve func(net.Conn)
	}{
		{"tcp", s.opts.TCPAddresses, func(c net.Conn) { s.serveStream(ctx, c, "tcp", nil) }},
		{"tls", s.opts.TLSAddresses, func(c net.Conn) { s.serveTLS(ctx, c) }},
	} {
		for _, a := range t.addrs {
			l, err := ipv6.Listen(ctx, "tcp", a)
			if err != nil {
				closeAll()
				return fmt.Errorf("cannot listen for syslog on %s %s: %w", t.name, a, err)
			}
			s.logger.Info("listening for syslog", "transport", t.name, "address", l.Addr().String())
			streams = append(streams, streamListener{Listener: l, serve: t.serve})
			addrs = append(addrs, l.Addr())
		}
	}
	s.bound <- addrs
	var wg sync.WaitGroup
	for _, c := range udp {
		wg.Go(func() { s.readUDP(c) })
	}
	for _, l := range streams {
		wg.Go(func() { s.accept(l, &wg, l.serve) })
	}
	<-ctx.Done()
	closeAll()
	wg.Wait()
	return nil
}

func (s *Server) readUDP(c *net.UDPConn) {
	received := s.metrics.messages.WithLabelValues("udp")
	var last sender
	var ps parsed
	var batch logs.Batch
	ipv6.ReadUDP(c, func(data []byte, from netip.AddrPort) {
		received.Inc()
		if last.addr != from.Addr() { // also for the first: a zero Addr is no sender's
			last = s.sender(from.Addr())
		}
		// data is only valid during the call, and batch.Add copies it.
		s.parse(&ps, unsafe.String(unsafe.SliceData(data), len(data)), data, last)
		batch.Add(&ps.rec, ps.fields...)
		s.opts.Records.AddBatch(&batch)
	})
}

// accept serves each connection of l in its own goroutine until l closes.
func (s *Server) accept(l net.Listener, wg *sync.WaitGroup, serve func(net.Conn)) {
	var conns sync.Map
	defer conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, most likely: ending the loop would
			// stop the listener for good, so wait and try again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Error("cannot accept a syslog connection", "address", l.Addr().String(), "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		conns.Store(c, true)
		wg.Go(func() {
			defer conns.Delete(c)
			serve(c)
		})
	}
}

// serveTLS runs the handshake, within its timeout, then reads the
// connection as TCP. Only a verified client certificate's subject is
// recorded: an unverified one names nobody.
func (s *Server) serveTLS(ctx context.Context, c net.Conn) {
	tc := tls.Server(c, s.tls)
	c.SetDeadline(time.Now().Add(s.opts.TLS.HandshakeTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		if ctx.Err() != nil {
			return
		}
		reason := handshakeFailure(err)
		s.metrics.handshakeFailures.WithLabelValues(reason).Inc()
		level := slog.LevelWarn
		if reason == "closed" {
			level = slog.LevelDebug // load balancer health checks connect and close
		}
		s.logger.Log(ctx, level, "TLS handshake failed", "source", source(c).String(), "reason", reason, "err", err)
		return
	}
	c.SetDeadline(time.Time{})
	var fields []logs.Field
	if cs := tc.ConnectionState(); len(cs.VerifiedChains) > 0 {
		fields = []logs.Field{{Name: "tls.client.subject", Value: cs.PeerCertificates[0].Subject.String()}}
	}
	s.serveStream(ctx, tc, "tls", fields)
}

func source(c net.Conn) netip.AddrPort {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ipv6.Unmap(a.AddrPort())
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}

// serveStream reads one TCP or TLS connection, telling RFC 6587 octet
// counting ("123 <187>...") from newline framing by the first byte of each
// frame, and adds fields to every record. The records of what one read
// from the socket brought are handed over together.
func (s *Server) serveStream(ctx context.Context, c net.Conn, transport string, fields []logs.Field) {
	defer c.Close()
	conns := s.metrics.connections[transport]
	conns.Inc()
	defer conns.Dec()
	received := s.metrics.messages.WithLabelValues(transport)
	from := s.sender(source(c).Addr())
	r := bufio.NewReaderSize(c, s.opts.MaxMessageSize)
	var batch logs.Batch
	// Every line is parsed into ps; its strings point into r's buffer
	// until batch.Add copies them.
	var ps parsed
	for {
		if batch.Len() > 0 && (r.Buffered() == 0 || batch.Bytes() >= maxStreamBatchBytes) {
			// The next read may wait for the sender: what came so far is
			// not held back meanwhile.
			if err := s.opts.Records.AddBatchWait(ctx, &batch); err != nil {
				return
			}
		}
		first, err := r.Peek(1)
		if err != nil {
			s.flush(ctx, &batch)
			return
		}
		var msg []byte
		counted := 0
		if first[0] >= '1' && first[0] <= '9' {
			msg, err = s.octetCounted(r)
			counted = len(msg)
		} else {
			msg, err = s.newlineFramed(r)
		}
		if len(msg) > 0 {
			received.Inc()
			s.parse(&ps, unsafe.String(&msg[0], len(msg)), msg, from)
			for _, f := range fields {
				ps.set(f.Name, f.Value)
			}
			batch.Add(&ps.rec, ps.fields...)
			r.Discard(counted)
		}
		if err != nil {
			s.flush(ctx, &batch)
			if !errors.Is(err, io.EOF) {
				s.logger.Warn("closing syslog connection", "transport", transport, "source", source(c).String(), "err", err)
			}
			return
		}
	}
}

// maxStreamBatchBytes bounds the records of one connection held before
// they are handed over, when its sender keeps the socket full.
const maxStreamBatchBytes = 256 << 10

// flush hands over what a closing connection brought last.
func (s *Server) flush(ctx context.Context, batch *logs.Batch) {
	if batch.Len() > 0 {
		s.opts.Records.AddBatchWait(ctx, batch)
	}
}

func (s *Server) octetCounted(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadSlice(' ')
	if err != nil {
		return nil, fmt.Errorf("bad octet count: %w", err)
	}
	n, err := strconv.Atoi(string(head[:len(head)-1]))
	if err != nil || n <= 0 || n > s.opts.MaxMessageSize {
		return nil, fmt.Errorf("bad octet count %q", head)
	}
	// Peek rather than a copy: n fits r's buffer, which is MaxMessageSize.
	msg, err := r.Peek(n)
	if errors.Is(err, io.EOF) && len(msg) > 0 {
		err = io.ErrUnexpectedEOF // as io.ReadFull says it
	}
	return msg, err
}

func (s *Server) newlineFramed(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Keep the first MaxMessageSize bytes and skip to the line's end.
		msg := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		return msg, err
	}
	return line, err
}

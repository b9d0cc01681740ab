package syslog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/ipv6"
	"github.com/kusanagi-dev/kusanagi/logs"
)

// Records takes parsed lines: Add may drop under overload (UDP is lossy
// anyway), AddWait blocks (TCP pushes back on its sender).
type Records interface {
	Add(logs.Record)
	AddWait(context.Context, logs.Record) error
}

// SourceProfile applies a Profile to senders in Sources.
type SourceProfile struct {
	Sources []netip.Prefix
	Profile Profile
}

// Options configure a Server.
type Options struct {
	UDPAddresses, TCPAddresses []string
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
}

type metrics struct {
	messages    *prometheus.CounterVec
	parseErrors prometheus.Counter
	connections prometheus.Gauge
}

// New validates o.
func New(o Options) (*Server, error) {
	if o.Records == nil {
		return nil, errors.New("syslog: Records is required")
	}
	if len(o.UDPAddresses)+len(o.TCPAddresses) == 0 {
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
	f := promauto.With(o.Registerer)
	f.NewCounterFunc(prometheus.CounterOpts{
		Name: "kusanagi_syslog_kernel_drops_total",
		Help: "UDP datagrams the kernel dropped for a full receive buffer (RcvbufErrors of /proc/net/snmp and snmp6; host or pod wide).",
	}, ipv6.UDPReceiveBufferErrors)
	return &Server{opts: o, logger: o.Logger.With("component", "syslog"), bound: make(chan []net.Addr, 1), metrics: &metrics{
		messages:    f.NewCounterVec(prometheus.CounterOpts{Name: "kusanagi_syslog_messages_total", Help: "Syslog messages received, by transport."}, []string{"transport"}),
		parseErrors: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_syslog_parse_errors_total", Help: "Messages stored whole because they did not parse."}),
		connections: f.NewGauge(prometheus.GaugeOpts{Name: "kusanagi_syslog_tcp_connections", Help: "Open TCP connections."}),
	}}, nil
}

// Addrs waits until the sockets are bound: UDP first, then TCP.
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

func (s *Server) parse(line []byte, src netip.Addr) logs.Record {
	r := Parse(line, src, time.Now(), s.profile(src))
	if r.Fields["event.outcome"] != "" {
		s.metrics.parseErrors.Inc()
	}
	return r
}

// Run listens until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	var udp []*net.UDPConn
	var tcp []net.Listener
	closeAll := func() {
		for _, c := range udp {
			c.Close()
		}
		for _, l := range tcp {
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
	for _, a := range s.opts.TCPAddresses {
		l, err := ipv6.Listen(ctx, "tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("cannot listen for syslog on tcp %s: %w", a, err)
		}
		s.logger.Info("listening for syslog", "transport", "tcp", "address", l.Addr().String())
		tcp = append(tcp, l)
		addrs = append(addrs, l.Addr())
	}
	s.bound <- addrs
	var wg sync.WaitGroup
	for _, c := range udp {
		wg.Go(func() { s.readUDP(c) })
	}
	for _, l := range tcp {
		wg.Go(func() { s.accept(ctx, l, &wg) })
	}
	<-ctx.Done()
	closeAll()
	wg.Wait()
	return nil
}

func (s *Server) readUDP(c *net.UDPConn) {
	received := s.metrics.messages.WithLabelValues("udp")
	ipv6.ReadUDP(c, func(data []byte, from netip.AddrPort) {
		received.Inc()
		s.opts.Records.Add(s.parse(data, from.Addr()))
	})
}

func (s *Server) accept(ctx context.Context, l net.Listener, wg *sync.WaitGroup) {
	var conns sync.Map
	defer conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		conns.Store(c, true)
		wg.Go(func() {
			defer conns.Delete(c)
			s.serveTCP(ctx, c)
		})
	}
}

// serveTCP reads one connection, telling RFC 6587 octet counting ("123
// <187>...") from newline framing by the first byte of each frame.
func (s *Server) serveTCP(ctx context.Context, c net.Conn) {
	defer c.Close()
	s.metrics.connections.Inc()
	defer s.metrics.connections.Dec()
	src := netip.IPv6Unspecified()
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = a.AddrPort().Addr().Unmap()
	}
	r := bufio.NewReaderSize(c, s.opts.MaxMessageSize)
	for {
		first, err := r.Peek(1)
		if err != nil {
			return
		}
		var msg []byte
		if first[0] >= '1' && first[0] <= '9' {
			msg, err = s.octetCounted(r)
		} else {
			msg, err = s.newlineFramed(r)
		}
		if len(msg) > 0 {
			s.metrics.messages.WithLabelValues("tcp").Inc()
			if werr := s.opts.Records.AddWait(ctx, s.parse(msg, src)); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.logger.Warn("closing syslog connection", "source", c.RemoteAddr().String(), "err", err)
			}
			return
		}
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
	msg := make([]byte, n)
	_, err = io.ReadFull(r, msg)
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
	return append([]byte(nil), line...), err
}

package ipv6

import (
	"errors"
	"net"
	"net/netip"

	xipv6 "golang.org/x/net/ipv6"
)

const (
	// udpBatchSlots is the most datagrams one recvmmsg call takes: one
	// system call instead of one per datagram.
	udpBatchSlots = 16
	// udpMaxDatagram is the largest UDP payload: a slot never truncates.
	udpMaxDatagram = 65535
	// udpQueuedBatches is how many batches wait between the reader and
	// the handler: up to 4096 datagrams the socket's receive buffer no
	// longer has to hold while the handler is slower for a moment.
	udpQueuedBatches = 256
)

// ReadUDP reads datagrams from c until it is closed, handing each to
// handle with the sender unmapped (IPv4 senders on a dual-stack socket
// arrive as ::ffff:a.b.c.d), in the order they arrived. data is only
// valid during the call.
//
// One goroutine only empties the socket, many datagrams per system call,
// and queues them for handle, which runs on the caller's goroutine: the
// kernel drops a datagram when the receive buffer is full, and parsing
// in the reading loop kept the buffer full for longer. When the queue
// is full too the reader waits, and the kernel's drop counter (see
// UDPReceiveBufferErrors) counts what is lost, as before. ReadUDP
// returns once c is closed and every queued datagram was handled.
func ReadUDP(c *net.UDPConn, handle func(data []byte, from netip.AddrPort)) {
	queue := make(chan *udpBatch, udpQueuedBatches)
	free := make(chan *udpBatch, udpQueuedBatches+1)
	go func() {
		defer close(queue)
		readBatches(c, queue, free)
	}()
	for b := range queue {
		start := 0
		for i, end := range b.ends {
			handle(b.data[start:end], b.from[i])
			start = end
		}
		b.data, b.ends, b.from = b.data[:0], b.ends[:0], b.from[:0]
		select {
		case free <- b:
		default:
		}
	}
}

// udpBatch is the datagrams of one read, copied out of the read slots so
// that the next read can reuse them: a batch holds their bytes, not 16
// slots of 64 KiB.
type udpBatch struct {
	data []byte
	ends []int
	from []netip.AddrPort
}

func readBatches(c *net.UDPConn, queue chan<- *udpBatch, free <-chan *udpBatch) {
	pc := xipv6.NewPacketConn(c)
	msgs := make([]xipv6.Message, udpBatchSlots)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, udpMaxDatagram)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error (ICMP unreachable echoed back) ends nothing
		}
		var b *udpBatch
		select {
		case b = <-free:
		default:
			b = &udpBatch{ends: make([]int, 0, udpBatchSlots), from: make([]netip.AddrPort, 0, udpBatchSlots)}
		}
		for _, m := range msgs[:n] {
			from, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			b.data = append(b.data, m.Buffers[0][:m.N]...)
			b.ends = append(b.ends, len(b.data))
			b.from = append(b.from, Unmap(from.AddrPort()))
		}
		queue <- b
	}
}

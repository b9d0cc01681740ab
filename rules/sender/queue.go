package sender

import "sync"

// queue is a bounded FIFO of alerts waiting for one Alertmanager. An alert
// queued again before it was sent replaces the waiting copy in place, so a
// resolve overtakes its own firing and a long outage queues each alert
// once, not once per evaluation.
type queue struct {
	mu       sync.Mutex
	capacity int
	items    []*entry
	byFP     map[uint64]*entry
	ready    chan struct{} // has a token while the queue is not empty
}

type entry struct {
	fp    uint64
	alert *Alert
}

func newQueue(capacity int) *queue {
	return &queue{
		capacity: capacity,
		byFP:     make(map[uint64]*entry),
		ready:    make(chan struct{}, 1),
	}
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// push queues a; it returns how many older alerts were dropped to make room.
func (q *queue) push(fp uint64, a *Alert) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.byFP[fp]; ok {
		e.alert = a
		return 0
	}
	for len(q.items) >= q.capacity {
		q.dropOldest()
		dropped++
	}
	e := &entry{fp: fp, alert: a}
	q.items = append(q.items, e)
	q.byFP[fp] = e
	q.signal()
	return dropped
}

func (q *queue) dropOldest() {
	delete(q.byFP, q.items[0].fp)
	q.items[0] = nil
	q.items = q.items[1:]
}

// pop takes up to max alerts from the front.
func (q *queue) pop(max int) []*entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(max, len(q.items))
	batch := make([]*entry, n)
	copy(batch, q.items[:n])
	for i := range n {
		delete(q.byFP, q.items[i].fp)
		q.items[i] = nil
	}
	q.items = q.items[n:]
	if len(q.items) > 0 {
		q.signal()
	}
	return batch
}

// requeue puts a batch that failed back at the front, except alerts that
// were queued again meanwhile: their newer copy is already waiting. It
// returns how many alerts were dropped because the queue overflowed.
func (q *queue) requeue(batch []*entry) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	front := make([]*entry, 0, len(batch)+len(q.items))
	for _, e := range batch {
		if _, newer := q.byFP[e.fp]; !newer {
			front = append(front, e)
			q.byFP[e.fp] = e
		}
	}
	q.items = append(front, q.items...)
	for len(q.items) > q.capacity {
		q.dropOldest()
		dropped++
	}
	if len(q.items) > 0 {
		q.signal()
	}
	return dropped
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

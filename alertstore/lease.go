package alertstore

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseBuckets hands out shared leases by expiry time, so that state which
// must disappear at a known time (expired silences, old notification log
// entries, spent claims) is deleted by etcd without one lease per key.
type leaseBuckets struct {
	client *clientv3.Client
	width  time.Duration

	mu     sync.Mutex
	leases map[int64]clientv3.LeaseID // bucket end (unix seconds) → lease
}

func newLeaseBuckets(c *clientv3.Client, width time.Duration) *leaseBuckets {
	return &leaseBuckets{client: c, width: width, leases: make(map[int64]clientv3.LeaseID)}
}

// lease returns a lease that expires no earlier than at, and at most one
// bucket width later.
func (l *leaseBuckets) lease(ctx context.Context, at time.Time) (clientv3.LeaseID, error) {
	end := at.Truncate(l.width).Add(l.width)
	l.mu.Lock()
	defer l.mu.Unlock()
	if id, ok := l.leases[end.Unix()]; ok {
		return id, nil
	}
	ttl := int64(time.Until(end).Seconds()) + 1
	if ttl < 5 {
		ttl = 5
	}
	resp, err := l.client.Grant(ctx, ttl)
	if err != nil {
		return 0, err
	}
	now := time.Now().Unix()
	for k := range l.leases {
		if k < now {
			delete(l.leases, k)
		}
	}
	l.leases[end.Unix()] = resp.ID
	return resp.ID, nil
}

// forget drops a lease that etcd no longer knows (it expired early, or the
// cluster was restored from a backup).
func (l *leaseBuckets) forget(id clientv3.LeaseID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, v := range l.leases {
		if v == id {
			delete(l.leases, k)
		}
	}
}

func isLeaseNotFound(err error) bool {
	return errors.Is(err, rpctypes.ErrLeaseNotFound) || (err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrLeaseNotFound.Error())
}

package alertstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// CoordinatorOptions configure a Coordinator.
type CoordinatorOptions struct {
	Client *clientv3.Client
	// Prefix of the cluster's state; claims live under Prefix+"claims/"
	// and the election under Prefix+"leader".
	Prefix string
	// Name of this replica (--cluster.peer-name).
	Name string
	// SessionTTL is how long etcd keeps this replica's claims and
	// leadership after it stops answering; it bounds failover. Default 5s.
	SessionTTL time.Duration
	// ClaimRetention keeps the record of a sent notification this long, to
	// cover the time the notification log takes to reach every replica.
	// Default 10m.
	ClaimRetention time.Duration
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

// Coordinator decides which replica sends each notification. A leader,
// elected with an etcd lease, notifies first (the others wait, as
// upstream's cluster position does); but leadership alone is not mutual
// exclusion, since a lease can expire while its holder still acts. What
// prevents duplicates is the claim: before sending, a replica creates the
// notification's key in a transaction that succeeds only if nobody else
// has, bound to its session lease. A replica that cannot reach the etcd
// majority cannot claim, so it sends nothing; a replica that dies
// mid-send loses its claim when its session expires, and another sends.
type Coordinator struct {
	opts    CoordinatorOptions
	logger  *slog.Logger
	leases  *leaseBuckets
	session atomic.Pointer[concurrency.Session]
	leader  atomic.Bool
	ready   chan struct{}
	once    sync.Once

	claimed, skipped, claimErrors prometheus.Counter
	isLeader                      prometheus.Gauge
}

// NewCoordinator validates o.
func NewCoordinator(o CoordinatorOptions) (*Coordinator, error) {
	if o.Client == nil || o.Name == "" {
		return nil, errors.New("coordinator: Client and Name are required")
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		return nil, fmt.Errorf("coordinator: prefix %q must end with /", o.Prefix)
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 5 * time.Second
	}
	if o.ClaimRetention <= 0 {
		o.ClaimRetention = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	f := promauto.With(o.Registerer)
	return &Coordinator{
		opts:   o,
		logger: o.Logger.With("component", "coordinator"),
		leases: newLeaseBuckets(o.Client, time.Minute),
		ready:  make(chan struct{}),
		claimed: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_claims_won_total", Help: "Notifications this replica claimed and sent.",
		}),
		skipped: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_claims_lost_total", Help: "Notifications another replica had claimed, not sent here.",
		}),
		claimErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "kusanagi_alertstore_claim_errors_total", Help: "Claims that could not be made (etcd unreachable): the notification was not sent from here.",
		}),
		isLeader: f.NewGauge(prometheus.GaugeOpts{
			Name: "kusanagi_alertstore_leader", Help: "Whether this replica is the notification leader.",
		}),
	}, nil
}

// IsLeader reports whether this replica leads.
func (c *Coordinator) IsLeader() bool { return c.leader.Load() }

// Ready is closed once this replica holds an etcd session.
func (c *Coordinator) Ready() <-chan struct{} { return c.ready }

// WaitFunc returns how long a replica waits before notifying: the leader
// not at all, the others peerTimeout, so the leader normally sends and the
// others find its notification log entry and stay silent.
func (c *Coordinator) WaitFunc(peerTimeout time.Duration) func() time.Duration {
	return func() time.Duration {
		if c.IsLeader() {
			return 0
		}
		return peerTimeout
	}
}

// Run keeps a session and campaigns for leadership until ctx ends; when
// the session is lost (etcd unreachable longer than its TTL) it starts a
// new one.
func (c *Coordinator) Run(ctx context.Context) error {
	ttl := int(max(c.opts.SessionTTL.Seconds(), 1))
	for ctx.Err() == nil {
		s, err := concurrency.NewSession(c.opts.Client, concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
		if err != nil {
			c.logger.Warn("cannot open an etcd session, retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		c.session.Store(s)
		c.once.Do(func() { close(c.ready) })
		e := concurrency.NewElection(s, c.opts.Prefix+"leader")
		campaign := make(chan error, 1)
		go func() { campaign <- e.Campaign(ctx, c.opts.Name) }()
		select {
		case err := <-campaign:
			if err == nil {
				c.leader.Store(true)
				c.isLeader.Set(1)
				c.logger.Info("became the notification leader")
				select {
				case <-s.Done():
				case <-ctx.Done():
				}
			}
		case <-s.Done():
		case <-ctx.Done():
		}
		if c.leader.Swap(false) {
			if ctx.Err() != nil {
				c.logger.Info("stepping down as the notification leader: shutting down")
			} else {
				c.logger.Warn("no longer the notification leader: the etcd session ended")
			}
		}
		c.isLeader.Set(0)
		c.session.Store(nil)
		if ctx.Err() != nil {
			// Give leadership and claims up at once rather than after the TTL.
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s.Orphan()
			c.opts.Client.Revoke(rctx, s.Lease())
			cancel()
			return nil
		}
		s.Close()
	}
	return nil
}

// Wrap returns integ with its notifier guarded by claims. log is the
// replicated notification log, used to tell repeat notifications apart.
func (c *Coordinator) Wrap(integ notify.Integration, log notify.NotificationLog, receiverName string) notify.Integration {
	n := &claimingNotifier{c: c, inner: integ, log: log}
	n.recv = &nflogpb.Receiver{Integration: integ.Name(), Idx: uint32(integ.Index())}
	return notify.NewIntegration(n, &integ, integ.Name(), integ.Index(), receiverName)
}

type claimingNotifier struct {
	c     *Coordinator
	inner notify.Integration
	log   notify.NotificationLog
	recv  *nflogpb.Receiver
}

const (
	claimSending = "sending"
	claimSent    = "sent"
)

// Notify claims the notification, then sends it.
func (n *claimingNotifier) Notify(ctx context.Context, alerts ...*alert.Alert) notify.NotifyVerdict {
	c := n.c
	key, sentAlready, err := n.claimKey(ctx, alerts)
	if err != nil {
		return notify.Unrecoverable(err, notify.DefaultReason)
	}
	if sentAlready {
		c.skipped.Inc()
		return notify.Success()
	}
	for {
		s := c.session.Load()
		if s == nil {
			c.claimErrors.Inc()
			return notify.Retry(time.Second, errors.New("no etcd session: this replica cannot claim the notification, so it does not send it"), notify.DefaultReason)
		}
		me := fmt.Sprintf("%s %x", c.opts.Name, s.Lease())
		resp, err := c.opts.Client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, claimSending+" "+me, clientv3.WithLease(s.Lease()))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			c.claimErrors.Inc()
			return notify.Retry(0, fmt.Errorf("cannot claim the notification in etcd, not sending it: %w", err), notify.DefaultReason)
		}
		if !resp.Succeeded {
			kvs := resp.Responses[0].GetResponseRange().GetKvs()
			if len(kvs) == 0 {
				continue // released meanwhile
			}
			state, owner, _ := strings.Cut(string(kvs[0].Value), " ")
			switch {
			case owner == me && state == claimSending:
				// Our own claim: a retry of a send that failed.
			case state == claimSent:
				c.skipped.Inc()
				return notify.Success()
			default:
				// Another replica is sending. Wait for it to finish, or to
				// die and lose its claim, then look again.
				done, err := n.awaitOther(ctx, key, kvs[0].ModRevision)
				if err != nil {
					return notify.Retry(0, fmt.Errorf("notification claimed by %s, which has not finished: %w", owner, err), notify.DefaultReason)
				}
				if done {
					c.skipped.Inc()
					return notify.Success()
				}
				// Released: its holder's session ended. It may have sent all
				// the same and only failed to mark it (its etcd member died
				// under it); its notification log entry then says so.
				if _, sent, err := n.claimKey(ctx, alerts); err == nil && sent {
					c.skipped.Inc()
					return notify.Success()
				}
				continue
			}
		}
		verdict := n.inner.Notify(ctx, alerts...)
		if verdict.Err() == nil {
			c.claimed.Inc()
			go n.markSent(key, me)
		}
		return verdict
	}
}

// awaitOther watches another replica's claim until it is marked sent (true)
// or released because its holder's session ended (false).
func (n *claimingNotifier) awaitOther(ctx context.Context, key string, rev int64) (bool, error) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range n.c.opts.Client.Watch(wctx, key, clientv3.WithRev(rev+1)) {
		if err := resp.Err(); err != nil {
			return false, err
		}
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return false, nil
			}
			if strings.HasPrefix(string(ev.Kv.Value), claimSent+" ") {
				return true, nil
			}
		}
	}
	return false, ctx.Err()
}

// markSent turns the claim into a record that outlives this replica's
// session, so nobody sends again once the notification is out. It keeps
// trying for markSentFor: a write can fail for a while when the etcd
// member this replica talked to died and the client has not moved to
// another yet, and until it is marked, the others wait on the claim.
func (n *claimingNotifier) markSent(key, me string) {
	deadline := time.Now().Add(markSentFor)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lease, err := n.c.leases.lease(ctx, time.Now().Add(n.c.opts.ClaimRetention))
		if err == nil {
			_, err = n.c.opts.Client.Put(ctx, key, claimSent+" "+me, clientv3.WithLease(lease))
			if isLeaseNotFound(err) {
				n.c.leases.forget(lease)
			}
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.c.logger.Warn("notification sent but not marked as sent; another replica may send it again if this one dies now", "err", err)
			return
		}
		time.Sleep(wait)
	}
}

// markSentFor bounds markSent's attempts.
const markSentFor = time.Minute

// member is an alert of a notification: its fingerprint, and the
// StartsAt of a firing alert or the EndsAt of a resolved one.
type member struct {
	fp uint64
	at int64
}

// claimKey names one notification by what it says: the receiver
// integration, the group, the firing alerts with their start and the
// resolved ones with their end. Every replica that is about to send the
// same change computes the same key, however far its copy of the
// notification log lags: an earlier key also held the time of the
// group's previous notification as this replica's log had it, so a
// replica whose log had just learnt of another's notification (after a
// restart, or a cut from etcd and its retries) named the same change
// differently, claimed it and sent it again. A repeat after
// repeat_interval says what the previous notification said, so it is told
// apart by that notification's time; and a notification the log shows
// was sent by another replica within repeat_interval, since this one's
// pipeline decided to send, is not sent again (sentAlready).
func (n *claimingNotifier) claimKey(ctx context.Context, alerts []*alert.Alert) (key string, sentAlready bool, err error) {
	gkey, ok := notify.GroupKey(ctx)
	if !ok {
		return "", false, errors.New("group key missing")
	}
	receiver, ok := notify.ReceiverName(ctx)
	if !ok {
		return "", false, errors.New("receiver name missing")
	}
	recv := &nflogpb.Receiver{GroupName: receiver, Integration: n.recv.Integration, Idx: n.recv.Idx}
	var firing, resolved []member
	now := time.Now()
	for _, a := range alerts {
		if a.ResolvedAt(now) {
			resolved = append(resolved, member{uint64(a.Fingerprint()), a.EndsAt.UnixNano()})
		} else {
			firing = append(firing, member{uint64(a.Fingerprint()), a.StartsAt.UnixNano()})
		}
	}
	byFP := func(a, b member) int { return cmp.Compare(a.fp, b.fp) }
	slices.SortFunc(firing, byFP)
	slices.SortFunc(resolved, byFP)
	var repeatOf int64
	if entries, err := n.log.Query(nflog.QGroupKey(gkey), nflog.QReceiver(recv)); err == nil && len(entries) > 0 {
		e := entries[0]
		if sameFingerprints(e.FiringAlerts, firing) && sameFingerprints(e.ResolvedAlerts, resolved) {
			last := e.GetTimestamp().AsTime()
			repeat, _ := notify.RepeatInterval(ctx)
			if now.Sub(last) < repeat {
				return "", true, nil
			}
			repeatOf = last.UnixNano()
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s/%s/%d\x00%d\x00", gkey, receiver, recv.Integration, recv.Idx, repeatOf)
	var buf [16]byte
	for _, list := range [][]member{firing, resolved} {
		for _, m := range list {
			binary.BigEndian.PutUint64(buf[:8], m.fp)
			binary.BigEndian.PutUint64(buf[8:], uint64(m.at))
			h.Write(buf[:])
		}
		h.Write([]byte{0})
	}
	return n.c.opts.Prefix + "claims/" + hex.EncodeToString(h.Sum(nil)[:16]), false, nil
}

// sameFingerprints tells whether logged holds exactly the fingerprints of
// list (both without repeats).
func sameFingerprints(logged []uint64, list []member) bool {
	if len(logged) != len(list) {
		return false
	}
	for _, f := range logged {
		if _, found := slices.BinarySearchFunc(list, f, func(m member, f uint64) int { return cmp.Compare(m.fp, f) }); !found {
			return false
		}
	}
	return true
}

package alertstore

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// maxCASAttempts bounds retries of a batch that keeps losing
// compare-and-swap races; each attempt merges the other writer's alert.
const maxCASAttempts = 8

// write is one alert to store, compared against the revision it was read at.
type write struct {
	fp       model.Fingerprint // of merged: computing it sorts and hashes the labels
	merged   *alert.Alert
	existing bool
	modRev   int64
	value    []byte
}

// Put stores alerts: each is merged with what the store holds, as
// Alertmanager's memory provider does, and written to etcd when that
// changes what other replicas must know. It returns an error, and the API
// answers 500, when etcd cannot take the write: an alert is never
// acknowledged that a restart could lose.
func (a *Alerts) Put(ctx context.Context, alerts ...*alert.Alert) error {
	select {
	case <-a.loaded:
	case <-ctx.Done():
		return fmt.Errorf("cannot store alerts: the alert store has not loaded from etcd yet: %w", ctx.Err())
	}
	pending := alerts
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxCASAttempts {
			a.metrics.writeErrors.Inc()
			return fmt.Errorf("cannot store %d alerts: still conflicting with other replicas' writes after %d attempts", len(pending), attempt)
		}
		writes, err := a.prepare(pending)
		if err != nil {
			return err
		}
		conflicted, err := a.commit(ctx, writes)
		if err != nil {
			a.metrics.writeErrors.Inc()
			return err
		}
		pending = conflicted
	}
	return nil
}

// prepare merges each alert with the cached one and keeps those that need
// a write; the others only update this replica's view.
func (a *Alerts) prepare(alerts []*alert.Alert) ([]write, error) {
	now := time.Now()
	a.mtx.Lock()
	defer a.mtx.Unlock()
	byFP := make(map[model.Fingerprint]int, len(alerts))
	var writes []write
	for _, al := range alerts {
		fp := al.Fingerprint()
		e, existing := a.cache[fp]
		merged := al
		if existing {
			old := e.current
			// Merge when the activity ranges overlap, as the memory provider does.
			if (al.EndsAt.After(old.StartsAt) && al.EndsAt.Before(old.EndsAt)) ||
				(al.StartsAt.After(old.StartsAt) && al.StartsAt.Before(old.EndsAt)) {
				merged = old.Merge(al)
			}
		}
		if err := a.opts.Callback.PreStore(merged, existing); err != nil {
			a.logger.Error("pre-store callback refused the alert", "alert", merged.Name(), "err", err)
			continue
		}
		var stored *alert.Alert
		var modRev int64
		if existing {
			stored, modRev = e.stored, e.modRev
		}
		if !needsWrite(stored, merged, now) {
			a.metrics.skipped.Inc()
			changed := !sameAlert(e.current, merged)
			e.current = merged
			if changed {
				a.opts.Callback.PostStore(merged, true)
				a.notifyLocked(context.Background(), merged)
			}
			continue
		}
		value, err := encodeAlert(merged)
		if err != nil {
			for _, w := range writes {
				a.settledLocked(w)
			}
			return nil, fmt.Errorf("cannot encode alert %s: %w", merged.Name(), err)
		}
		w := write{fp: fp, merged: merged, existing: existing, modRev: modRev, value: value}
		a.inflight[fp] = w
		if i, dup := byFP[fp]; dup {
			// The same alert twice in one request: the later one wins, as
			// it would have through the memory provider.
			writes[i] = w
			continue
		}
		byFP[fp] = len(writes)
		writes = append(writes, w)
	}
	return writes, nil
}

// commit writes in transactions of at most MaxTxnOps alerts, each put
// guarded by the revision the alert was read at. It returns the alerts
// whose guard failed, after taking the other writer's version into the
// cache, so that the caller merges and tries them again.
func (a *Alerts) commit(ctx context.Context, writes []write) ([]*alert.Alert, error) {
	var conflicted []*alert.Alert
	for start := 0; start < len(writes); start += a.opts.MaxTxnOps {
		batch := writes[start:min(start+a.opts.MaxTxnOps, len(writes))]
		tctx, cancel := context.WithTimeout(ctx, a.opts.WriteTimeout)
		begin := time.Now()
		resp, err := a.opts.KV.Txn(tctx, guardedPuts(a.prefix, batch), kvCallOptions...)
		cancel()
		a.metrics.writeDuration.Observe(time.Since(begin).Seconds())
		if err != nil {
			a.settled(writes[start:])
			return nil, fmt.Errorf("cannot store alerts in etcd: %w", clientv3.ContextError(tctx, err))
		}
		if resp.Succeeded {
			a.committed(batch, resp.Header.Revision)
			continue
		}
		// Some guard failed. Take the current versions, commit nothing of
		// this batch, and retry all of it: the transaction is all or
		// nothing. (Reading them in an Else branch would put a get per
		// alert in every write's raft entry for the rare conflict.)
		a.metrics.conflicts.Inc()
		a.settled(batch)
		if err := a.refresh(ctx, batch); err != nil {
			a.settled(writes[start:])
			return nil, err
		}
		for _, w := range batch {
			conflicted = append(conflicted, w.merged)
		}
	}
	return conflicted, nil
}

// refresh reads the alerts of a conflicted batch as etcd holds them now.
func (a *Alerts) refresh(ctx context.Context, batch []write) error {
	gets := make([]clientv3.Op, len(batch))
	for i, w := range batch {
		gets[i] = clientv3.OpGet(a.key(w.fp))
	}
	tctx, cancel := context.WithTimeout(ctx, a.opts.WriteTimeout)
	resp, err := a.opts.Client.Txn(tctx).Then(gets...).Commit()
	cancel()
	if err != nil {
		return fmt.Errorf("cannot read alerts that other replicas wrote: %w", err)
	}
	a.mtx.Lock()
	defer a.mtx.Unlock()
	for i, r := range resp.Responses {
		rr := r.GetResponseRange()
		if rr == nil || len(rr.Kvs) == 0 {
			// Deleted meanwhile (garbage-collected): write it afresh.
			if e, ok := a.cache[batch[i].fp]; ok {
				e.stored, e.modRev = nil, 0
			}
			continue
		}
		if al, err := decodeAlert(rr.Kvs[0].Value); err == nil {
			a.applyRemoteLocked(al, al.Fingerprint(), rr.Kvs[0].ModRevision)
		}
	}
	return nil
}

// committed records a successful write at revision rev.
func (a *Alerts) committed(batch []write, rev int64) {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	a.metrics.writes.Add(float64(len(batch)))
	for _, w := range batch {
		a.settledLocked(w)
		a.storedLocked(w.fp, w.merged, rev)
	}
	a.metrics.alerts.Set(float64(len(a.cache)))
}

// storedLocked records that al, whose fingerprint is fp, is in etcd at revision rev.
func (a *Alerts) storedLocked(fp model.Fingerprint, al *alert.Alert, rev int64) {
	e, ok := a.cache[fp]
	if !ok {
		e = &entry{}
		a.cache[fp] = e
	}
	if e.modRev > rev {
		return // a newer version already arrived through the watch
	}
	changed := e.current == nil || !sameAlert(e.current, al)
	e.current, e.stored, e.modRev = al, al, rev
	if changed {
		a.opts.Callback.PostStore(al, ok)
		a.notifyLocked(context.Background(), al)
	}
}

// settled forgets writes that are no longer in flight.
func (a *Alerts) settled(writes []write) {
	a.mtx.Lock()
	defer a.mtx.Unlock()
	for _, w := range writes {
		a.settledLocked(w)
	}
}

func (a *Alerts) settledLocked(w write) {
	if cur, ok := a.inflight[w.fp]; ok && cur.merged == w.merged {
		delete(a.inflight, w.fp)
	}
}

// gcLoop deletes resolved alerts from etcd, each only if nobody rewrote it
// since we read it, so an alert that fired again is never lost.
func (a *Alerts) gcLoop(ctx context.Context) {
	t := time.NewTicker(a.opts.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.GC(ctx)
		}
	}
}

// GC deletes resolved alerts from etcd and memory.
func (a *Alerts) GC(ctx context.Context) {
	now := time.Now()
	type victim struct {
		fp     model.Fingerprint
		modRev int64
	}
	var victims []victim
	a.mtx.Lock()
	a.gcListenersLocked()
	for fp, e := range a.cache {
		if e.current.ResolvedAt(now) && e.stored != nil && e.stored.ResolvedAt(now) {
			victims = append(victims, victim{fp, e.modRev})
		}
	}
	a.mtx.Unlock()
	for _, v := range victims {
		key := a.key(v.fp)
		tctx, cancel := context.WithTimeout(ctx, a.opts.WriteTimeout)
		resp, err := a.opts.Client.Txn(tctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", v.modRev)).
			Then(clientv3.OpDelete(key)).Commit()
		cancel()
		if err != nil {
			a.logger.Warn("cannot delete resolved alert", "fingerprint", v.fp, "err", err)
			return
		}
		if resp.Succeeded {
			a.metrics.gcDeleted.Inc()
			a.mtx.Lock()
			if e, ok := a.cache[v.fp]; ok && e.modRev == v.modRev {
				a.deleteLocked(v.fp)
			}
			a.mtx.Unlock()
		}
	}
}

package logeval

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// StateStore keeps the rules' group state (pending since, firing since)
// outside the process, so that a new leader continues where the old one
// stopped: no alert fires twice, no resolve is forgotten.
type StateStore interface {
	Load(ctx context.Context) (map[string][]byte, error)
	Save(ctx context.Context, ruleKey string, state []byte) error
}

type savedGroup struct {
	Labels    map[string]string `json:"labels"`
	ActiveAt  time.Time         `json:"activeAt"`
	FiredAt   time.Time         `json:"firedAt"`
	LastHeld  time.Time         `json:"lastHeld"`
	KeepSince time.Time         `json:"keepSince"`
	LastSeen  time.Time         `json:"lastSeen"`
	Value     float64           `json:"value"`
}

func encodeState(st *ruleState) ([]byte, error) {
	out := make(map[string]savedGroup, len(st.groups))
	for k, g := range st.groups {
		out[k] = savedGroup{g.labels, g.activeAt, g.firedAt, g.lastHeld, g.keepSince, g.lastSeen, g.value}
	}
	return json.Marshal(out)
}

func decodeState(b []byte) (*ruleState, error) {
	var in map[string]savedGroup
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	st := &ruleState{groups: make(map[string]*group, len(in))}
	for k, g := range in {
		st.groups[k] = &group{labels: g.Labels, activeAt: g.ActiveAt, firedAt: g.FiredAt, lastHeld: g.LastHeld,
			keepSince: g.KeepSince, lastSeen: g.LastSeen, value: g.Value}
	}
	return st, nil
}

// EtcdState is a StateStore under an etcd prefix.
type EtcdState struct {
	Client *clientv3.Client
	Prefix string // ends in /
}

// Load reads every rule's state.
func (s *EtcdState) Load(ctx context.Context) (map[string][]byte, error) {
	resp, err := s.Client.Get(ctx, s.Prefix+"state/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cannot load rule state: %w", err)
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), s.Prefix+"state/")] = kv.Value
	}
	return out, nil
}

// Save writes one rule's state.
func (s *EtcdState) Save(ctx context.Context, ruleKey string, state []byte) error {
	_, err := s.Client.Put(ctx, s.Prefix+"state/"+ruleKey, string(state))
	return err
}

// RunElected runs the evaluator only while this replica leads an etcd
// election under prefix, so several replicas evaluate each rule once. A
// new leader loads the state its predecessor saved before evaluating.
// Failover takes the session TTL when the leader dies without resigning.
func RunElected(ctx context.Context, e *Evaluator, client *clientv3.Client, prefix, name string, ttl time.Duration, logger *slog.Logger) error {
	for ctx.Err() == nil {
		s, err := concurrency.NewSession(client, concurrency.WithTTL(int(max(ttl.Seconds(), 1))), concurrency.WithContext(ctx))
		if err != nil {
			logger.Warn("cannot open an etcd session, retrying", "component", "logeval", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		el := concurrency.NewElection(s, prefix+"leader")
		if err := el.Campaign(ctx, name); err != nil {
			s.Close()
			continue
		}
		logger.Info("leading the log rule evaluation", "component", "logeval", "replica", name)
		lctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-s.Done():
			case <-lctx.Done():
			}
			cancel()
		}()
		e.Run(lctx)
		cancel()
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.Background(), time.Second)
			el.Resign(rctx)
			rcancel()
		}
		s.Close()
		logger.Warn("no longer leading the log rule evaluation", "component", "logeval", "replica", name)
	}
	return nil
}

package amfork

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestAlertOnOneReplicaIsServedByAllWithin100ms(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "30s")
	a := startReplica(t, "a", cfg, endpoints)
	b := startReplica(t, "b", cfg, endpoints)
	c := startReplica(t, "c", cfg, endpoints)

	assertVisibleWithin(t, a, []*replica{b, c}, 100*time.Millisecond)
	// Counted as upstream counts them (the series sorted first is firing).
	if got := metricValue(t, a, "alertmanager_alerts_received_total"); got != 5 {
		t.Errorf("alertmanager_alerts_received_total{status=firing} = %v on the replica posted to, want 5", got)
	}
}

// assertVisibleWithin posts five alerts, one at a time, to from and
// measures when each is served by the others; the median must be within
// limit (a single sample on a loaded 2-core CI machine says little).
func assertVisibleWithin(t *testing.T, from *replica, others []*replica, limit time.Duration) {
	t.Helper()
	var took []time.Duration
	for i := range 5 {
		begin := time.Now()
		from.postAlerts(t, fmt.Sprintf(`[{"labels":{"alertname":"InterfaceDown","instance":"fd00::1","ifIndex":"%d"}}]`, i))
		for _, r := range others {
			for len(r.alerts(t)) < i+1 {
				if time.Since(begin) > 5*time.Second {
					t.Fatalf("replica %s does not serve alert %d", r.name, i)
				}
				time.Sleep(time.Millisecond)
			}
		}
		took = append(took, time.Since(begin))
	}
	slices.Sort(took)
	t.Logf("alert posted to %s served by every other replica after %v (sorted)", from.name, took)
	if took[2] > limit {
		t.Errorf("median %s, want within %s", took[2], limit)
	}
}

func TestSilenceCreatedOnBMutesOnA(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "200ms")
	a := startReplica(t, "a", cfg, endpoints)
	b := startReplica(t, "b", cfg, endpoints)

	silenceID := createSilence(t, b, "Maintenance")

	a.postAlerts(t, `[{"labels":{"alertname":"Maintenance","instance":"r1"}},{"labels":{"alertname":"Unsilenced","instance":"r1"}}]`)
	eventually(t, 2*time.Second, "alert silenced on a", func() bool {
		for _, al := range a.alerts(t) {
			if al.Labels["alertname"] == "Maintenance" {
				return al.Status.State == "suppressed" && len(al.Status.SilencedBy) == 1 && al.Status.SilencedBy[0] == silenceID
			}
		}
		return false
	})
	eventually(t, 5*time.Second, "the unsilenced alert notified", func() bool { return len(hook.messages()) >= 1 })
	time.Sleep(2 * time.Second)
	for _, m := range hook.messages() {
		for _, al := range m.Alerts {
			if al.Labels["alertname"] == "Maintenance" {
				t.Fatalf("a silenced alert was notified: %+v", m)
			}
		}
	}
}

// TestExactlyOneNotificationPerGroupChange posts to different replicas and
// counts, at the receiver, one notification per change of the group across
// the three replicas: firing, a second alert joining, and the resolve.
func TestExactlyOneNotificationPerGroupChange(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "200ms")
	reps := []*replica{
		startReplica(t, "a", cfg, endpoints),
		startReplica(t, "b", cfg, endpoints),
		startReplica(t, "c", cfg, endpoints),
	}
	settle := func() { time.Sleep(3 * time.Second) }

	reps[0].postAlerts(t, `[{"labels":{"alertname":"BGPPeerDown","peer":"2001:db8::2"}}]`)
	settle()
	if n := len(hook.messages()); n != 1 {
		t.Fatalf("after the first alert: %d notifications, want 1: %+v", n, hook.messages())
	}

	reps[1].postAlerts(t, `[{"labels":{"alertname":"BGPPeerDown","peer":"2001:db8::3"}}]`)
	settle()
	msgs := hook.messages()
	if len(msgs) != 2 || len(msgs[1].Alerts) != 2 {
		t.Fatalf("after the second alert joined: %d notifications, want 2 (the last with 2 alerts): %+v", len(msgs), msgs)
	}

	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	reps[2].postAlerts(t, fmt.Sprintf(`[{"labels":{"alertname":"BGPPeerDown","peer":"2001:db8::2"},"endsAt":%q},
		{"labels":{"alertname":"BGPPeerDown","peer":"2001:db8::3"},"endsAt":%q}]`, past, past))
	settle()
	msgs = hook.messages()
	if len(msgs) != 3 || msgs[2].Status != "resolved" {
		t.Fatalf("after the resolve: %d notifications, want 3, the last resolved: %+v", len(msgs), msgs)
	}
	var won float64
	for _, r := range reps {
		won += metricValue(t, r, "kusanagi_alertstore_claims_won_total")
	}
	if won != 3 {
		t.Errorf("claims won across replicas = %v, want 3", won)
	}
}

// TestReplicaCutFromEtcdSendsNothing cuts one replica's link to etcd after
// it has the alert and before the group is due: it must not notify, the
// others must, once.
func TestReplicaCutFromEtcdSendsNothing(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "1500ms")
	link := newProxy(t, endpoints[0])
	a := startReplica(t, "a", cfg, endpoints)
	c := startReplica(t, "c", cfg, []string{link.url()})

	a.postAlerts(t, `[{"labels":{"alertname":"LinkCut","instance":"x"}}]`)
	eventually(t, time.Second, "c sees the alert", func() bool { return len(c.alerts(t)) == 1 })
	link.cut()
	time.Sleep(5 * time.Second)
	if n := len(hook.messages()); n != 1 {
		t.Fatalf("%d notifications, want exactly 1 (from a)", n)
	}
	if v := metricValue(t, c, "kusanagi_alertstore_claims_won_total"); v != 0 {
		t.Fatalf("the cut replica sent %v notifications", v)
	}
}

// TestClaimsAlonePreventDuplicates has every replica notify at once (no
// leader head start), so only the etcd claims stand between the receiver
// and three copies of each notification.
func TestClaimsAlonePreventDuplicates(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "300ms")
	reps := []*replica{
		startReplicaWaiting(t, "a", cfg, endpoints, time.Nanosecond),
		startReplicaWaiting(t, "b", cfg, endpoints, time.Nanosecond),
		startReplicaWaiting(t, "c", cfg, endpoints, time.Nanosecond),
	}
	for i := range 5 {
		reps[i%3].postAlerts(t, fmt.Sprintf(`[{"labels":{"alertname":"Race%d","instance":"x"}}]`, i))
	}
	eventually(t, 5*time.Second, "five notifications", func() bool { return len(hook.messages()) >= 5 })
	time.Sleep(2 * time.Second)
	seen := map[string]int{}
	for _, m := range hook.messages() {
		seen[m.GroupKey]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("group %s notified %d times", k, n)
		}
	}
	if len(seen) != 5 {
		t.Errorf("%d groups notified, want 5", len(seen))
	}
	var lost float64
	for _, r := range reps {
		lost += metricValue(t, r, "kusanagi_alertstore_claims_lost_total")
	}
	t.Logf("claims lost to another replica: %v", lost)
}

// TestThreeMemberEtcdCluster runs one replica on each member of an
// embedded three-member etcd cluster.
func TestThreeMemberEtcdCluster(t *testing.T) {
	members := startEtcdCluster(t, 3)
	hook := newWebhook(t)
	cfg := writeConfig(t, hook.srv.URL, "1s")
	var reps []*replica
	for i, m := range members {
		reps = append(reps, startReplica(t, fmt.Sprintf("r%d", i), cfg, []string{m}))
	}
	assertVisibleWithin(t, reps[0], reps[1:], 100*time.Millisecond)
	eventually(t, 10*time.Second, "a notification with all five alerts", func() bool {
		msgs := hook.messages()
		return len(msgs) > 0 && len(msgs[len(msgs)-1].Alerts) == 5
	})
	time.Sleep(2 * time.Second)
	// Usually one notification; on a slow machine the five alerts may span
	// more than group_wait, and each change of the group is then notified
	// once: every notification must hold more alerts than the one before.
	msgs := hook.messages()
	for i := 1; i < len(msgs); i++ {
		if len(msgs[i].Alerts) <= len(msgs[i-1].Alerts) {
			t.Fatalf("notification %d repeats a group state (%d alerts after %d): duplicates across replicas", i, len(msgs[i].Alerts), len(msgs[i-1].Alerts))
		}
	}
	t.Logf("%d notifications for the group", len(msgs))
}

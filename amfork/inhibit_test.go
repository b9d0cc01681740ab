package amfork

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestInhibitionRuleMutesTargets: the inhibitor, which now sees only the
// alerts that match a rule's source side, still mutes a target whose
// source fires, and nothing else.
func TestInhibitionRuleMutesTargets(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	cfg := filepath.Join(t.TempDir(), "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(`route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: '`+hook.srv.URL+`'
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [instance]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startReplica(t, "a", cfg, endpoints)
	a.postAlerts(t, `[
		{"labels":{"alertname":"NodeDown","severity":"critical","instance":"fd00::1"}},
		{"labels":{"alertname":"HighLatency","severity":"warning","instance":"fd00::1"}},
		{"labels":{"alertname":"HighLatency","severity":"warning","instance":"fd00::2"}}]`)
	state := func() map[string]string {
		out := map[string]string{}
		for _, al := range a.alerts(t) {
			out[al.Labels["alertname"]+" "+al.Labels["instance"]] = al.Status.State
		}
		return out
	}
	want := map[string]string{"NodeDown fd00::1": "active", "HighLatency fd00::1": "suppressed", "HighLatency fd00::2": "active"}
	eventually(t, 5*time.Second, "the warning on fd00::1 is inhibited, nothing else", func() bool {
		got := state()
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		return len(got) == len(want)
	})
}

package amfork

import (
	"testing"
	"time"
)

type apiAlertGroup struct {
	Labels   map[string]string `json:"labels"`
	Receiver struct {
		Name string `json:"name"`
	} `json:"receiver"`
	Alerts []apiAlert `json:"alerts"`
}

func (r *replica) alertGroups(t *testing.T, query string) []apiAlertGroup {
	t.Helper()
	return getJSON[[]apiAlertGroup](t, r.url+"/api/v2/alerts/groups"+query)
}

// alertStates reads alertmanager_alerts by state.
func alertStates(t *testing.T, r *replica) map[string]float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "alertmanager_alerts" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" {
					out[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	return out
}

// TestAlertGroupsThroughTheAPI is what karma and Grafana read: the
// dispatcher's groups, with the silencer's verdict, through upstream's
// /api/v2/alerts/groups, and the dispatcher's series.
func TestAlertGroupsThroughTheAPI(t *testing.T) {
	endpoints := startEtcd(t)
	hook := newWebhook(t)
	r := startReplica(t, "a", writeConfig(t, hook.srv.URL, "100ms"), endpoints)
	silenceID := createSilence(t, r, "Maintenance")
	r.postAlerts(t, `[{"labels":{"alertname":"Maintenance","instance":"r1"}},{"labels":{"alertname":"Down","instance":"r1"}},{"labels":{"alertname":"Down","instance":"r2"}}]`)

	// After each group's first flush its alerts are marked: suppressed by
	// the silence, or active.
	eventually(t, 5*time.Second, "alertmanager_alerts by state after the first flushes", func() bool {
		s := alertStates(t, r)
		return s["active"] == 2 && s["suppressed"] == 1 && s["unprocessed"] == 0
	})
	if got := metricValue(t, r, "alertmanager_dispatcher_aggregation_groups"); got != 2 {
		t.Fatalf("alertmanager_dispatcher_aggregation_groups = %v, want 2", got)
	}

	groups := r.alertGroups(t, "")
	if len(groups) != 2 {
		t.Fatalf("groups: %+v, want Down and Maintenance", groups)
	}
	down, maintenance := groups[0], groups[1]
	if down.Labels["alertname"] != "Down" || len(down.Alerts) != 2 || down.Receiver.Name != "hook" {
		t.Fatalf("first group: %+v, want alertname=Down with 2 alerts for receiver hook", down)
	}
	for _, a := range down.Alerts {
		if a.Status.State != "active" {
			t.Fatalf("alert %v in state %q, want active", a.Labels, a.Status.State)
		}
	}
	if maintenance.Labels["alertname"] != "Maintenance" || len(maintenance.Alerts) != 1 ||
		maintenance.Alerts[0].Status.State != "suppressed" || len(maintenance.Alerts[0].Status.SilencedBy) != 1 ||
		maintenance.Alerts[0].Status.SilencedBy[0] != silenceID {
		t.Fatalf("second group: %+v, want alertname=Maintenance silenced by %s", maintenance, silenceID)
	}
	if unsilenced := r.alertGroups(t, "?silenced=false"); len(unsilenced) != 1 || unsilenced[0].Labels["alertname"] != "Down" {
		t.Fatalf("groups with silenced=false: %+v, want Down alone", unsilenced)
	}
}

package amfork

import (
	"html/template"
	"net/http"
	"net/url"

	"github.com/prometheus/common/route"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

// statusData feeds the status page that stands in for upstream's UI, whose
// built assets are not in the Go module.
type statusData struct {
	peer   string
	coord  *alertstore.Coordinator
	alerts *alertstore.Alerts
	url    *url.URL
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kusanagi Alertmanager</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}code{font-size:90%}</style></head><body>
<h1>Kusanagi Alertmanager</h1>
<p>Replica <code>{{.Peer}}</code>{{if .Leader}}, the notification leader{{end}}. {{.Alerts}} alerts, kept in etcd.</p>
<ul>
<li><a href="api/v2/alerts">api/v2/alerts</a>, <a href="api/v2/alerts/groups">groups</a>, <a href="api/v2/silences">silences</a>, <a href="api/v2/status">status</a> (Alertmanager API v2: amtool, Grafana and karma work against it)</li>
<li><a href="metrics">metrics</a></li>
</ul></body></html>
`))

func registerStatusPage(r *route.Router, d statusData) {
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		statusPage.Execute(w, map[string]any{"Peer": d.peer, "Leader": d.coord.IsLeader(), "Alerts": d.alerts.Len()})
	})
}

package web

import (
	"html/template"
	"net/http"
)

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kusanagi</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}
.critical{color:#b00}.major{color:#c60}.minor{color:#a80}code{font-size:90%}
</style></head><body>
<h1>Kusanagi</h1>
<p>Catalogue: {{range .Files}}<code>{{.}}</code> {{else}}(embedded default){{end}} &mdash;
{{len .Alerts}} alerts. <a href="api/v1/catalogue">JSON</a> &middot; <a href="metrics">metrics</a></p>
<table><tr><th>Alert</th><th>Severity</th><th>Summary</th><th>Traps</th><th>Logs</th><th>Metrics</th></tr>
{{range .Alerts}}<tr><td>{{if .RunbookURL}}<a href="{{.RunbookURL}}">{{.Name}}</a>{{else}}{{.Name}}{{end}}</td>
<td class="{{.Severity}}">{{.Severity}}</td><td><code>{{.Summary}}</code></td>
<td>{{range .Traps}}<code>{{.OID}}</code>{{if .Clear}} / <code>{{.Clear.OID}}</code>{{end}}<br>{{end}}</td>
<td>{{range .Logs}}<code>{{.Query}}</code> ({{.Condition}} in {{.Window}})<br>{{end}}</td>
<td>{{range .Metrics}}<code>{{.Expr}}</code><br>{{end}}</td></tr>
{{end}}</table></body></html>
`))

func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, s.opts.Catalogue()); err != nil {
		s.logger.Debug("cannot write status page", "err", err)
	}
}

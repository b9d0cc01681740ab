package web

import (
	"encoding/json"
	"html/template"
	"net/http"
)

var rulesPage = template.Must(template.New("rules").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kusanagi log rules</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}
td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}.firing{color:#b00}.pending{color:#c60}.err{color:#b00}</style></head><body>
<h1>Log rules</h1><p><a href="api/v1/rules">JSON</a></p>
<table><tr><th>Alert</th><th>Query</th><th>Every / window</th><th>Condition</th><th>Last evaluation</th><th>Groups</th></tr>
{{range .}}<tr><td>{{.Alert}}</td><td><code>{{.Query}}</code></td><td>{{.Every}} / {{.Window}}</td><td><code>{{.Condition}}</code></td>
<td>{{if .LastEvaluation.IsZero}}not yet{{else}}{{.LastEvaluation.Format "15:04:05"}} ({{printf "%.3f" .Duration}}s){{end}}{{if .Error}}<br><span class="err">{{.Error}}</span>{{end}}</td>
<td>{{range .Groups}}<span class="{{.State}}">{{.State}}</span> {{range $k, $v := .Group}}{{$k}}={{$v}} {{end}}({{.Value}})<br>{{end}}</td></tr>
{{end}}</table></body></html>
`))

// serveRules lists the log rules with their last evaluation: JSON under
// /api/v1/rules, HTML under /rules.
func (s *Server) serveRules(w http.ResponseWriter, r *http.Request) {
	if s.opts.Rules == nil {
		http.Error(w, "no log rules run in this component", http.StatusNotFound)
		return
	}
	status := s.opts.Rules()
	if r.URL.Path == "/api/v1/rules" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": status})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := rulesPage.Execute(w, status); err != nil {
		s.logger.Debug("cannot write rules page", "err", err)
	}
}

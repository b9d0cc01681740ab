// Package logeval evaluates the catalogue's log sources: each runs its query
// against the log store on its schedule and raises one alert per group with
// Prometheus's semantics (inactive, pending for `for`, firing, re-sent each
// evaluation with endsAt ahead, resolved explicitly, `keep_firing_for`).
package logeval

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/rules"
	"github.com/kusanagi-dev/kusanagi/rules/sender"
)

// Sender takes the alerts the evaluator raises and resolves.
type Sender interface {
	Send(alerts ...sender.Alert) error
}

// Options configure an Evaluator.
type Options struct {
	Catalogue func() *rules.Catalogue
	Changed   func() <-chan struct{}
	Store     logs.Store
	Sender    Sender
	// ExternalURL is Kusanagi's web URL; generatorURL links to its log search.
	ExternalURL string
	// State, when set, keeps group state across leaders (see RunElected).
	State      StateStore
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Evaluator runs the log rules.
type Evaluator struct {
	opts    Options
	logger  *slog.Logger
	metrics *metrics

	mu    sync.Mutex // guards the rules map; each rule's state has its own lock
	rules map[string]*ruleState
}

// ruleState is one log source's memory: its groups and last evaluation.
type ruleState struct {
	// mu is held through an evaluation, so that rules evaluate in parallel
	// and only /rules waits on one.
	mu       sync.Mutex
	groups   map[string]*group
	lastEval time.Time
	took     time.Duration
	err      error
}

// RuleStatus is what /rules shows of one log rule.
type RuleStatus struct {
	Alert          string        `json:"alert"`
	Source         int           `json:"source"`
	Query          string        `json:"query"`
	Every          string        `json:"every"`
	Window         string        `json:"window"`
	Condition      string        `json:"condition"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Duration       float64       `json:"evaluationSeconds"`
	Error          string        `json:"error,omitempty"`
	Groups         []GroupStatus `json:"groups"`
}

// GroupStatus is one group's state.
type GroupStatus struct {
	Group    map[string]string `json:"group"`
	State    string            `json:"state"` // inactive, pending or firing
	Value    float64           `json:"value"`
	ActiveAt *time.Time        `json:"activeAt,omitempty"`
}

// Status lists every rule of the catalogue in force with its last result.
func (e *Evaluator) Status() []RuleStatus {
	var out []RuleStatus
	for _, r := range Rules(e.opts.Catalogue()) {
		rs := RuleStatus{
			Alert: r.Alert.Name, Source: r.Index, Query: r.Source.Query, Every: r.Source.Every.String(),
			Window: r.Source.Window.String(), Condition: r.Source.Condition, Groups: []GroupStatus{},
		}
		e.mu.Lock()
		st := e.rules[r.Key()]
		e.mu.Unlock()
		if st != nil {
			st.mu.Lock()
			rs.LastEvaluation, rs.Duration = st.lastEval, st.took.Seconds()
			if st.err != nil {
				rs.Error = st.err.Error()
			}
			for _, g := range st.groups {
				gs := GroupStatus{Group: g.labels, State: "inactive", Value: g.value}
				if !g.activeAt.IsZero() {
					at := g.activeAt
					gs.ActiveAt, gs.State = &at, "pending"
					if !g.firedAt.IsZero() {
						gs.State = "firing"
					}
				}
				rs.Groups = append(rs.Groups, gs)
			}
			st.mu.Unlock()
		}
		out = append(out, rs)
	}
	return out
}

func (e *Evaluator) record(r Rule, ts time.Time, took time.Duration, err error) {
	st := e.state(r)
	st.mu.Lock()
	defer st.mu.Unlock()
	st.lastEval, st.took, st.err = ts, took, err
}

// state returns the rule's state, creating it.
func (e *Evaluator) state(r Rule) *ruleState {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.rules[r.Key()]
	if st == nil {
		st = &ruleState{groups: map[string]*group{}}
		e.rules[r.Key()] = st
	}
	return st
}

type group struct {
	labels   map[string]string
	activeAt time.Time // when the condition started holding
	firedAt  time.Time // zero while pending
	lastHeld time.Time
	// keepSince is the first evaluation the condition failed while firing,
	// from which keep_firing_for counts, as in Prometheus.
	keepSince time.Time
	lastSeen  time.Time // last evaluation with records, for flatline
	value     float64
	// samples are a few matching lines, fetched when the value changes.
	samples      string
	samplesValue float64
}

// New validates o.
func New(o Options) (*Evaluator, error) {
	if o.Catalogue == nil || o.Store == nil || o.Sender == nil {
		return nil, errors.New("logeval: Catalogue, Store and Sender are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	return &Evaluator{opts: o, logger: o.Logger.With("component", "logeval"), metrics: newMetrics(o.Registerer), rules: map[string]*ruleState{}}, nil
}

// Rule is one log source of one alert.
type Rule struct {
	Alert  *rules.Alert
	Source *rules.LogSource
	Index  int
}

// Key names the rule: the alert and the source's position in it.
func (r Rule) Key() string { return r.Alert.Name + "/logs/" + strconv.Itoa(r.Index) }

// Rules lists the log rules of a catalogue.
func Rules(c *rules.Catalogue) []Rule {
	var out []Rule
	for _, a := range c.Alerts {
		for i, s := range a.Logs {
			out = append(out, Rule{Alert: a, Source: s, Index: i})
		}
	}
	return out
}

// offset spreads rules over their interval, as Prometheus does for groups.
func offset(r Rule) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(r.Key()))
	every := time.Duration(r.Source.Every)
	return time.Duration(h.Sum64() % uint64(every))
}

// Run evaluates every rule on its schedule until ctx ends, starting over
// when the catalogue changes.
func (e *Evaluator) Run(ctx context.Context) error {
	if e.opts.State != nil {
		saved, err := e.opts.State.Load(ctx)
		if err != nil {
			return err
		}
		e.mu.Lock()
		for k, b := range saved {
			st, err := decodeState(b)
			if err != nil {
				e.logger.Error("ignoring undecodable rule state", "rule", k, "err", err)
				continue
			}
			e.rules[k] = st
		}
		e.mu.Unlock()
	}
	for ctx.Err() == nil {
		var changed <-chan struct{}
		if e.opts.Changed != nil {
			changed = e.opts.Changed()
		}
		rctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, r := range Rules(e.opts.Catalogue()) {
			wg.Go(func() { e.loop(rctx, r) })
		}
		select {
		case <-ctx.Done():
		case <-changed:
		}
		cancel()
		wg.Wait()
	}
	return nil
}

func (e *Evaluator) loop(ctx context.Context, r Rule) {
	every := time.Duration(r.Source.Every)
	next := time.Now().Truncate(every).Add(offset(r))
	if next.Before(time.Now()) {
		next = next.Add(every)
	}
	for {
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		begin := time.Now()
		err := e.Eval(ctx, r, next)
		if err != nil {
			e.metrics.failures.Inc()
			e.logger.Error("log rule evaluation failed", "rule", r.Key(), "err", err)
		}
		e.metrics.duration.Observe(time.Since(begin).Seconds())
		e.record(r, next, time.Since(begin), err)
		next = next.Add(every)
		for next.Before(time.Now()) {
			e.metrics.missed.Inc()
			next = next.Add(every)
		}
	}
}

// Eval evaluates rule r as of ts and sends what changes.
func (e *Evaluator) Eval(ctx context.Context, r Rule, ts time.Time) error {
	e.metrics.evaluations.Inc()
	src := r.Source
	cond := src.ParsedCondition()
	window, delay := time.Duration(src.Window), time.Duration(src.QueryDelay)
	to := ts.Add(-delay)
	from := to.Add(-window)
	counts, err := e.opts.Store.Count(ctx, src.ParsedQuery(), src.GroupBy, from, to)
	if err != nil {
		return fmt.Errorf("cannot count: %w", err)
	}
	values := map[string]float64{}
	groupLabels := map[string]map[string]string{}
	for _, gc := range counts {
		k := groupKey(gc.Group, src.GroupBy)
		values[k] = float64(gc.Count)
		groupLabels[k] = gc.Group
	}
	if cond.Measure == rules.MeasureSpike {
		prev, err := e.opts.Store.Count(ctx, src.ParsedQuery(), src.GroupBy, from.Add(-window), from)
		if err != nil {
			return fmt.Errorf("cannot count the previous window: %w", err)
		}
		before := map[string]float64{}
		for _, gc := range prev {
			before[groupKey(gc.Group, src.GroupBy)] = float64(gc.Count)
		}
		for k, v := range values {
			values[k] = v / max(before[k], 1)
		}
	}

	st := e.state(r)
	st.mu.Lock()
	defer st.mu.Unlock()
	for k := range values {
		if g := st.groups[k]; g != nil {
			g.lastSeen = ts
		}
	}
	// A flatline condition holds for zero records: groups seen within the
	// last ten windows count as zero when they went quiet.
	if cond.Flatline() {
		for k, g := range st.groups {
			if _, ok := values[k]; !ok && ts.Sub(g.lastSeen) <= 10*window {
				values[k] = 0
			}
		}
	}
	var out []sender.Alert
	for k, v := range values {
		g := st.groups[k]
		if !cond.Holds(v) {
			if g == nil {
				st.groups[k] = &group{labels: groupLabels[k], lastSeen: ts}
			}
			continue
		}
		if g == nil {
			g = &group{labels: groupLabels[k], lastSeen: ts}
			st.groups[k] = g
		}
		if g.activeAt.IsZero() {
			g.activeAt = ts
		}
		g.lastHeld, g.value, g.keepSince = ts, v, time.Time{}
		if g.firedAt.IsZero() && ts.Sub(g.activeAt) >= time.Duration(src.For) {
			g.firedAt = ts
			e.metrics.fired.Inc()
		}
		if !g.firedAt.IsZero() {
			if g.samples == "" || g.samplesValue != g.value {
				g.samples, g.samplesValue = e.samples(ctx, r, g, from, to), g.value
			}
			a, err := e.alert(r, g, from, to, ts, false)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
	}
	for k, g := range st.groups {
		if _, held := values[k]; held && cond.Holds(values[k]) {
			continue
		}
		if g.activeAt.IsZero() {
			if ts.Sub(g.lastSeen) > 10*window {
				delete(st.groups, k)
			}
			continue
		}
		if !g.firedAt.IsZero() && g.keepSince.IsZero() {
			g.keepSince = ts
		}
		if !g.firedAt.IsZero() && ts.Sub(g.keepSince) < time.Duration(src.KeepFiringFor) {
			a, err := e.alert(r, g, from, to, ts, false)
			if err != nil {
				return err
			}
			out = append(out, a)
			continue
		}
		if !g.firedAt.IsZero() {
			a, err := e.alert(r, g, from, to, ts, true)
			if err != nil {
				return err
			}
			out = append(out, a)
			e.metrics.resolved.Inc()
		}
		g.activeAt, g.firedAt, g.keepSince = time.Time{}, time.Time{}, time.Time{}
	}
	if e.opts.State != nil {
		b, err := encodeState(st)
		if err == nil {
			err = e.opts.State.Save(ctx, r.Key(), b)
		}
		if err != nil {
			return fmt.Errorf("cannot save rule state: %w", err)
		}
	}
	if len(out) > 0 {
		return e.opts.Sender.Send(out...)
	}
	return nil
}

func groupKey(g map[string]string, by []string) string {
	var b strings.Builder
	for _, f := range by {
		b.WriteString(g[f])
		b.WriteByte(0)
	}
	return b.String()
}

// labelName turns a record field into a label name (host.ip → host_ip).
func labelName(field string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, field)
}

// alert renders the group's alert; a firing alert's endsAt is four
// intervals ahead, as Prometheus sends them, so a dead evaluator's alerts
// resolve by themselves.
func (e *Evaluator) alert(r Rule, g *group, from, to, ts time.Time, resolved bool) (sender.Alert, error) {
	a, src := r.Alert, r.Source
	tmpl := a.Templates()
	labels := map[string]string{}
	for _, f := range slices.Sorted(maps.Keys(g.labels)) {
		if v := g.labels[f]; v != "" {
			labels[labelName(f)] = v
		}
	}
	data := rules.TemplateData{Labels: maps.Clone(labels), Value: g.value}
	for name, lt := range tmpl.Labels {
		v, err := lt.Execute(data)
		if err != nil {
			return sender.Alert{}, err
		}
		labels[name] = v
	}
	labels["alertname"], labels["severity"] = a.Name, a.Severity
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	data = rules.TemplateData{Labels: labels, Value: g.value}
	ann := map[string]string{
		"count":  strconv.FormatFloat(g.value, 'g', -1, 64),
		"window": src.Window.String(),
		"query":  src.Query,
	}
	if g.samples != "" {
		ann["samples"] = g.samples
	}
	for name, at := range map[string]*rules.Template{"summary": tmpl.Summary, "description": tmpl.Description, "runbook_url": tmpl.RunbookURL} {
		if at == nil || at.Text() == "" {
			continue
		}
		v, err := at.Execute(data)
		if err != nil {
			return sender.Alert{}, err
		}
		ann[name] = v
	}
	endsAt := ts.Add(4 * time.Duration(src.Every))
	if resolved {
		endsAt = ts
	}
	return sender.Alert{
		Labels: labels, Annotations: ann, StartsAt: g.firedAt, EndsAt: endsAt,
		GeneratorURL: e.generatorURL(src, g, from, to),
	}, nil
}

// samples returns up to three of the group's matching lines, newest first,
// so that the person paged sees the evidence in the notification.
func (e *Evaluator) samples(ctx context.Context, r Rule, g *group, from, to time.Time) string {
	q := r.Source.ParsedQuery()
	nodes := []query.Node{q}
	for _, f := range r.Source.GroupBy {
		if v := g.labels[f]; v != "" {
			nodes = append(nodes, query.Phrase{Field: f, Text: v})
		}
	}
	if len(nodes) > 1 {
		q = query.And{Nodes: nodes}
	}
	recs, err := e.opts.Store.Search(ctx, q, from, to, 3)
	if err != nil {
		e.logger.Warn("cannot fetch sample lines", "rule", r.Key(), "err", err)
		return ""
	}
	lines := make([]string, len(recs))
	for i, rec := range recs {
		lines[i] = rec.Arrival().Format(time.RFC3339) + " " + rec.HostIP + " " + rec.Message
	}
	return strings.Join(lines, "\n")
}

// generatorURL opens the log search on the rule's query for the group, so
// one click shows the evidence.
func (e *Evaluator) generatorURL(src *rules.LogSource, g *group, from, to time.Time) string {
	if e.opts.ExternalURL == "" {
		return ""
	}
	q := "(" + src.Query + ")"
	for _, f := range src.GroupBy {
		if v := g.labels[f]; v != "" {
			q += " AND " + f + `:"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
		}
	}
	v := url.Values{"query": {q}, "until": {to.UTC().Format(time.RFC3339Nano)}, "since": {to.Sub(from).String()}}
	return strings.TrimRight(e.opts.ExternalURL, "/") + "/api/v1/logs?" + v.Encode()
}

type metrics struct {
	evaluations, failures, missed, fired, resolved prometheus.Counter
	duration                                       prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		evaluations: f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logeval_evaluations_total", Help: "Log rule evaluations."}),
		failures:    f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logeval_evaluation_failures_total", Help: "Log rule evaluations that failed."}),
		missed:      f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logeval_iterations_missed_total", Help: "Evaluations skipped because the previous one ran late."}),
		fired:       f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logeval_alerts_fired_total", Help: "Groups that went from pending to firing."}),
		resolved:    f.NewCounter(prometheus.CounterOpts{Name: "kusanagi_logeval_alerts_resolved_total", Help: "Firing groups resolved."}),
		duration: f.NewHistogram(prometheus.HistogramOpts{
			Name: "kusanagi_logeval_evaluation_duration_seconds", Help: "Time of one log rule evaluation.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
}

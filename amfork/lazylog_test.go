package amfork

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"testing/slogtest"
)

// TestLazyAttrsIsAHandler runs the standard library's handler conformance
// tests through lazyAttrs.
func TestLazyAttrsIsAHandler(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return newLazyAttrs(slog.NewJSONHandler(&buf, nil))
	}, func(t *testing.T) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	})
}

// TestLazyAttrsWritesWhatTheInnerHandlerWrites compares a logger with
// attributes, groups and levels through lazyAttrs and directly.
func TestLazyAttrsWritesWhatTheInnerHandlerWrites(t *testing.T) {
	var direct, lazy bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	for _, l := range []*slog.Logger{
		slog.New(slog.NewTextHandler(&direct, opts)),
		slog.New(newLazyAttrs(slog.NewTextHandler(&lazy, opts))),
	} {
		g := l.With("component", "dispatcher").With("aggrGroup", `{}:{alertname="A b"}`)
		g.Debug("not written")
		g.Info("flushing", "alerts", 3)
		g.WithGroup("notify").With("receiver", "web\"hook").Warn("retry", "attempt", 2)
	}
	if direct.Len() == 0 || direct.String() != lazy.String() {
		t.Errorf("direct:\n%s\nlazy:\n%s", direct.String(), lazy.String())
	}
}

package amfork

import (
	"context"
	"log/slog"
	"slices"
)

// lazyAttrs is a slog.Handler that keeps the attributes of With instead of
// formatting them at once as slog's text and JSON handlers do. The
// dispatcher makes a logger for every aggregation group
// (logger.With("aggrGroup", key)) and rarely logs with it: at 100k groups
// formatting those keys up front took tens of MB and a share of ingest CPU.
//
// Each With keeps the slice slog hands it (a Handler owns it) and points
// to the handler it was made from, rather than copying the attributes so
// far: one small object per group instead of two.
type lazyAttrs struct {
	inner  slog.Handler
	parent *lazyAttrs // the attributes before these; nil for none
	attrs  []slog.Attr
}

func newLazyAttrs(h slog.Handler) slog.Handler { return &lazyAttrs{inner: h} }

func (h *lazyAttrs) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return h.materialize().Handle(ctx, r)
}

func (h *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	parent := h
	if len(h.attrs) == 0 {
		parent = h.parent
	}
	return &lazyAttrs{inner: h.inner, parent: parent, attrs: attrs}
}

// WithGroup applies the attributes so far: they belong outside the group.
func (h *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &lazyAttrs{inner: h.materialize().WithGroup(name)}
}

func (h *lazyAttrs) materialize() slog.Handler {
	var all []slog.Attr
	for l := h; l != nil; l = l.parent {
		all = append(slices.Clone(l.attrs), all...)
	}
	if len(all) == 0 {
		return h.inner
	}
	return h.inner.WithAttrs(all)
}

// Package ctxutil holds small helpers for context-bound waiting.
package ctxutil

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends; it reports whether the full wait
// elapsed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

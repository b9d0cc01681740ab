package alertstore

import (
	"errors"
	"fmt"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestEtcdShutdownNoiseDropped: the errors etcd logs for its own closed
// listeners, and for a storage version checked before the first term is
// stored, are dropped; the same messages with another cause, and every
// other error, are kept.
func TestEtcdShutdownNoiseDropped(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	lg := zap.New(closedServingFilter{core})
	for _, cause := range []string{"http: Server closed", "mux: server closed", "accept tcp [::1]:2379: use of closed network connection"} {
		lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New(cause)))
	}
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("listen tcp [::1]:2379: bind: address already in use")))
	lg.Error("failed to update storage version", zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	lg.Error("failed to update storage version", zap.Error(errors.New("open db: permission denied")))
	lg.With(zap.String("member", "m1")).Error("apply request took too long")
	var kept []string
	for _, e := range logs.All() {
		kept = append(kept, fmt.Sprint(e.Message, " ", e.ContextMap()["error"]))
	}
	if len(kept) != 3 {
		t.Fatalf("kept %d entries, want the bind error, the permission error and the other error: %q", len(kept), kept)
	}
}

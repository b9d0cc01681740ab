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
// listeners are dropped; the same message with another cause, and every
// other error, is kept.
func TestEtcdShutdownNoiseDropped(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	lg := zap.New(closedServingFilter{core})
	for _, cause := range []string{"http: Server closed", "mux: server closed", "accept tcp [::1]:2379: use of closed network connection"} {
		lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New(cause)))
	}
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("listen tcp [::1]:2379: bind: address already in use")))
	lg.With(zap.String("member", "m1")).Error("apply request took too long")
	var kept []string
	for _, e := range logs.All() {
		kept = append(kept, fmt.Sprint(e.Message, " ", e.ContextMap()["error"]))
	}
	if len(kept) != 2 {
		t.Fatalf("kept %d entries, want the bind error and the other error: %q", len(kept), kept)
	}
}

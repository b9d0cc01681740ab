package alertstore

import (
	"strings"

	"go.etcd.io/etcd/client/pkg/v3/logutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newEtcdLogger is etcd's default logger at level, except that it drops
// two errors an embedded member logs in normal operation:
//   - "setting up serving from embedded etcd failed", for each of its
//     listeners when it is closed (the error says the server or listener
//     was closed): every clean shutdown printed four ERROR lines;
//   - "failed to update storage version" because the term is not stored
//     yet, when the version monitor runs before the first election of a
//     new member has been written; it tries again on its next tick.
func newEtcdLogger(level string) (*zap.Logger, error) {
	cfg := logutil.DefaultZapLoggerConfig
	cfg.Level = zap.NewAtomicLevelAt(logutil.ConvertToZapLevel(level))
	return cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return closedServingFilter{c} }))
}

type closedServingFilter struct{ zapcore.Core }

func (f closedServingFilter) With(fields []zapcore.Field) zapcore.Core {
	return closedServingFilter{f.Core.With(fields)}
}

func (f closedServingFilter) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if f.Enabled(e.Level) {
		return ce.AddCore(e, f)
	}
	return ce
}

func (f closedServingFilter) Write(e zapcore.Entry, fields []zapcore.Field) error {
	var noise func(string) bool
	switch e.Message {
	case "setting up serving from embedded etcd failed.":
		noise = isClosedError
	case "failed to update storage version":
		noise = func(s string) bool { return strings.HasSuffix(s, "missing term information") }
	default:
		return f.Core.Write(e, fields)
	}
	for _, fl := range fields {
		if fl.Key == "error" {
			if err, ok := fl.Interface.(error); ok && noise(err.Error()) {
				return nil
			}
		}
	}
	return f.Core.Write(e, fields)
}

func isClosedError(s string) bool {
	return strings.HasSuffix(s, "server closed") || strings.HasSuffix(s, "Server closed") ||
		strings.Contains(s, "use of closed network connection")
}

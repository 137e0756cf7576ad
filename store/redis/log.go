package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// SetLogger routes the go-redis client library's own log lines (dial
// failures, pool events) to l at Warn level, or discards them if l is nil.
// go-redis keeps this logger process-wide, so the setting affects every
// go-redis client in the process; by default it writes to stderr. Call it
// once, before Open.
func SetLogger(l *slog.Logger) {
	goredis.SetLogger(clientLogger{l})
}

// clientLogger adapts slog to go-redis' Printf-style logging interface.
type clientLogger struct{ l *slog.Logger }

// Printf implements go-redis' internal.Logging.
func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	if c.l == nil {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	c.l.WarnContext(ctx, msg, slog.String("component", "go-redis"))
}

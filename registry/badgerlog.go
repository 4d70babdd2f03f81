package registry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger sends Badger's messages to slog. Badger reports routine work
// (tables opened, compactions, flushes) at INFO level; those go to DEBUG so
// that a serving proxy's log carries only what needs attention.
type badgerLogger struct{}

func (badgerLogger) Errorf(f string, v ...any)   { badgerLog(slog.LevelError, f, v) }
func (badgerLogger) Warningf(f string, v ...any) { badgerLog(slog.LevelWarn, f, v) }
func (badgerLogger) Infof(f string, v ...any)    { badgerLog(slog.LevelDebug, f, v) }
func (badgerLogger) Debugf(f string, v ...any)   { badgerLog(slog.LevelDebug, f, v) }

func badgerLog(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !slog.Default().Enabled(ctx, level) {
		return
	}
	slog.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}

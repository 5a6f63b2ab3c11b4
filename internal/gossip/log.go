package gossip

import (
	"bytes"
	"context"
	"log/slog"
)

// memberlistLog turns memberlist's "[LEVEL] memberlist: message" lines into
// slog records at the matching level. memberlist writes one line per call.
type memberlistLog struct{ l *slog.Logger }

var memberlistLevels = []struct {
	prefix string
	level  slog.Level
}{
	{"[DEBUG] ", slog.LevelDebug},
	{"[INFO] ", slog.LevelInfo},
	{"[WARN] ", slog.LevelWarn},
	{"[ERR] ", slog.LevelError},
	{"[ERROR] ", slog.LevelError},
}

func (w memberlistLog) Write(b []byte) (int, error) {
	line := bytes.TrimRight(b, "\r\n")
	level := slog.LevelInfo
	for _, lv := range memberlistLevels {
		if rest, ok := bytes.CutPrefix(line, []byte(lv.prefix)); ok {
			line, level = rest, lv.level
			break
		}
	}
	line = bytes.TrimPrefix(line, []byte("memberlist: "))
	w.l.Log(context.Background(), level, string(line))
	return len(b), nil
}

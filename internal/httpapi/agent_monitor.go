package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
)

// LogStream is where /v1/agent/monitor subscribes to the agent's logs;
// *logstream.Handler is one.
type LogStream interface {
	Subscribe(level slog.Level, buf int, asJSON bool) (<-chan string, func())
}

// agentMonitor serves GET /v1/agent/monitor?loglevel=LEVEL: the agent's log
// lines at LEVEL and above (default info), as text or, with ?logjson, as
// one JSON object per line, streamed until the client goes away.
func (s *Server) agentMonitor(w http.ResponseWriter, r *http.Request) (any, error) {
	level := slog.LevelInfo
	switch v := strings.ToLower(query(r).Get("loglevel")); v {
	case "", "info":
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "err", "error":
		level = slog.LevelError
	default:
		return nil, badRequest("Unknown log level: %s", v)
	}
	flusher, ok := w.(http.Flusher)
	if !ok || s.cfg.Logs == nil {
		return nil, &httpError{http.StatusInternalServerError, CodeInternal, "Streaming not supported"}
	}
	lines, cancel := s.cfg.Logs.Subscribe(level, 512, queryFlag(r, "logjson"))
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return handled{}, nil
		case line := <-lines:
			if _, err := w.Write([]byte(line + "\n")); err != nil {
				return handled{}, nil
			}
			flusher.Flush()
		}
	}
}

package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/musterhq/muster/internal/cluster"
	"github.com/musterhq/muster/internal/state"
)

// Error codes sent in the X-Muster-Error-Code header. They are part of the
// API: clients match on them, never on the text.
const (
	CodeBadRequest      = "bad_request"
	CodeTooLarge        = "too_large"
	CodeSessionNotFound = "session_not_found"
	CodeNodeNotFound    = "node_not_found"
	CodeCheckNotFound   = "check_not_found"
	CodeCheckCritical   = "check_critical"
	CodeNotFound        = "not_found"
	CodeNoLeader        = "no_leader"
	CodeOutcomeUnknown  = "outcome_unknown"
	CodeMethod          = "method_not_allowed"
	CodeInternal        = "internal"
)

// httpError is an error with the status and code to answer with.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &httpError{http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf(format, args...)}
}

// writeError answers with err's status, its text as the body and its code.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	he := toHTTPError(err)
	if he.status >= 500 {
		s.cfg.Logger.Warn("http: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Muster-Error-Code", he.code)
	w.WriteHeader(he.status)
	fmt.Fprintln(w, he.msg)
}

func toHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &httpError{http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("request body is over the %d-byte limit", mbe.Limit)}
	}
	msg := err.Error()
	switch {
	case errors.Is(err, state.ErrSessionNotFound):
		return &httpError{http.StatusBadRequest, CodeSessionNotFound, "invalid session: " + msg}
	case errors.Is(err, state.ErrNodeNotFound):
		return &httpError{http.StatusBadRequest, CodeNodeNotFound, "missing node registration: " + msg}
	case errors.Is(err, state.ErrServiceNotFound):
		return &httpError{http.StatusBadRequest, CodeNotFound, msg}
	case errors.Is(err, state.ErrCheckNotFound):
		return &httpError{http.StatusBadRequest, CodeCheckNotFound, msg}
	case errors.Is(err, state.ErrCheckCritical):
		return &httpError{http.StatusBadRequest, CodeCheckCritical, msg}
	case errors.Is(err, state.ErrBadRequest):
		return &httpError{http.StatusBadRequest, CodeBadRequest, msg}
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrShutdown):
		return &httpError{http.StatusServiceUnavailable, CodeNoLeader, "No cluster leader: " + msg}
	case errors.Is(err, cluster.ErrUnknownOutcome):
		return &httpError{http.StatusServiceUnavailable, CodeOutcomeUnknown, msg}
	}
	return &httpError{http.StatusInternalServerError, CodeInternal, msg}
}

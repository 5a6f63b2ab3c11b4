package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// decodeBody decodes a JSON body of at most limit bytes into v, refusing
// unknown fields and trailing data. An empty body leaves v unchanged.
func decodeBody(r *http.Request, limit int, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, int64(limit)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge("Request body is over the %d-byte limit", limit)
		}
		return badRequest("Reading the request body failed: %v", err)
	}
	return decodeJSON(b, v)
}

// decodeJSON is decodeBody's parser, separate so fuzz tests can drive it.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("Request decode failed: %v", err)
	}
	if dec.More() {
		return badRequest("Request decode failed: trailing data after the JSON body")
	}
	return nil
}

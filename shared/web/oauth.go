package web

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxFormBytes is the largest form body [DecodeForm] accepts.
const MaxFormBytes = 16 << 10

// DecodeForm reads an application/x-www-form-urlencoded request body, as
// the OAuth endpoints take it (RFC 6749 section 3.2, RFC 7662, RFC 7009),
// strictly. It returns an *[Error] for every fault of the input: 415 for
// another media type (a charset parameter, if any, must be utf-8), 413
// for a body over [MaxFormBytes], and 400 invalid_request for a body that
// does not parse, is not UTF-8, repeats a parameter (RFC 6749 section 3.1),
// or names one that is not in allowed. Parameters in the URL query are not
// read.
func DecodeForm(r *http.Request, allowed ...string) (url.Values, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, UnsupportedMediaType()
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return nil, UnsupportedMediaType()
		}
	}
	if r.ContentLength > MaxFormBytes {
		return nil, TooLarge()
	}
	var body []byte
	if r.Body != nil {
		if body, err = io.ReadAll(io.LimitReader(r.Body, MaxFormBytes+1)); err != nil {
			return nil, BadRequest(CodeInvalidRequest, "The request body could not be read.").
				WithCause(fmt.Errorf("read form body: %w", err))
		}
	}
	if len(body) > MaxFormBytes {
		return nil, TooLarge()
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, BadRequest(CodeInvalidRequest, "The form body does not parse.").WithCause(err)
	}
	fields := map[string]string{}
	for k, vs := range form {
		switch {
		case !slices.Contains(allowed, k):
			fields[printableKey(k)] = "is not allowed"
		case len(vs) > 1:
			fields[k] = "is repeated"
		case !utf8.ValidString(vs[0]):
			fields[k] = "is not valid UTF-8"
		}
	}
	if len(fields) > 0 {
		return nil, Invalid(fields)
	}
	return form, nil
}

// printableKey bounds an unknown parameter name before it is echoed in an
// error: at most 64 bytes, valid UTF-8.
func printableKey(k string) string {
	k = strings.ToValidUTF8(k[:min(len(k), 64)], "?")
	return k
}

// OAuthHandler is [Handler] for the endpoints whose errors RFC 6749 section
// 5.2 defines (introspection, revocation): an error is logged like
// [WriteError] does, but written as {"error": code, "error_description":
// message}, with a WWW-Authenticate challenge on a 401 invalid_client, as
// stock OAuth clients expect.
func OAuthHandler(logger *slog.Logger, h HandlerFunc) http.Handler {
	return Handler(logger, func(w http.ResponseWriter, r *http.Request) error {
		err := h(w, r)
		if err == nil {
			return nil
		}
		if tw, ok := w.(*trackingWriter); ok && tw.started {
			return err
		}
		e := AsError(err)
		logError(r, logger, e)
		NoStore(w)
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.RetryAfter), 10))
		}
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse", charset="UTF-8"`)
		}
		return WriteJSON(w, e.Status, oauthError{Error: e.Code, Description: e.Message})
	})
}

// oauthError is an RFC 6749 section 5.2 error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// Package web holds the HTTP plumbing every Gatehouse function shares:
// handlers that return errors and one place that writes them, strict JSON
// decoding and validation, security headers, CORS, request ids, client IP
// extraction, and Origin and CSRF checks for browser clients.
package web

import (
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error codes written by this package. Handlers add their own codes through
// [BadRequest], [Unauthorized] and [Conflict].
const (
	CodeInvalidRequest       = "invalid_request"
	CodeInvalidJSON          = "invalid_json"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeForbidden            = "forbidden"
	CodeNotFound             = "not_found"
	CodeTooLarge             = "too_large"
	CodeRateLimited          = "rate_limited"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
	CodeOriginNotAllowed     = "origin_not_allowed"
	CodeCSRFFailed           = "csrf_failed"
)

// Error is an error with an HTTP meaning. Status, Code, Message and Fields
// are what the client sees; Err is the cause, logged and never sent.
// Handlers return an *Error (possibly wrapped) to send a specific response;
// any other error becomes a generic 500.
type Error struct {
	Status     int               // HTTP status, 400 to 599
	Code       string            // stable machine-readable code, e.g. "invalid_request"
	Message    string            // short human-readable text, safe to show
	Fields     map[string]string // per-field problems, for validation errors
	RetryAfter time.Duration     // sent as Retry-After when positive
	Err        error             // cause, for logs only
}

// Error describes e for logs: status, code and cause, not the message.
func (e *Error) Error() string {
	s := strconv.Itoa(e.Status) + " " + e.Code
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// WithCause returns a copy of e whose cause is err, so that what went wrong
// is logged while the client sees only e.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// Invalid returns a 400 invalid_request error listing the problem with each
// field, keyed by the field's JSON name.
func Invalid(fields map[string]string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest,
		Message: "The request is invalid.", Fields: maps.Clone(fields)}
}

// BadRequest returns a 400 error with the given code and message.
func BadRequest(code, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// Unauthorized returns a 401 error with the given code and message.
func Unauthorized(code, msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: msg}
}

// Forbidden returns a 403 forbidden error.
func Forbidden() *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: "Forbidden."}
}

// NotFound returns a 404 not_found error.
func NotFound() *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "Not found."}
}

// Conflict returns a 409 error with the given code and message.
func Conflict(code, msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: msg}
}

// TooLarge returns a 413 too_large error.
func TooLarge() *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
		Message: "The request body is too large."}
}

// UnsupportedMediaType returns a 415 error for a body that is not JSON.
func UnsupportedMediaType() *Error {
	return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupportedMediaType,
		Message: "The request body must be application/json."}
}

// TooManyRequests returns a 429 rate_limited error whose Retry-After header
// is retryAfter in whole seconds, rounded up, at least 1.
func TooManyRequests(retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited,
		Message: "Too many requests.", RetryAfter: max(retryAfter, time.Second)}
}

// Unavailable returns a 503 unavailable error caused by err, for a
// dependency that is down (the request is denied, never waved through).
func Unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "The service is temporarily unavailable.", Err: err}
}

func internalError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
		Message: "Internal error.", Err: err}
}

// forbidden returns a 403 with a specific code.
func forbidden(code, msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: code, Message: msg}
}

// AsError returns the *Error in err's chain or, if there is none or it has a
// status outside 400-599, a 500 internal error caused by err. It never
// returns nil for a non-nil err.
func AsError(err error) *Error {
	var e *Error
	if !errors.As(err, &e) || e == nil || e.Status < 400 || e.Status > 599 {
		return internalError(err)
	}
	if e.Code == "" || e.Message == "" {
		c := *e
		text := http.StatusText(e.Status)
		if c.Code == "" {
			c.Code = strings.ReplaceAll(strings.ToLower(text), " ", "_")
		}
		if c.Message == "" {
			c.Message = text + "."
		}
		e = &c
	}
	return e
}

// WriteError is the one place errors become responses. It writes err as
// {"error":{"code","message","fields"}} with the status of [AsError](err),
// and logs it with logger: server errors at ERROR with the cause, client
// errors at INFO. The log names the route pattern, never the URL, since
// paths and queries may carry tokens.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := AsError(err)
	logError(r, logger, e)
	writeErrorBody(w, e)
}

// logError logs e the way [WriteError] does.
func logError(r *http.Request, logger *slog.Logger, e *Error) {
	attrs := []any{"status", e.Status, "error_code", e.Code, "method", r.Method, "route", r.Pattern}
	if e.Err != nil {
		attrs = append(attrs, "error", e.Err.Error())
	}
	if len(e.Fields) > 0 {
		attrs = append(attrs, "fields", e.Fields)
	}
	if e.Status >= 500 {
		logger.ErrorContext(r.Context(), "request failed", attrs...)
	} else {
		logger.InfoContext(r.Context(), "request rejected", attrs...)
	}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeErrorBody writes e without logging. Error responses are never cached.
func writeErrorBody(w http.ResponseWriter, e *Error) {
	NoStore(w)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.RetryAfter), 10))
	}
	body := errorBody{Error: errorJSON{Code: e.Code, Message: e.Message, Fields: e.Fields}}
	// The body always encodes; only a write to a client that has gone away
	// can fail, and there is no one left to tell.
	_ = WriteJSON(w, e.Status, body)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return max(s, 1)
}

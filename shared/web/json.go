package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body [DecodeJSON] accepts.
const MaxBodyBytes = 64 << 10

// maxDepth bounds how deeply a request body may nest objects and arrays.
const maxDepth = 32

// DecodeJSON decodes the JSON request body into dst, strictly, with a limit
// of [MaxBodyBytes]. See [DecodeJSONLimit].
func DecodeJSON(r *http.Request, dst any) error {
	return DecodeJSONLimit(r, dst, MaxBodyBytes)
}

// DecodeJSONLimit decodes the JSON request body into dst, which must be a
// non-nil pointer. It returns an *[Error] for every fault of the input:
//   - 415 unsupported_media_type unless Content-Type is application/json
//     (a charset parameter, if any, must be utf-8);
//   - 413 too_large for a body over limit bytes;
//   - 400 invalid_json for an empty body, invalid UTF-8, a syntax error,
//     nesting deeper than 32, or data after the first value;
//   - 400 invalid_request with Fields for an unknown field, a duplicate
//     name (compared as encoding/json matches names, ignoring case) or a
//     value of the wrong type, keyed by the field's name where known.
//
// Only a programming error (dst not a pointer) gives a non-*Error error.
// dst may be partly filled when an error is returned.
func DecodeJSONLimit(r *http.Request, dst any, limit int64) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(r, limit)
	if err != nil {
		return err
	}
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func checkContentType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return UnsupportedMediaType()
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return UnsupportedMediaType()
		}
	}
	return nil
}

// readBody reads at most limit bytes of r's body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, TooLarge()
	}
	if r.Body == nil {
		return nil, BadRequest(CodeInvalidJSON, "The request body is empty.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		return nil, BadRequest(CodeInvalidJSON, "The request body could not be read.").
			WithCause(fmt.Errorf("read request body: %w", err))
	case int64(len(body)) > limit:
		return nil, TooLarge()
	case len(bytes.TrimSpace(body)) == 0:
		return nil, BadRequest(CodeInvalidJSON, "The request body is empty.")
	case !utf8.Valid(body):
		return nil, BadRequest(CodeInvalidJSON, "The request body is not valid UTF-8.")
	}
	return body, nil
}

// decodeError maps an encoding/json decoding error to an *Error.
func decodeError(err error) error {
	var (
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
		invalid   *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &invalid):
		return fmt.Errorf("decode json request: %w", err)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return BadRequest(CodeInvalidJSON, "The request body has the wrong type.").WithCause(err)
		}
		return Invalid(map[string]string{typeErr.Field: "has the wrong type"}).WithCause(err)
	case errors.As(err, &syntaxErr):
		return BadRequest(CodeInvalidJSON, "The request body is not valid JSON.").WithCause(err)
	}
	if quoted, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(quoted); uerr == nil {
			return Invalid(map[string]string{name: "is not allowed"}).WithCause(err)
		}
	}
	// Anything else comes from a field type's own UnmarshalJSON or
	// UnmarshalText rejecting the input.
	return BadRequest(CodeInvalidRequest, "The request contains an invalid value.").WithCause(err)
}

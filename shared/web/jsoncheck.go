package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode"
)

// frame is one open object or array while checking a JSON document.
type frame struct {
	object    bool
	expectKey bool                // in an object: the next token is a name or '}'
	names     map[string]struct{} // folded names seen in this object
}

// checkJSON checks that body is exactly one JSON value, nested at most
// maxDepth deep, with no duplicate names in any object. encoding/json alone
// would accept trailing data after the value and let the last of two
// duplicate names win, which lets two parsers read one body differently.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers are only checked here, never converted
	var stack []frame
	for done := false; ; {
		tok, err := dec.Token()
		switch {
		case done && errors.Is(err, io.EOF):
			return nil
		case done:
			return BadRequest(CodeInvalidJSON, "The request body has data after the JSON value.")
		case err != nil:
			return BadRequest(CodeInvalidJSON, "The request body is not valid JSON.").WithCause(err)
		}
		stack, err = step(stack, tok)
		if err != nil {
			return err
		}
		done = len(stack) == 0
	}
}

// step applies one token to the stack of open objects and arrays.
func step(stack []frame, tok json.Token) ([]frame, error) {
	var top *frame
	if len(stack) > 0 {
		top = &stack[len(stack)-1]
	}
	switch tok {
	case json.Delim('}'), json.Delim(']'):
		return stack[:len(stack)-1], nil
	case json.Delim('{'), json.Delim('['):
		if len(stack) >= maxDepth {
			return nil, BadRequest(CodeInvalidJSON, "The request body is nested too deeply.")
		}
		valueSeen(top)
		if tok == json.Delim('[') {
			return append(stack, frame{}), nil
		}
		return append(stack, frame{object: true, expectKey: true, names: map[string]struct{}{}}), nil
	}
	if top == nil || !top.object || !top.expectKey {
		valueSeen(top)
		return stack, nil
	}
	name, _ := tok.(string) // json.Decoder.Token only yields strings for names
	folded := foldName(name)
	if _, dup := top.names[folded]; dup {
		return nil, Invalid(map[string]string{name: "appears more than once"})
	}
	top.names[folded] = struct{}{}
	top.expectKey = false
	return stack, nil
}

// valueSeen notes that a member value started in the object top, if any.
func valueSeen(top *frame) {
	if top != nil && top.object {
		top.expectKey = true
	}
}

// foldName maps every name that encoding/json would match to the same
// struct field (it ignores case under Unicode simple folding) to one string.
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		return low
	}, s)
}

package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"unicode"
)

// Redacted is what a redacted value prints as.
const Redacted = "[REDACTED]"

// replaceAttr renames slog's built-in keys to Cloud Logging's and redacts
// attributes whose key, or any enclosing group's name, names a secret.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 {
		if b, ok := builtin(a); ok {
			return b
		}
	}
	if SensitiveKey(a.Key) || anySensitive(groups) {
		return slog.String(a.Key, Redacted)
	}
	if a.Value.Kind() == slog.KindAny {
		a.Value = redactComposite(a.Value.Any())
	}
	return a
}

// builtin maps slog's built-in attributes to Cloud Logging field names.
func builtin(a slog.Attr) (slog.Attr, bool) {
	switch {
	case a.Key == slog.LevelKey && a.Value.Kind() == slog.KindAny:
		l, ok := a.Value.Any().(slog.Level)
		if !ok {
			return a, false
		}
		return slog.String(keySeverity, severity(l)), true
	case a.Key == slog.MessageKey && a.Value.Kind() == slog.KindString:
		return slog.Attr{Key: keyMessage, Value: a.Value}, true
	case a.Key == slog.SourceKey && a.Value.Kind() == slog.KindAny:
		if _, ok := a.Value.Any().(*slog.Source); ok {
			return slog.Attr{Key: keySource, Value: a.Value}, true
		}
	}
	return a, false
}

// severity maps a slog level to a Cloud Logging severity.
func severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	default:
		return "ERROR"
	}
}

func anySensitive(keys []string) bool {
	for _, k := range keys {
		if SensitiveKey(k) {
			return true
		}
	}
	return false
}

// SensitiveKey reports whether a log attribute, map key or struct field named
// key holds a secret and must be redacted. Matching ignores case and
// separators ("accessToken", "access_token" and "Access-Token" are the same).
//
// A key is sensitive if it contains password, passwd, passphrase, secret,
// token, authorization, cookie, credential, bearer, apikey, privatekey or
// cardnumber, or has a word pwd, otp, totp, hotp, pin, cvc, cvv, csrf, kek or
// dek. The word "key" is sensitive unless followed by id, ids, version, name or
// state ("data_key_id" is not). The word "code" is sensitive unless preceded by
// a word naming a non-secret code such as status, error, http or country
// ("totp_code" and "code" are, "status_code" is not).
func SensitiveKey(key string) bool {
	words := splitWords(key)
	joined := strings.Join(words, "")
	for _, s := range [...]string{
		"password", "passwd", "passphrase", "secret", "token", "authorization",
		"cookie", "credential", "bearer", "apikey", "privatekey", "cardnumber",
	} {
		if strings.Contains(joined, s) {
			return true
		}
	}
	for i, w := range words {
		switch w {
		case "pwd", "otp", "totp", "hotp", "pin", "cvc", "cvv", "csrf", "kek", "dek":
			return true
		case "key":
			if i+1 == len(words) || !keyMetadata(words[i+1]) {
				return true
			}
		case "code":
			if i == 0 || !publicCode(words[i-1]) {
				return true
			}
		}
	}
	return false
}

// keyMetadata reports whether w, following "key", makes the name refer to
// a key's metadata rather than the key.
func keyMetadata(w string) bool {
	switch w {
	case "id", "ids", "version", "name", "state":
		return true
	}
	return false
}

// publicCode reports whether w, preceding "code", names a code that is not
// a secret.
func publicCode(w string) bool {
	switch w {
	case "status", "error", "err", "http", "exit", "country", "currency",
		"reason", "response", "result", "language", "locale":
		return true
	}
	return false
}

// splitWords splits a key into lower-case words at separators and at
// camel-case boundaries: "XCloudTraceID" gives x, cloud, trace, id.
func splitWords(key string) []string {
	rs := []rune(key)
	var words []string
	start := -1
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			if start >= 0 {
				words = append(words, strings.ToLower(string(rs[start:i])))
				start = -1
			}
			continue
		}
		if start >= 0 && camelBoundary(rs, i) {
			words = append(words, strings.ToLower(string(rs[start:i])))
			start = i
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		words = append(words, strings.ToLower(string(rs[start:])))
	}
	return words
}

// camelBoundary reports whether a new word starts at rs[i] (i > 0).
func camelBoundary(rs []rune, i int) bool {
	if !unicode.IsUpper(rs[i]) {
		return false
	}
	prev := rs[i-1]
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		return true
	}
	return unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
}

// redactComposite redacts sensitive keys inside a map, struct or slice logged
// as a single value, by round-tripping it through JSON (which is how the JSON
// handler would print it anyway). Other values, errors and values that do not
// marshal are returned unchanged.
func redactComposite(v any) slog.Value {
	if v == nil || !composite(v) {
		return slog.AnyValue(v)
	}
	if _, ok := v.(error); ok {
		return slog.AnyValue(v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return slog.AnyValue(v)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return slog.AnyValue(v)
	}
	if !redactTree(tree) {
		return slog.AnyValue(v)
	}
	return slog.AnyValue(tree)
}

func composite(v any) bool {
	switch reflect.TypeOf(v).Kind() {
	case reflect.Map, reflect.Struct, reflect.Slice, reflect.Array, reflect.Pointer, reflect.Interface:
		return true
	}
	return false
}

// redactTree replaces, in place, the value of every sensitive key in a tree
// decoded from JSON, and reports whether it changed anything.
func redactTree(tree any) bool {
	changed := false
	switch t := tree.(type) {
	case map[string]any:
		for k, v := range t {
			if SensitiveKey(k) {
				t[k] = Redacted
				changed = true
			} else if redactTree(v) {
				changed = true
			}
		}
	case []any:
		for _, v := range t {
			if redactTree(v) {
				changed = true
			}
		}
	}
	return changed
}

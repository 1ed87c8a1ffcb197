package rotate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// The tasks, in the order a run performs them.
const (
	TaskDataKeys    = "data-keys"      // new primary data key when due or on exposure
	TaskSigningKeys = "signing-keys"   // new token-signing key when due or on exposure; old public keys purged once unused
	TaskSessions    = "sessions"       // suspected exposure only: revoke sessions
	TaskReencrypt   = "reencrypt"      // move sealed values to the primary key, destroy unreferenced keys
	TaskRewrap      = "rewrap"         // re-wrap data keys under the KEK's current version
	TaskPurge       = "purge"          // delete expired and revoked material
	TaskRetention   = "retention"      // delete old audit events (signed checkpoint) and billing records
	TaskDomains     = "domains"        // re-check verified single sign-on domains daily; disable those whose record is gone
	TaskReviews     = "access-reviews" // open a quarterly access review for each organization due, and tell its owner
	TaskOutbox      = "outbox"         // republish unpublished outbox rows
)

// Reasons a run is asked for.
const (
	ReasonSchedule = "schedule"
	// ReasonExposure rotates everything at once whatever its age, destroys
	// old data keys as soon as no instance can seal under them, and
	// revokes sessions.
	ReasonExposure = "suspected-exposure"
	// ReasonEvents sends due events now (Pub/Sub and webhooks): only the
	// outbox task, outside the rotation lease, with no stored run report
	// and no audit event, so that it can run every minute beside a long
	// rotation run. Its message lists no task or only "outbox".
	ReasonEvents = "events"
)

// taskOrder lists every task in run order.
var taskOrder = [...]string{TaskDataKeys, TaskSigningKeys, TaskSessions, TaskReencrypt, TaskRewrap, TaskPurge, TaskRetention,
	TaskDomains, TaskReviews, TaskOutbox}

// maxMessageBytes bounds the message data; a real message is under 200 bytes.
const maxMessageBytes = 4 << 10

// Message is what Cloud Scheduler publishes, as JSON in the Pub/Sub data:
//
//	{"tasks":["data-keys","reencrypt"],"reason":"schedule","dry_run":false}
//
// An empty task list means every task. OrgID, only with
// "suspected-exposure", limits session revocation to one organization.
type Message struct {
	Tasks  []string `json:"tasks"`
	Reason string   `json:"reason"`
	DryRun bool     `json:"dry_run"`
	OrgID  string   `json:"org_id,omitempty"`
}

// MessageError lists what is wrong with a message, per field.
type MessageError struct {
	Fields map[string]string
}

func (e *MessageError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k]
	}
	return "malformed rotation message: " + strings.Join(parts, "; ")
}

// ParseMessage decodes and validates message data strictly: one JSON
// object, no unknown or duplicate fields, known tasks and reason, at most
// 4 KiB. Errors are *[MessageError]; it never panics on any input.
func ParseMessage(data []byte) (Message, error) {
	var m Message
	if len(data) > maxMessageBytes {
		return m, &MessageError{Fields: map[string]string{"data": "is larger than 4 KiB"}}
	}
	if err := checkNoDuplicates(data); err != nil {
		return m, &MessageError{Fields: map[string]string{"data": err.Error()}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, &MessageError{Fields: map[string]string{"data": decodeProblem(err)}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Message{}, &MessageError{Fields: map[string]string{"data": "has data after the JSON object"}}
	}
	return m, m.Validate()
}

// decodeProblem describes a decoding error without echoing input.
func decodeProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q has the wrong type", typeErr.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "has an unknown field"
	default:
		return "is not a JSON object"
	}
}

// Validate reports what is wrong with m as a *[MessageError], or nil.
func (m Message) Validate() error {
	fields := map[string]string{}
	switch m.Reason {
	case ReasonSchedule, ReasonExposure:
	case ReasonEvents:
		if len(m.Tasks) > 1 || len(m.Tasks) == 1 && m.Tasks[0] != TaskOutbox {
			fields["tasks"] = "events runs only the outbox task"
		}
		if m.DryRun {
			fields["dry_run"] = "is not allowed with reason events"
		}
	default:
		fields["reason"] = `must be "schedule", "suspected-exposure" or "events"`
	}
	if len(m.Tasks) > len(taskOrder) {
		fields["tasks"] = "lists too many tasks"
	}
	for _, t := range m.Tasks {
		switch {
		case !slices.Contains(taskOrder[:], t):
			fields["tasks"] = "must list only: " + strings.Join(taskOrder[:], ", ")
		case t == TaskSessions && m.Reason != ReasonExposure:
			fields["tasks"] = "sessions runs only with reason suspected-exposure"
		}
	}
	switch {
	case m.OrgID != "" && m.Reason != ReasonExposure:
		fields["org_id"] = "is only allowed with reason suspected-exposure"
	case len(m.OrgID) > 128 || strings.ContainsFunc(m.OrgID, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		fields["org_id"] = "must be at most 128 printable ASCII characters"
	}
	if len(fields) > 0 {
		return &MessageError{Fields: fields}
	}
	return nil
}

// plan returns the tasks m runs, in run order: the listed ones (all when
// none is listed), sessions only on suspected exposure.
func (m Message) plan() []string {
	var out []string
	for _, t := range taskOrder {
		listed := len(m.Tasks) == 0 || slices.Contains(m.Tasks, t)
		if m.Reason == ReasonEvents {
			listed = t == TaskOutbox
		}
		if t == TaskSessions {
			listed = listed && m.Reason == ReasonExposure
		}
		if listed {
			out = append(out, t)
		}
	}
	return out
}

// checkNoDuplicates rejects an object that names a field twice (compared
// as encoding/json compares names, ignoring case): the last value would
// silently win.
func checkNoDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("is not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errors.New("is not a JSON object")
		}
		name, _ := tok.(string)
		key := strings.ToLower(name)
		if seen[key] {
			return errors.New("names a field twice")
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return errors.New("is not a JSON object")
		}
	}
	return nil
}

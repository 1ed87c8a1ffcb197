package rotate

import (
	"encoding/json"
	"fmt"
	"time"
)

// Task statuses in a [Report].
const (
	StatusPending = "pending" // not run yet (a crashed run resumes here)
	StatusDone    = "done"
	StatusSkipped = "skipped" // nothing registered to do it, or not applicable
	StatusFailed  = "failed"
)

// Report is the structured result of a run: written to the run record after
// every task (so a resumed run knows what is done), logged, and printed by
// `gatehouse rotate`. It holds counts and ids, never a secret.
type Report struct {
	RunID      string       `json:"run_id"`
	Reason     string       `json:"reason"`
	DryRun     bool         `json:"dry_run"`
	OrgID      string       `json:"org_id,omitempty"`
	StartedAt  time.Time    `json:"started_at"`
	FinishedAt time.Time    `json:"finished_at,omitzero"`
	DurationMS int64        `json:"duration_ms"`
	KMSCalls   int64        `json:"kms_calls"`
	Resumes    int          `json:"resumes,omitempty"` // how often the run was picked up again after a failure
	Tasks      []TaskReport `json:"tasks"`
}

// TaskReport is one task's part of a [Report]. DurationMS and KMSCalls add
// up over the attempts of a resumed run; Counts are those of the last
// attempt (a resumed re-encryption counts only what it moved itself).
type TaskReport struct {
	Task       string           `json:"task"`
	Status     string           `json:"status"`
	Note       string           `json:"note,omitempty"`
	Counts     map[string]int64 `json:"counts,omitempty"`
	KMSCalls   int64            `json:"kms_calls"`
	DurationMS int64            `json:"duration_ms"`
	Error      string           `json:"error,omitempty"`
}

// Progress is reported while a long task runs.
type Progress struct {
	Task  string
	Done  int64
	Total int64
}

func newReport(id string, m Message, started time.Time) Report {
	rep := Report{RunID: id, Reason: m.Reason, DryRun: m.DryRun, OrgID: m.OrgID, StartedAt: started}
	for _, t := range m.plan() {
		rep.Tasks = append(rep.Tasks, TaskReport{Task: t, Status: StatusPending})
	}
	return rep
}

func decodeReport(s string) (Report, error) {
	var rep Report
	if err := json.Unmarshal([]byte(s), &rep); err != nil {
		return rep, fmt.Errorf("decode stored report: %w", err)
	}
	return rep, nil
}

func (rep Report) encode() string {
	b, err := json.Marshal(rep)
	if err != nil {
		panic(err) // a Report always encodes
	}
	return string(b)
}

// Task returns the report of task t, or nil if the run does not do t.
func (rep *Report) Task(t string) *TaskReport {
	for i := range rep.Tasks {
		if rep.Tasks[i].Task == t {
			return &rep.Tasks[i]
		}
	}
	return nil
}

// Count returns a count of task t (0 when absent).
func (rep *Report) Count(t, name string) int64 {
	if tr := rep.Task(t); tr != nil {
		return tr.Counts[name]
	}
	return 0
}

// summary is the audit metadata of a run: statuses and totals, no counts
// keyed by names a reader might mistake for secrets.
func (rep Report) summary() map[string]any {
	tasks := map[string]any{}
	for _, t := range rep.Tasks {
		tasks[t.Task] = t.Status
	}
	return map[string]any{"run_id": rep.RunID, "reason": rep.Reason, "dry_run": rep.DryRun,
		"org_id": rep.OrgID, "tasks": tasks, "kms_calls": rep.KMSCalls, "duration_ms": rep.DurationMS}
}

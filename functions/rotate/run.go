package rotate

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// leaseName is the one lease every run takes.
const leaseName = "rotate"

var (
	// ErrDuplicate means the run was not started because the same run id
	// is running elsewhere or already finished: the message is handled,
	// acknowledge it.
	ErrDuplicate = errors.New("rotate: run already running or finished")
	// ErrBusy means another run holds the lease: retry later.
	ErrBusy = errors.New("rotate: another run holds the lease")
	// ErrLeaseLost means the run lost its lease (it could not renew it in
	// time) and stopped; the next delivery resumes it.
	ErrLeaseLost = errors.New("rotate: lease lost")
)

// Request is one run to perform.
type Request struct {
	// ID names the run: the Pub/Sub message id, so a redelivery resumes or
	// is recognized as done; a fresh random id for the CLI.
	ID      string
	Message Message
	// Actor is the audit actor (default "system:rotate").
	Actor string
	// Progress, if set, is called while long tasks run.
	Progress func(Progress)
}

// run is the state of one run in progress.
type run struct {
	req     Request
	started time.Time // of the first attempt: exposure decisions compare with it
	rep     *Report
}

func (rn *run) exposure() bool { return rn.req.Message.Reason == ReasonExposure }
func (rn *run) dry() bool      { return rn.req.Message.DryRun }

func (rn *run) progress(task string, done, total int64) {
	if rn.req.Progress != nil {
		rn.req.Progress(Progress{Task: task, Done: done, Total: total})
	}
}

// Run performs req: takes the lease, resumes the run if an earlier attempt
// of the same id stopped half way, runs each task not yet done (saving the
// report after each), records an audit event and returns the report.
//
// It returns [ErrDuplicate] (acknowledge) when the same run id is running
// elsewhere or finished, [ErrBusy] (retry later) when another run holds the
// lease, and otherwise the first task error, after recording the failure:
// the failed task and those after it run again on the next attempt. An
// events request (ReasonEvents) only sends due events (sendEvents) and
// never fails.
func (r *Rotator) Run(ctx context.Context, req Request) (Report, error) {
	if err := req.Message.Validate(); err != nil {
		return Report{}, err
	}
	if req.ID == "" {
		return Report{}, errors.New("rotate: run needs an id")
	}
	if req.Actor == "" {
		req.Actor = "system:rotate"
	}
	if req.Message.Reason == ReasonEvents {
		return r.sendEvents(ctx, req), nil
	}
	holder, err := randomID(r.rand)
	if err != nil {
		return Report{}, err
	}
	now := r.now()
	cur, err := r.store.AcquireLease(ctx, store.Lease{Name: leaseName, Holder: holder, RunID: req.ID, Expires: now.Add(r.cfg.LeaseTTL)}, now)
	switch {
	case errors.Is(err, store.ErrConflict) && cur.RunID == req.ID:
		return Report{}, fmt.Errorf("%w: run %s is running elsewhere", ErrDuplicate, req.ID)
	case errors.Is(err, store.ErrConflict):
		return Report{}, fmt.Errorf("%w: run %s until %s", ErrBusy, cur.RunID, cur.Expires.UTC().Format(time.RFC3339))
	case err != nil:
		return Report{}, fmt.Errorf("acquire rotation lease: %w", err)
	}
	defer r.store.ReleaseLease(context.WithoutCancel(ctx), leaseName, holder)
	leased, stop := r.keepLease(ctx, holder)
	defer stop()
	rep, err := r.resumeAndRun(leased, req)
	if err != nil && errors.Is(context.Cause(leased), ErrLeaseLost) {
		err = fmt.Errorf("%w: %w", ErrLeaseLost, err)
	}
	return rep, err
}

// sendEvents runs the outbox task of an events request (ReasonEvents): no
// lease, since the relay and the deliverer lease each message and delivery
// themselves and so may run beside a rotation run and each other; no
// stored report or audit event, since it runs every minute. A failure is
// logged and in the task's report, never returned: the rows stay due and
// the next minute's request tries again, so Pub/Sub need not redeliver
// (and dead-letter) the request.
func (r *Rotator) sendEvents(ctx context.Context, req Request) Report {
	rep := newReport(req.ID, req.Message, r.now())
	rn := &run{req: req, started: rep.StartedAt, rep: &rep}
	for i := range rep.Tasks {
		if err := r.runTask(ctx, rn, &rep.Tasks[i]); err != nil {
			r.d.Logger.WarnContext(ctx, "events not all sent; the next request retries", "run_id", req.ID, "error", err.Error())
		}
	}
	rep.FinishedAt = r.now()
	r.finishTimes(rn)
	return rep
}

// resumeAndRun finishes unfinished earlier runs, then runs req.
func (r *Rotator) resumeAndRun(ctx context.Context, req Request) (Report, error) {
	if err := r.resumeUnfinished(ctx, req); err != nil {
		return Report{}, err
	}
	return r.runLeased(ctx, req)
}

// maxResumes bounds how often a run is picked up again before it is
// abandoned, so that a run that cannot succeed does not block every later
// one.
const maxResumes = 5

// resumeUnfinished finishes the runs a crash (or a failure whose message
// was then dropped or acknowledged elsewhere) left unfinished, oldest first,
// before running req: the next run resumes a crashed one even when its own
// message is not redelivered. A resumed run that fails again is logged and
// left for the next run (until maxResumes); req runs regardless.
func (r *Rotator) resumeUnfinished(ctx context.Context, req Request) error {
	runs, err := r.store.RotationRuns(ctx, 10)
	if err != nil {
		return fmt.Errorf("list rotation runs: %w", err)
	}
	for i := len(runs) - 1; i >= 0; i-- {
		o := runs[i]
		if o.ID == req.ID || !o.FinishedAt.IsZero() {
			continue
		}
		rep, err := decodeReport(o.Report)
		if err != nil {
			return err
		}
		if rep.Resumes >= maxResumes {
			r.abandon(ctx, o.ID, rep)
			continue
		}
		m := Message{Reason: rep.Reason, DryRun: rep.DryRun, OrgID: rep.OrgID}
		_, err = r.runLeased(ctx, Request{ID: o.ID, Message: m, Actor: "system:rotate", Progress: req.Progress})
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("resume unfinished run %s: %w", o.ID, context.Cause(ctx))
		case err != nil && !errors.Is(err, ErrDuplicate):
			// It stays unfinished (and counts a resume); this run goes on.
			r.d.Logger.ErrorContext(ctx, "unfinished rotation run failed again", "run_id", o.ID, "error", err.Error())
		}
	}
	return nil
}

// abandon marks a run that kept failing finished, and audits it.
func (r *Rotator) abandon(ctx context.Context, id string, rep Report) {
	rep.FinishedAt = r.now()
	if err := r.store.SaveRotationRun(ctx, id, rep.encode(), rep.FinishedAt); err != nil {
		r.d.Logger.ErrorContext(ctx, "abandoned rotation run not saved", "run_id", id, "error", err.Error())
		return
	}
	r.refuse(ctx, "rotate.run_abandoned", id, fmt.Sprintf("failed %d times", rep.Resumes+1))
}

// runLeased runs req while the lease is held.
func (r *Rotator) runLeased(ctx context.Context, req Request) (Report, error) {
	fresh := newReport(req.ID, req.Message, r.now())
	stored, err := r.store.BeginRotationRun(ctx, store.RotationRun{ID: req.ID, StartedAt: fresh.StartedAt, Report: fresh.encode()})
	if err != nil {
		return Report{}, fmt.Errorf("begin rotation run: %w", err)
	}
	rep, err := decodeReport(stored.Report)
	if err != nil {
		return Report{}, err
	}
	if !stored.FinishedAt.IsZero() {
		return rep, fmt.Errorf("%w: run %s finished at %s", ErrDuplicate, req.ID, stored.FinishedAt.UTC().Format(time.RFC3339))
	}
	if stored.Report != fresh.encode() {
		rep.Resumes++
	}
	// A resumed run does what it first set out to do.
	req.Message = Message{Reason: rep.Reason, DryRun: rep.DryRun, OrgID: rep.OrgID}
	rn := &run{req: req, started: stored.StartedAt, rep: &rep}
	for i := range rep.Tasks {
		tr := &rep.Tasks[i]
		if tr.Status != StatusPending && tr.Status != StatusFailed {
			continue
		}
		taskErr := r.runTask(ctx, rn, tr)
		r.finishTimes(rn)
		if err := r.store.SaveRotationRun(context.WithoutCancel(ctx), req.ID, rep.encode(), time.Time{}); err != nil {
			return rep, fmt.Errorf("save rotation report: %w", errors.Join(taskErr, err))
		}
		if taskErr != nil {
			r.record(ctx, rn, store.OutcomeFailure)
			return rep, fmt.Errorf("rotation task %s: %w", tr.Task, taskErr)
		}
	}
	rep.FinishedAt = r.now()
	r.finishTimes(rn)
	if err := r.store.SaveRotationRun(context.WithoutCancel(ctx), req.ID, rep.encode(), rep.FinishedAt); err != nil {
		return rep, fmt.Errorf("finish rotation run: %w", err)
	}
	r.record(ctx, rn, store.OutcomeSuccess)
	return rep, nil
}

// runTask runs one task and fills tr.
func (r *Rotator) runTask(ctx context.Context, rn *run, tr *TaskReport) error {
	begin, calls := time.Now(), r.kek.Calls()
	res, err := r.dispatch(ctx, rn, tr.Task)
	tr.DurationMS += time.Since(begin).Milliseconds()
	tr.KMSCalls += r.kek.Calls() - calls
	tr.Counts, tr.Note = res.counts, res.note
	switch {
	case err != nil:
		tr.Status, tr.Error = StatusFailed, err.Error()
		r.d.Logger.ErrorContext(ctx, "rotation task failed", "run_id", rn.req.ID, "task", tr.Task, "error", err.Error())
	case res.skipped:
		tr.Status, tr.Error = StatusSkipped, ""
	default:
		tr.Status, tr.Error = StatusDone, ""
	}
	r.d.Telemetry.Metrics.Rotation(ctx, tr.Task, tr.Status, res.counts)
	return err
}

// result is what a task did.
type result struct {
	counts  map[string]int64
	note    string
	skipped bool
}

func (r *Rotator) dispatch(ctx context.Context, rn *run, task string) (result, error) {
	switch task {
	case TaskDataKeys:
		return r.dataKeys(ctx, rn)
	case TaskSigningKeys:
		return r.signingKeys(ctx, rn)
	case TaskSessions:
		return r.revokeSessions(ctx, rn)
	case TaskReencrypt:
		return r.reencrypt(ctx, rn)
	case TaskRewrap:
		return r.rewrap(ctx, rn)
	case TaskPurge:
		return r.runPurgers(ctx, rn, r.purgers, "no purgers registered")
	case TaskRetention:
		return r.retention(ctx, rn)
	case TaskDomains:
		return r.recheckDomains(ctx, rn)
	case TaskReviews:
		return r.startReviews(ctx, rn)
	case TaskOutbox:
		return r.runPurgers(ctx, rn, r.outbox, "no outbox republisher registered")
	}
	return result{}, fmt.Errorf("unknown task %q", task)
}

// finishTimes updates the run-wide totals from the tasks.
func (r *Rotator) finishTimes(rn *run) {
	var calls, ms int64
	for _, t := range rn.rep.Tasks {
		calls += t.KMSCalls
		ms += t.DurationMS
	}
	rn.rep.KMSCalls, rn.rep.DurationMS = calls, ms
}

// record writes the run's audit event and log line. A failure to audit is
// logged: the run's effects are already committed and its report stored.
func (r *Rotator) record(ctx context.Context, rn *run, outcome store.Outcome) {
	ctx = context.WithoutCancel(ctx)
	_, err := r.d.Audit.Record(ctx, audit.Event{Actor: rn.req.Actor, Action: "rotate.run", Target: rn.req.ID,
		Outcome: outcome, Metadata: rn.rep.summary()})
	if err != nil {
		r.d.Logger.ErrorContext(ctx, "rotation audit event not recorded", "run_id", rn.req.ID, "error", err.Error())
	}
	level := slog.LevelInfo
	if outcome != store.OutcomeSuccess {
		level = slog.LevelError
	}
	r.d.Logger.Log(ctx, level, "rotation run "+string(outcome), "run_id", rn.req.ID, "report", *rn.rep)
}

// keepLease renews the lease every renewEvery until stop is called. If a
// renewal finds the lease lost, the returned context is cancelled with
// [ErrLeaseLost] so the run stops before another run's lease is trampled.
func (r *Rotator) keepLease(ctx context.Context, holder string) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.renewEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				now := r.now()
				err := r.store.RenewLease(ctx, leaseName, holder, now.Add(r.cfg.LeaseTTL), now)
				if errors.Is(err, store.ErrConflict) {
					cancel(ErrLeaseLost)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// randomID returns 16 random bytes in hex.
func randomID(rnd io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("read random id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

package auth

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/accessreview"
	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// registerReviews adds the owner's access-review routes (AUTHZ-5).
func (x *ext) registerReviews(mux *http.ServeMux) {
	mux.Handle("POST /orgs/{org}/access-reviews", x.orgRoute(authz.PermRead, x.reviewStart))
	mux.Handle("GET /orgs/{org}/access-reviews/current", x.orgRoute(authz.PermRead, x.reviewCurrent))
	mux.Handle("GET /orgs/{org}/access-reviews/{id}", x.orgRoute(authz.PermRead, x.reviewGet))
	mux.Handle("POST /orgs/{org}/access-reviews/{id}/decisions", x.orgRoute(authz.PermRead, x.stepUp(x.reviewDecide)))
	mux.Handle("POST /orgs/{org}/access-reviews/{id}/complete", x.orgRoute(authz.PermRead, x.reviewComplete))
}

// reviewOwner returns the caller's membership if it is the owner's: access
// reviews are the owner's.
func reviewOwner(r *http.Request) (authz.Member, error) {
	m := orgMember(r)
	if m.Role != authz.RoleOwner {
		return m, web.Forbidden().WithCause(errors.New("access reviews are owner-only"))
	}
	return m, nil
}

func (x *ext) starter() accessreview.Starter {
	return accessreview.Starter{Store: x.d.Store, Audit: x.d.Audit, Notifier: x.d.Notifier, Config: x.d.Config, Rand: x.d.Rand}
}

// reviewStart answers POST /orgs/{org}/access-reviews (owner): starts a
// review, or answers the open one (200).
func (x *ext) reviewStart(w http.ResponseWriter, r *http.Request) error {
	m, err := reviewOwner(r)
	if err != nil {
		return err
	}
	rv, started, err := x.starter().Start(r.Context(), m.OrgID, m.UserID, x.d.Now())
	if err != nil {
		return web.Unavailable(err)
	}
	status := http.StatusOK
	if started {
		status = http.StatusCreated
	}
	return x.writeReview(w, r, rv, status)
}

// reviewCurrent answers GET /orgs/{org}/access-reviews/current (owner).
func (x *ext) reviewCurrent(w http.ResponseWriter, r *http.Request) error {
	m, err := reviewOwner(r)
	if err != nil {
		return err
	}
	rv, err := x.d.Store.OpenAccessReview(r.Context(), m.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	return x.writeReview(w, r, rv, http.StatusOK)
}

// reviewGet answers GET /orgs/{org}/access-reviews/{id} (owner).
func (x *ext) reviewGet(w http.ResponseWriter, r *http.Request) error {
	m, err := reviewOwner(r)
	if err != nil {
		return err
	}
	rv, err := x.d.Store.AccessReview(r.Context(), m.OrgID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	return x.writeReview(w, r, rv, http.StatusOK)
}

func (x *ext) writeReview(w http.ResponseWriter, r *http.Request, rv store.AccessReview, status int) error {
	rep, err := accessreview.Build(r.Context(), x.d.Store, rv, x.d.Now())
	if err != nil {
		return web.Unavailable(err)
	}
	return web.WriteJSON(w, status, rep)
}

// reviewDecide answers POST /orgs/{org}/access-reviews/{id}/decisions
// (owner, step-up) {"user_id", "decision": "confirm"|"revoke"}. Revoking
// removes the membership in the same transaction as the decision and its
// audit event; the owner's own membership cannot be revoked.
func (x *ext) reviewDecide(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		UserID   string `json:"user_id"`
		Decision string `json:"decision"`
	}
	if err := extDecode(r, &req, func(v *web.Validator) {
		v.Length("user_id", req.UserID, 1, 128)
		v.OneOf("decision", req.Decision, store.ReviewConfirm, store.ReviewRevoke)
	}); err != nil {
		return err
	}
	m, err := reviewOwner(r)
	if err != nil {
		return err
	}
	ctx, now, id := r.Context(), x.d.Now(), r.PathValue("id")
	err = x.d.Store.Tx(ctx, func(tx store.Store) error {
		if _, err := orgActor(r, tx); err != nil {
			return err
		}
		target, err := tx.LockMember(ctx, m.OrgID, req.UserID)
		if err != nil {
			return err
		}
		if req.Decision == store.ReviewRevoke {
			if target.Role == store.RoleOwner {
				return web.Conflict("owner", "The owner's membership cannot be revoked; transfer ownership first.")
			}
			if _, err := tx.RemoveMember(ctx, m.OrgID, req.UserID); err != nil {
				return err
			}
		}
		meta := map[string]any{"review": id, "role": target.Role}
		if req.Decision == store.ReviewRevoke {
			ended, err := x.endSSOSessions(ctx, tx, req.UserID, m.OrgID, now, "access_review_revoked")
			if err != nil {
				return err
			}
			meta["sessions_ended"] = ended
			err = x.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberRemoved,
				events.MemberData{OrgID: target.OrgID, UserID: target.UserID, Role: target.Role, By: "api"}))
			if err != nil {
				return err
			}
		}
		d := store.AccessReviewDecision{ReviewID: id, UserID: req.UserID, Decision: req.Decision, DecidedBy: m.UserID, DecidedAt: now}
		if err := tx.SetAccessReviewDecision(ctx, m.OrgID, d); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "org.access_review." + req.Decision,
			Target: "user:" + req.UserID, Metadata: meta})
	})
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, map[string]string{"user_id": req.UserID, "decision": req.Decision})
}

// reviewComplete answers POST /orgs/{org}/access-reviews/{id}/complete
// (owner).
func (x *ext) reviewComplete(w http.ResponseWriter, r *http.Request) error {
	m, err := reviewOwner(r)
	if err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("id")
	err = x.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.CompleteAccessReview(ctx, m.OrgID, id, m.UserID, x.d.Now()); err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "org.access_review.complete", Target: "review:" + id})
	})
	if err != nil {
		return orgStoreError(err)
	}
	rv, err := x.d.Store.AccessReview(ctx, m.OrgID, id)
	if err != nil {
		return web.Unavailable(err)
	}
	return x.writeReview(w, r, rv, http.StatusOK)
}

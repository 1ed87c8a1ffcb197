package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// An organization has at most one open access review; decisions are
// recorded in an open review only; completion closes it; overdue lists
// organizations with no review completed since the date asked.
//
// Controls: AUTHZ-5, AUTHZ-3
func testAccessReviews(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "u-a", map[string]string{"u-1": "viewer"})
	newOrg(t, s, "org-b", "u-b", nil)
	r1 := store.AccessReview{ID: "ar-1", OrgID: "org-a", StartedBy: "schedule", StartedAt: epoch}
	if err := s.CreateAccessReview(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccessReview(ctx, store.AccessReview{ID: "ar-2", OrgID: "org-a", StartedBy: "u-a", StartedAt: epoch}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second open review: err = %v", err)
	}
	if err := s.CreateAccessReview(ctx, store.AccessReview{ID: "ar-x", OrgID: "org-x", StartedAt: epoch}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("review of a missing organization: err = %v", err)
	}
	if got, err := s.OpenAccessReview(ctx, "org-a"); err != nil || got.ID != "ar-1" || got.StartedBy != "schedule" || !got.CompletedAt.IsZero() {
		t.Fatalf("OpenAccessReview = %+v, %v", got, err)
	}
	if _, err := s.AccessReview(ctx, "org-b", "ar-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization's review: err = %v", err)
	}
	d := store.AccessReviewDecision{ReviewID: "ar-1", UserID: "u-1", Decision: store.ReviewConfirm, DecidedBy: "u-a", DecidedAt: epoch}
	if err := s.SetAccessReviewDecision(ctx, "org-b", d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("decision through another organization: err = %v", err)
	}
	if err := s.SetAccessReviewDecision(ctx, "org-a", d); err != nil {
		t.Fatal(err)
	}
	d.Decision = store.ReviewRevoke
	if err := s.SetAccessReviewDecision(ctx, "org-a", d); err != nil {
		t.Fatal(err)
	}
	if got, err := s.AccessReviewDecisions(ctx, "ar-1"); err != nil || len(got) != 1 || got[0].Decision != store.ReviewRevoke {
		t.Fatalf("decisions = %+v, %v", got, err)
	}
	later := epoch.Add(24 * time.Hour)
	overdue, err := s.OverdueAccessReviews(ctx, later, 10)
	if err != nil || len(overdue) != 2 || overdue[0].OrgID != "org-a" || !overdue[0].OpenSince.Equal(epoch) || !overdue[0].LastCompleted.IsZero() {
		t.Fatalf("overdue before any completion = %+v, %v", overdue, err)
	}
	if err := s.CompleteAccessReview(ctx, "org-a", "ar-1", "u-a", later); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteAccessReview(ctx, "org-a", "ar-1", "u-a", later); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("complete twice: err = %v", err)
	}
	if err := s.SetAccessReviewDecision(ctx, "org-a", d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("decision in a completed review: err = %v", err)
	}
	if _, err := s.OpenAccessReview(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open review after completion: err = %v", err)
	}
	overdue, err = s.OverdueAccessReviews(ctx, later, 10)
	if err != nil || len(overdue) != 1 || overdue[0].OrgID != "org-b" {
		t.Fatalf("overdue after completion = %+v, %v", overdue, err)
	}
	overdue, err = s.OverdueAccessReviews(ctx, later.Add(time.Hour), 10)
	if err != nil || len(overdue) != 2 || !overdue[0].LastCompleted.Equal(later) || !overdue[0].OpenSince.IsZero() {
		t.Fatalf("overdue a period later = %+v, %v", overdue, err)
	}
	if err := s.CreateAccessReview(ctx, store.AccessReview{ID: "ar-3", OrgID: "org-a", StartedBy: "u-a", StartedAt: later}); err != nil {
		t.Fatalf("new review after completion: %v", err)
	}
}

package store

import (
	"context"
	"time"
)

// AccessReview is one review of an organization's members by its owner
// (AUTHZ-5). At most one per organization is open (CompletedAt zero).
type AccessReview struct {
	ID          string
	OrgID       string
	StartedBy   string // a user id, or "schedule"
	StartedAt   time.Time
	CompletedBy string
	CompletedAt time.Time
}

// Decisions on a member in a review.
const (
	ReviewConfirm = "confirm"
	ReviewRevoke  = "revoke"
)

// AccessReviewDecision is the owner's decision on one member in a review.
type AccessReviewDecision struct {
	ReviewID  string
	UserID    string
	Decision  string // ReviewConfirm or ReviewRevoke
	DecidedBy string
	DecidedAt time.Time
}

// OverdueAccessReview is an organization whose last completed review is
// older than asked (zero LastCompleted: never reviewed).
type OverdueAccessReview struct {
	OrgID         string
	OrgCreatedAt  time.Time
	LastCompleted time.Time
	OpenSince     time.Time // start of the open review, zero if none
}

// AccessReviews stores access reviews and their decisions.
type AccessReviews interface {
	// CreateAccessReview inserts r. Returns ErrConflict if the
	// organization has an open review, ErrNotFound if it does not exist.
	CreateAccessReview(ctx context.Context, r AccessReview) error
	// OpenAccessReview returns orgID's open review, or ErrNotFound.
	OpenAccessReview(ctx context.Context, orgID string) (AccessReview, error)
	// AccessReview returns review id of orgID, or ErrNotFound.
	AccessReview(ctx context.Context, orgID, id string) (AccessReview, error)
	// SetAccessReviewDecision records (or replaces) a decision in an open
	// review of orgID. Returns ErrNotFound if the review is not open.
	SetAccessReviewDecision(ctx context.Context, orgID string, d AccessReviewDecision) error
	// AccessReviewDecisions returns the decisions of a review, by user id.
	AccessReviewDecisions(ctx context.Context, reviewID string) ([]AccessReviewDecision, error)
	// CompleteAccessReview closes the open review id of orgID. Returns
	// ErrNotFound if it is not open.
	CompleteAccessReview(ctx context.Context, orgID, id, by string, at time.Time) error
	// OverdueAccessReviews returns up to limit organizations created
	// before since with no review completed since, oldest first.
	OverdueAccessReviews(ctx context.Context, since time.Time, limit int) ([]OverdueAccessReview, error)
}

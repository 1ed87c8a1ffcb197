package rotate

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/accessreview"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// The access-reviews task opens a review for each organization with none
// completed in the last quarter and tells its owner once; a review left
// open is not opened again.
//
// Controls: AUTHZ-5
func TestScheduledAccessReviews(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			ctx := context.Background()
			now := f.Clock.Now()
			f.user(t, "owner-1")
			if err := f.Store.CreateOrg(ctx, store.Org{ID: "org-1", Name: "One", CreatedAt: now}, "owner-1"); err != nil {
				t.Fatal(err)
			}
			rot := f.rotator(t, testConfig())
			rep, err := rot.Run(ctx, Request{ID: "young", Message: schedule(TaskReviews)})
			if err != nil || rep.Count(TaskReviews, "started") != 0 {
				t.Fatalf("a new organization got a review: %v %+v", err, rep)
			}
			f.Clock.Advance(accessreview.Period + time.Hour)
			rep, err = rot.Run(ctx, Request{ID: "due", Message: schedule(TaskReviews)})
			if err != nil || rep.Count(TaskReviews, "started") != 1 {
				t.Fatalf("due organization: %v %+v", err, rep)
			}
			open, err := f.Store.OpenAccessReview(ctx, "org-1")
			if err != nil || open.StartedBy != accessreview.StartedBySchedule {
				t.Fatalf("open review %+v, %v", open, err)
			}
			msgs, err := f.Mailbox.List()
			if err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, m := range msgs {
				if m.Kind == accessreview.KindAccessReview && m.OrgID == "org-1" {
					sent++
				}
			}
			if sent != 1 {
				t.Fatalf("owner notices: %d", sent)
			}
			rep, err = rot.Run(ctx, Request{ID: "again", Message: schedule(TaskReviews)})
			if err != nil || rep.Count(TaskReviews, "started") != 0 || rep.Count(TaskReviews, "open") != 1 {
				t.Fatalf("second run: %v %+v", err, rep)
			}
		})
	}
}

package auth

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/accessreview"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// adminOverdueJSON is an organization whose access review is overdue.
type adminOverdueJSON struct {
	OrgID         string     `json:"org_id"`
	OrgCreatedAt  time.Time  `json:"org_created_at"`
	LastCompleted *time.Time `json:"last_completed_at"`
	OpenSince     *time.Time `json:"open_since"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// handleAdminOverdueReviews serves GET /admin/access-reviews/overdue:
// organizations older than a review period with no review completed in
// the last one (?limit=, at most the user page size), oldest first.
func (s *Server) handleAdminOverdueReviews(w http.ResponseWriter, r *http.Request, c adminCall) error {
	_, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	list, err := s.d.Store.OverdueAccessReviews(r.Context(), s.d.Now().Add(-accessreview.Period), limit)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := s.recordAdmin(r.Context(), c, "admin.access_review.overdue", "", map[string]any{"results": len(list)}); err != nil {
		return err
	}
	out := make([]adminOverdueJSON, 0, len(list))
	for _, o := range list {
		out = append(out, adminOverdueJSON{OrgID: o.OrgID, OrgCreatedAt: o.OrgCreatedAt.UTC(), LastCompleted: timePtr(o.LastCompleted),
			OpenSince: timePtr(o.OpenSince)})
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"overdue": out, "period_days": int(accessreview.Period / (24 * time.Hour))})
}

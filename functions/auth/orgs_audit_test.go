package auth

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// Owners and admins fetch an inclusion proof for their organization's
// event, which verifies offline with the published public key alone;
// another organization's event is not found through their path, and
// operators get 403. Anyone fetches checkpoints and a consistency proof
// between two of them.
//
// Controls: AUDIT-5, AUDIT-4, AUTHZ-3
func TestOrgAuditProof(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		te.Env.IntegrateAudit(t)
		var key struct {
			PublicKey string `json:"public_key"`
		}
		extDecodeBody(t, te.do(t, "GET", "/audit/public-key", nil), http.StatusOK, &key)
		var older struct {
			Size       int64  `json:"size"`
			Checkpoint string `json:"checkpoint"`
		}
		extDecodeBody(t, te.do(t, "GET", "/audit/checkpoint", nil), http.StatusOK, &older)

		var trail struct {
			Events []auditEventJSON `json:"events"`
		}
		extDecodeBody(t, te.do(t, "GET", "/orgs/"+w.A+"/audit", nil, bearer(w.tokens["adminA"].AccessToken)), http.StatusOK, &trail)
		if len(trail.Events) == 0 {
			t.Fatal("empty trail")
		}
		seq := trail.Events[len(trail.Events)-1].Seq
		path := fmt.Sprintf("/orgs/%s/audit/%d/proof", w.A, seq)
		for _, caller := range []string{"ownerA", "adminA"} {
			var bundle auditproof.InclusionBundle
			extDecodeBody(t, te.do(t, "GET", path, nil, bearer(w.tokens[caller].AccessToken)), http.StatusOK, &bundle)
			if cp, err := bundle.Verify(key.PublicKey); err != nil || bundle.Event.Seq != seq || bundle.Event.OrgID != w.A {
				t.Fatalf("%s: proof of %d: %+v, %v", caller, seq, cp, err)
			}
			bundle.Event.Target = "forged"
			if _, err := bundle.Verify(key.PublicKey); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("a changed event still verifies: %v", err)
			}
		}
		for _, tc := range []struct {
			caller, path string
			want         int
		}{
			{"operatorA", path, http.StatusForbidden},
			{"ownerB", path, http.StatusForbidden},
			{"ownerB", fmt.Sprintf("/orgs/%s/audit/%d/proof", w.B, seq), http.StatusNotFound}, // A's event through B's path
			{"ownerA", fmt.Sprintf("/orgs/%s/audit/%d/proof", w.A, 1<<40), http.StatusNotFound},
			{"ownerA", fmt.Sprintf("/orgs/%s/audit/0/proof", w.A), http.StatusBadRequest},
			{"ownerA", path + "?size=abc", http.StatusBadRequest},
		} {
			if rec := te.do(t, "GET", tc.path, nil, bearer(w.tokens[tc.caller].AccessToken)); rec.Code != tc.want {
				t.Errorf("%s GET %s: %d %s, want %d", tc.caller, tc.path, rec.Code, rec.Body, tc.want)
			}
		}

		// The log grows; the new checkpoint extends the old one.
		te.signUp(t, "later@example.com", testPassword)
		te.Env.IntegrateAudit(t)
		var c auditproof.ConsistencyBundle
		extDecodeBody(t, te.do(t, "GET", fmt.Sprintf("/audit/consistency?from=%d", older.Size), nil), http.StatusOK, &c)
		o, n, err := c.Verify(key.PublicKey)
		if err != nil || int64(o.Size) != older.Size || n.Size <= o.Size || c.Older != older.Checkpoint {
			t.Fatalf("consistency %d -> %d: %v", o.Size, n.Size, err)
		}
		for _, q := range []string{"", "?from=0", "?from=x", fmt.Sprintf("?from=%d&to=1", older.Size)} {
			if rec := te.do(t, "GET", "/audit/consistency"+q, nil); rec.Code != http.StatusBadRequest && rec.Code != http.StatusNotFound {
				t.Errorf("consistency%s: %d %s", q, rec.Code, rec.Body)
			}
		}
	})
}

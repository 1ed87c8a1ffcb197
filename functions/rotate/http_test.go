package rotate

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// The local HTTP form runs a message and answers the report; bad input is
// a structured 400, a run in progress a 409, and deployed environments do
// not offer the route at all.
//
// Controls: CRED-8, APP-1, APP-5
func TestHTTPRun(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			f.sealAcrossKeys(t, 90, 2)
			f.Clock.Advance(2 * time.Hour)
			h, err := f.rotator(t, testConfig()).Handler()
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name, body string
				status     int
				code       string
			}{
				{"invalid reason", `{"reason":"now"}`, http.StatusBadRequest, "invalid_request"},
				{"unknown field", `{"reason":"schedule","x":1}`, http.StatusBadRequest, "invalid_request"},
				{"not JSON", `{`, http.StatusBadRequest, "invalid_json"},
				{"run", `{"reason":"schedule","tasks":["data-keys","reencrypt"]}`, http.StatusOK, ""},
			} {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
				req.Header.Set("Content-Type", "application/json")
				h.ServeHTTP(rec, req)
				if rec.Code != tc.status {
					t.Fatalf("%s: status %d, want %d: %s", tc.name, rec.Code, tc.status, rec.Body)
				}
				if tc.code != "" {
					var e struct {
						Error struct{ Code string } `json:"error"`
					}
					if json.Unmarshal(rec.Body.Bytes(), &e); e.Error.Code != tc.code {
						t.Fatalf("%s: error code %q, want %q", tc.name, e.Error.Code, tc.code)
					}
					continue
				}
				var rep Report
				if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
					t.Fatal(err)
				}
				if rep.Count(TaskReencrypt, "resealed") != 90 || rep.Task(TaskDataKeys).Status != StatusDone {
					t.Fatalf("report: %s", rec.Body)
				}
			}
			f.checkAll(t)

			// A run elsewhere holds the lease.
			if _, err := f.Store.AcquireLease(context.Background(), store.Lease{Name: leaseName, Holder: "other", RunID: "o",
				Expires: f.Clock.Now().Add(time.Hour)}, f.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"reason":"schedule"}`))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "rotation_running") {
				t.Fatalf("busy: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

// Controls: APP-5
func TestHTTPRunNotDeployed(t *testing.T) {
	f := newFixture(t, "sqlite")
	f.Config.Env = config.EnvProd
	r := f.rotator(t, testConfig())
	h, err := r.Handler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"reason":"schedule"}`))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("deployed POST /rotate: status %d, want 404", rec.Code)
	}
	if runs, _ := f.Store.RotationRuns(context.Background(), 1); len(runs) != 0 {
		t.Fatal("a run was started")
	}
}

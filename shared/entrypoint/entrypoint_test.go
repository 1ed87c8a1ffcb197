package entrypoint

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

var errMissingSecret = errors.New("GATEHOUSE_STRIPE_WEBHOOK_SECRET: required")

// Controls: APP-5, CRED-9
func TestTargetedFunctionDoesNotStartWithoutItsConfiguration(t *testing.T) {
	var failed []string
	saved := startFailed
	startFailed = func(name string, err error) { failed = append(failed, name+": "+err.Error()) }
	t.Cleanup(func() { startFailed = saved })
	t.Setenv("FUNCTION_TARGET", "Webhooks")

	httpHandler("Webhooks", func(context.Context) (http.Handler, error) { return nil, errMissingSecret })
	if len(failed) != 1 || failed[0] != "Webhooks: build Webhooks: "+errMissingSecret.Error() {
		t.Fatalf("start failures = %q, want the targeted function to stop at start", failed)
	}
	built := false
	httpHandler("Auth", func(context.Context) (http.Handler, error) { built = true; return nil, errMissingSecret })
	if built || len(failed) != 1 {
		t.Fatal("a function that is not the target was built at import")
	}
}

// Controls: APP-5
func TestUnbuiltFunctionAnswers503AndRetries(t *testing.T) {
	attempts := 0
	h := httpHandler("Local", func(context.Context) (http.Handler, error) {
		attempts++
		if attempts == 1 {
			return nil, errMissingSecret
		}
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	if attempts != 0 {
		t.Fatal("built before the first request")
	}
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusTeapot, http.StatusTeapot} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != want {
			t.Fatalf("request %d: %d, want %d", i, rec.Code, want)
		}
		if want == http.StatusServiceUnavailable && rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("503 is not the JSON error shape: %q", rec.Header().Get("Content-Type"))
		}
	}
	if attempts != 2 {
		t.Fatalf("built %d times, want 2 (one failure, then once for good)", attempts)
	}
}

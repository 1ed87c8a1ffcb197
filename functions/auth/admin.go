package auth

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/operator"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// The admin API: operators (Google service accounts, or the local admin
// token in development) act on users and organizations. Every call names
// its reason in the ReasonHeader and is audited with the operator and the
// reason before its answer is sent; a call that cannot be audited fails.

// ReasonHeader carries the mandatory reason of every admin call.
const ReasonHeader = "Gatehouse-Admin-Reason"

// Bounds of a reason, in characters.
const (
	minReasonLen = 3
	maxReasonLen = 500
)

// limitAdminNetwork bounds admin calls per client network, checked before
// the credential: each forged ID token with an unknown key id makes the
// verifier fetch the issuer's keys again, so unauthenticated callers must
// not be able to make that unbounded.
var limitAdminNetwork = ratelimit.AdminNetwork

var (
	errOperator = &web.Error{Status: http.StatusUnauthorized, Code: "operator_unauthenticated",
		Message: "An operator's Google ID token for this API is required."}
	errReason = web.BadRequest("reason_required",
		"Say why in the "+ReasonHeader+" header ("+strconv.Itoa(minReasonLen)+" to "+strconv.Itoa(maxReasonLen)+" characters).")
)

// loadAdminConfig reads who may call the admin API. Only a development
// environment may point ID-token verification anywhere but Google.
func loadAdminConfig(l *config.Loader) operator.Config {
	c := operator.Config{
		Audience: l.String("GATEHOUSE_ADMIN_AUDIENCE", ""),
		Accounts: l.List("GATEHOUSE_ADMIN_ACCOUNTS", nil),
		Issuer:   l.String("GATEHOUSE_ADMIN_ISSUER", ""),
		JWKSURL:  l.String("GATEHOUSE_ADMIN_JWKS_URL", ""),
	}
	if l.Env().Deployed() {
		if c.Issuer != "" && c.Issuer != operator.GoogleIssuer {
			l.Fail("GATEHOUSE_ADMIN_ISSUER", "only Google's issuer ("+operator.GoogleIssuer+") is allowed outside dev")
		}
		if c.JWKSURL != "" && c.JWKSURL != operator.GoogleJWKSURL {
			l.Fail("GATEHOUSE_ADMIN_JWKS_URL", "only Google's keys ("+operator.GoogleJWKSURL+") are allowed outside dev")
		}
	}
	if len(c.Accounts) > 0 && c.Audience == "" {
		l.Fail("GATEHOUSE_ADMIN_AUDIENCE", "required when GATEHOUSE_ADMIN_ACCOUNTS is set (the admin API's URL)")
	}
	return c
}

// adminCall is an authenticated admin request: who and why.
type adminCall struct {
	op     operator.Identity
	reason string
}

// event returns an audit event of the call: the operator as actor, the
// reason and how the operator authenticated in its metadata.
func (c adminCall) event(action, target string, meta map[string]any) audit.Event {
	m := map[string]any{"reason": c.reason, "via": c.op.Via}
	for k, v := range meta {
		m[k] = v
	}
	return audit.Event{Actor: "operator:" + c.op.Email, Action: action, Target: target, Metadata: m}
}

type adminFunc func(w http.ResponseWriter, r *http.Request, c adminCall) error

// adminRoutes registers the admin API under /admin.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /admin/users", s.admin(s.handleAdminUsers))
	mux.Handle("GET /admin/users/{id}", s.admin(s.handleAdminUser))
	mux.Handle("POST /admin/users/{id}/disable", s.admin(s.handleAdminDisable))
	mux.Handle("POST /admin/users/{id}/enable", s.admin(s.handleAdminEnable))
	mux.Handle("POST /admin/users/{id}/sessions/revoke", s.admin(s.handleAdminRevokeSessions))
	mux.Handle("POST /admin/users/{id}/mfa/reset", s.admin(s.handleAdminResetMFA))
	mux.Handle("POST /admin/users/{id}/verification", s.admin(s.handleAdminResendVerification))
	mux.Handle("DELETE /admin/users/{id}", s.admin(s.handleAdminDelete))
	mux.Handle("GET /admin/orgs", s.admin(s.handleAdminOrgs))
	mux.Handle("GET /admin/orgs/{id}", s.admin(s.handleAdminOrg))
	mux.Handle("POST /admin/orgs/{id}/owner", s.admin(s.handleAdminTransferOwner))
	mux.Handle("GET /admin/access-reviews/overdue", s.admin(s.handleAdminOverdueReviews))
	mux.Handle("GET /admin/event-deliveries", s.admin(s.handleAdminEventDeliveries))
	mux.Handle("POST /admin/event-deliveries/{id}/redeliver", s.admin(s.handleAdminRedeliver))
}

// admin limits the caller's network, authenticates the operator and reads
// the reason before f runs.
// Cookies and Gatehouse access tokens are never operator credentials.
func (s *Server) admin(f adminFunc) http.Handler {
	return web.Handler(s.d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		if err := s.limit(r.Context(), ratelimit.Check{Limit: limitAdminNetwork, Key: s.network(r)}); err != nil {
			return err
		}
		op, err := s.operators.Verify(r.Context(), r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
			s.d.Logger.WarnContext(r.Context(), "admin call refused", "route", r.Pattern, "error", err.Error())
			return errOperator.WithCause(err)
		}
		reason, ok := adminReason(r)
		if !ok {
			return errReason
		}
		return f(w, r, adminCall{op: op, reason: reason})
	})
}

// adminReason returns the call's reason, false if it is missing, too short
// or long, not UTF-8 or holds control characters.
func adminReason(r *http.Request) (string, bool) {
	reason := strings.TrimSpace(r.Header.Get(ReasonHeader))
	n := utf8.RuneCountInString(reason)
	if n < minReasonLen || n > maxReasonLen || !utf8.ValidString(reason) {
		return "", false
	}
	if strings.ContainsFunc(reason, unicode.IsControl) {
		return "", false
	}
	return reason, true
}

// recordAdmin audits a call that changes nothing (a read). The answer is
// sent only once the event is recorded: a read that cannot be audited
// fails (503).
func (s *Server) recordAdmin(ctx context.Context, c adminCall, action, target string, meta map[string]any) error {
	if _, err := s.d.Audit.Record(ctx, c.event(action, target, meta)); err != nil {
		return web.Unavailable(err)
	}
	return nil
}

// pageQuery reads the "after" and "limit" query parameters of a list.
func pageQuery(r *http.Request) (after string, limit int, err error) {
	q := r.URL.Query()
	after, limit = q.Get("after"), 50
	v := web.NewValidator()
	v.Length("after", after, 0, 320)
	if raw := q.Get("limit"); raw != "" {
		n, convErr := strconv.Atoi(raw)
		v.Require(convErr == nil && n >= 1 && n <= store.MaxUserPage, "limit",
			"must be an integer from 1 to "+strconv.Itoa(store.MaxUserPage))
		limit = n
	}
	return after, limit, v.Err()
}

// validID checks a path id: printable, bounded.
func validPathID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return web.NotFound()
	}
	return nil
}

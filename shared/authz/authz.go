package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// ErrNotMember means the user has no membership in the organization.
var ErrNotMember = errors.New("authz: not a member of the organization")

// Authorizer checks permissions against the store.
type Authorizer struct {
	store   policyStore
	now     func() time.Time
	audit   *audit.Log
	limiter *ratelimit.Limiter
	denials *audit.Sampler // bounds authz.deny events per user and reason
	logger  *slog.Logger
	hops    int // trusted proxy hops, for the client network in audit events
}

// policyStore is what the Authorizer reads: memberships, roles,
// organizations' sign-in policies, and a session's last refresh (idle
// timeout).
type policyStore interface {
	store.Orgs
	store.OrgPolicies
	SessionCheck(ctx context.Context, id string) (store.Session, error)
}

// LimitDenialsUser bounds the refused requests of one user: past it, a
// request that would be refused is answered 429 (and not audited), so a
// user cannot make the audit log, or the store, pay for a flood of
// forbidden requests.
var LimitDenialsUser = ratelimit.AuthzDenialsUser

// Denial sampling: per user and reason, the first denialAuditBurst
// denials in each denialAuditWindow are audited; the rest are counted and
// reported as "suppressed" by the next audited one (as rejected webhooks
// are).
const (
	denialAuditBurst  = 10
	denialAuditWindow = time.Minute
)

// New returns an Authorizer reading memberships from d.Store. Denials are
// limited per user with d.Limiter, sampled, recorded in d.Audit (AUDIT-1),
// and failures logged to d.Logger.
func New(d *bootstrap.Deps) *Authorizer {
	return &Authorizer{store: d.Store, now: d.Now, audit: d.Audit, limiter: d.Limiter, logger: d.Logger,
		hops: d.Config.TrustedProxyHops, denials: audit.NewSampler(denialAuditBurst, denialAuditWindow, d.Now)}
}

type memberKey struct{}

// MemberFrom returns the member [Authorizer.Require] put in ctx.
func MemberFrom(ctx context.Context) (Member, bool) {
	m, ok := ctx.Value(memberKey{}).(Member)
	return m, ok
}

// WithMember returns ctx carrying m, as [Authorizer.Require] does.
func WithMember(ctx context.Context, m Member) context.Context {
	return context.WithValue(ctx, memberKey{}, m)
}

// OrgFromPath returns an org extractor reading the path wildcard name
// (routes like "GET /orgs/{org}/members").
func OrgFromPath(name string) func(*http.Request) string {
	return func(r *http.Request) string { return r.PathValue(name) }
}

// OrgFromQuery returns an org extractor reading the query parameter name.
func OrgFromQuery(name string) func(*http.Request) string {
	return func(r *http.Request) string { return r.URL.Query().Get(name) }
}

// Member returns userID's standing in orgID with its permissions: those of
// its built-in role, or of the organization's custom role of that name (none
// if the role no longer exists). Returns [ErrNotMember] if userID is not a
// member.
func (a *Authorizer) Member(ctx context.Context, orgID, userID string) (Member, error) {
	row, err := a.store.Member(ctx, orgID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return Member{}, ErrNotMember
	}
	if err != nil {
		return Member{}, err
	}
	perms, err := RolePermissions(ctx, a.store, orgID, row.Role)
	if err != nil {
		return Member{}, err
	}
	return Member{UserID: userID, OrgID: orgID, Role: row.Role, Permissions: perms}, nil
}

// RolePermissions returns what role grants in orgID, read through s (a
// transaction, to decide on a consistent view): a built-in role's
// permissions, a custom role's (built-in-only ones dropped), or none for a
// role the organization does not have.
func RolePermissions(ctx context.Context, s store.Orgs, orgID, role string) ([]Permission, error) {
	if perms, ok := BuiltinPermissions(role); ok {
		return perms, nil
	}
	r, err := s.OrgRole(ctx, orgID, role)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Permission
	for _, n := range r.Permissions {
		if p := Permission(n); p.Valid() && !p.BuiltinOnly() {
			out = append(out, p)
		}
	}
	return out, nil
}

// Require returns middleware that lets a request through only if the
// signed-in user (a session Principal in the context: run it after the
// session middleware) is a member of the organization orgFrom names and
// holds perm. It then puts the [Member] in the context ([MemberFrom]).
// Everything else is denied: no principal is 401, no organization, no
// membership, an unknown perm or a role without it are 403 (the same 403
// whether or not the organization exists, so ids cannot be probed), a
// member whose session the organization's policy does not admit gets its
// answer (mfa_required, session_too_old: AUTHZ-5), and a store failure is
// 503.
func (a *Authorizer) Require(perm Permission, orgFrom func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return web.Handler(a.logger, func(w http.ResponseWriter, r *http.Request) error {
			m, err := a.check(r, perm, orgFrom(r))
			if err != nil {
				return err
			}
			next.ServeHTTP(w, r.WithContext(WithMember(r.Context(), m)))
			return nil
		})
	}
}

// check decides one request.
func (a *Authorizer) check(r *http.Request, perm Permission, orgID string) (Member, error) {
	ctx := r.Context()
	p, ok := session.FromContext(ctx)
	userID := p.UserID
	if !ok || userID == "" {
		return Member{}, web.Unauthorized("unauthenticated", "Sign in first.")
	}
	if orgID == "" || !perm.Valid() {
		return Member{}, a.deny(r, userID, "", orgID, perm, "bad_request")
	}
	m, err := a.Member(ctx, orgID, userID)
	switch {
	case errors.Is(err, ErrNotMember):
		return Member{}, a.deny(r, userID, "", orgID, perm, "not_member")
	case err != nil:
		return Member{}, web.Unavailable(fmt.Errorf("load membership: %w", err))
	case !m.Can(perm):
		return Member{}, a.deny(r, userID, orgID, orgID, perm, "missing_permission")
	}
	if err := a.admit(ctx, p, orgID, a.now()); err != nil {
		return Member{}, err
	}
	m.Checked = perm
	return m, nil
}

// Recheck decides again, inside tx, the transaction of a state change,
// what [Authorizer.Require] decided before the handler ran: it re-reads
// m's membership with the organization locked until tx ends
// ([store.Orgs.LockMember]) and returns it with its current role and
// permissions, or a 403 if m is no longer a member holding m.Checked. A
// concurrent demotion, removal or role edit therefore either committed
// first, and is seen here, or waits for the change to commit: it cannot
// let one through on a stale check. Use the returned Member, not m, for
// every further check in tx (what the caller may grant or act on).
func Recheck(ctx context.Context, tx store.Orgs, m Member) (Member, error) {
	row, err := tx.LockMember(ctx, m.OrgID, m.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Member{}, web.Forbidden().WithCause(fmt.Errorf("recheck: %s left org %s", m.UserID, m.OrgID))
	}
	if err != nil {
		return Member{}, fmt.Errorf("recheck membership: %w", err)
	}
	perms, err := RolePermissions(ctx, tx, m.OrgID, row.Role)
	if err != nil {
		return Member{}, err
	}
	fresh := Member{UserID: m.UserID, OrgID: m.OrgID, Role: row.Role, Permissions: perms, Checked: m.Checked}
	if !fresh.Can(m.Checked) {
		return Member{}, web.Forbidden().WithCause(fmt.Errorf("recheck: %s no longer holds %s in org %s", m.UserID, m.Checked, m.OrgID))
	}
	return fresh, nil
}

// deny spends one of the user's refusals ([LimitDenialsUser]: past it the
// answer is 429; a limiter that cannot answer is a 503), records the
// refusal if the sampler admits it, and returns the 403. A refusal to a
// non-member is recorded outside the organization (auditOrg ""), so one
// tenant's trail does not name users of another.
func (a *Authorizer) deny(r *http.Request, userID, auditOrg, orgID string, perm Permission, reason string) error {
	if a.limiter != nil {
		if err := ratelimit.HTTPError(a.limiter.Allow(r.Context(), LimitDenialsUser, userID)); err != nil {
			return err
		}
	}
	if a.audit == nil {
		return web.Forbidden()
	}
	ok, suppressed := a.denials.Admit(userID + "|" + reason)
	if !ok {
		return web.Forbidden()
	}
	meta := map[string]any{"permission": string(perm), "reason": reason, "route": r.Pattern}
	if suppressed > 0 {
		meta["suppressed"] = suppressed
	}
	_, err := a.audit.Record(r.Context(), audit.Event{Actor: userID, OrgID: auditOrg, Action: "authz.deny",
		Target: "org:" + orgID, Outcome: store.OutcomeDenied, Network: network(r, a.hops), Metadata: meta})
	if err != nil {
		return web.Unavailable(fmt.Errorf("record authorization denial: %w", err))
	}
	return web.Forbidden()
}

// Grants reports whether m may hand out (or act on a member holding)
// perms: only what m holds itself, so no one can raise a member, or
// themselves, above their own permissions.
func Grants(m Member, perms []Permission) bool {
	for _, p := range perms {
		if !slices.Contains(m.Permissions, p) {
			return false
		}
	}
	return true
}

// network is the client network of r for the audit trail.
func network(r *http.Request, hops int) string {
	p := web.Network(web.ClientIP(r, hops))
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

package oauthcallback

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/provider"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// flowCookie names the cookies that carry a flow's state nonce: the
// callback accepts a state only from the browser holding it. Lax, not
// Strict, because the callback is a cross-site top-level navigation from
// the platform. Each flow has its own cookie (see flowCookieName), so a
// browser can run several flows at once.
const flowCookie = "__Host-gatehouse-oauth"

// flowCookieName is the name of the cookie of the flow whose nonce is
// nonce: the prefix and 12 hex digits of the nonce's SHA-256, which the
// callback recomputes from the state.
func flowCookieName(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return flowCookie + "-" + hex.EncodeToString(sum[:6])
}

// setFlowCookie starts a flow's cookie.
func setFlowCookie(w http.ResponseWriter, nonce string) {
	http.SetCookie(w, &http.Cookie{Name: flowCookieName(nonce), Value: nonce, Path: "/", MaxAge: int(oauthstate.TTL.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// clearFlowCookie ends the cookie called name.
func clearFlowCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// maxLabelLen bounds an account label.
const maxLabelLen = 100

var errUnknownPlatform = &web.Error{Status: http.StatusNotFound, Code: "unknown_platform",
	Message: "This platform is not available."}

// connect starts a connection: POST /connect/{platform}?org=&return_to=
// [&shop=][&label=]. It answers 200 {"authorization_url"}, where the app
// then sends the browser, and sets the flow cookie. A POST, so a cookie
// session must pass the Origin and CSRF checks (APP-3): no page of another
// site can start a flow on a member's session. It writes nothing to the
// database.
func (s *server) connect(w http.ResponseWriter, r *http.Request) error {
	p, err := s.registry.Lookup(r.PathValue("platform"))
	if err != nil {
		return errUnknownPlatform.WithCause(err)
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	m, _ := authz.MemberFrom(r.Context())
	st, err := s.connectState(r, p)
	if err != nil {
		return err
	}
	st.OrgID, st.UserID = m.OrgID, m.UserID
	tok, st, err := s.states.Issue(r.Context(), st)
	if err != nil {
		return web.Unavailable(err)
	}
	cfg, err := p.Config(s.callbackURL(p.Name), st.Shop)
	if err != nil {
		return err
	}
	setFlowCookie(w, st.Nonce)
	web.NoStore(w)
	return web.WriteJSON(w, http.StatusOK, map[string]string{"authorization_url": p.AuthCodeURL(cfg, tok, st.Verifier)})
}

// connectState validates the query of a connect request into a state.
func (s *server) connectState(r *http.Request, p *provider.Provider) (oauthstate.State, error) {
	q, err := strictQuery(r.URL.Query(), "org", "return_to", "shop", "label")
	if err != nil {
		return oauthstate.State{}, err
	}
	st := oauthstate.State{Kind: oauthstate.KindConnect, Platform: p.Name}
	fields := map[string]string{}
	if st.ReturnTo, err = s.returns.Check(q["return_to"]); err != nil {
		fields["return_to"] = "must be a path on the app or a URL on an allowed origin"
	}
	if p.PerShop {
		if st.Shop, err = provider.NormalizeShop(q["shop"]); err != nil {
			fields["shop"] = "must be a shop's myshopify.com domain"
		}
	} else if st.Label = q["label"]; !validLabel(st.Label) {
		fields["label"] = fmt.Sprintf("at most %d printable characters", maxLabelLen)
	}
	if len(fields) > 0 {
		return st, web.Invalid(fields)
	}
	return st, nil
}

// strictQuery returns the single values of q, refusing unknown and
// repeated parameters (APP-1).
func strictQuery(q url.Values, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	fields := map[string]string{}
	for k, vs := range q {
		switch {
		case !slices.Contains(allowed, k):
			fields[k] = "unknown parameter"
		case len(vs) != 1:
			fields[k] = "must be given once"
		default:
			out[k] = vs[0]
		}
	}
	if len(fields) > 0 {
		return nil, web.Invalid(fields)
	}
	return out, nil
}

// validLabel accepts an empty label or up to maxLabelLen printable runes.
func validLabel(s string) bool {
	if len([]rune(s)) > maxLabelLen || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// redirectOrJSON sends the browser to location, or gives it to an API
// client that asked for JSON (a single-page app that then navigates).
func redirectOrJSON(w http.ResponseWriter, r *http.Request, location string) error {
	web.NoStore(w)
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		return web.WriteJSON(w, http.StatusOK, map[string]string{"authorization_url": location})
	}
	http.Redirect(w, r, location, http.StatusFound)
	return nil
}

package oauthcallback

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/crewjam/saml"

	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxSAMLResponse bounds the base64 SAMLResponse the ACS reads.
const maxSAMLResponse = 192 << 10

// samlACSNetwork limits ACS posts per client network: each verifies an XML
// signature.
var samlACSNetwork = ratelimit.SAMLACSNetwork

// samlFlowCookie is the prefix of a SAML flow's cookie. The identity
// provider posts the response from its own site, so the cookie is
// SameSite=None (a Lax cookie would not come with a cross-site POST); it
// is Secure, HttpOnly, named after the flow's RelayState and holds the
// flow's sealed state.
const samlFlowCookie = "gh_saml_flow"

func samlFlowCookieName(relay string) string {
	sum := sha256.Sum256([]byte(relay))
	return samlFlowCookie + "-" + hex.EncodeToString(sum[:6])
}

// samlRelayPrefix starts every RelayState Gatehouse sends. The RelayState
// of the HTTP-Redirect binding must not exceed 80 bytes (SAML 2.0
// Bindings, 3.4.3), which a sealed state does not fit: the RelayState is a
// handle derived from the state's secret nonce (29 bytes), and the sealed
// state travels in the flow cookie named after it.
const samlRelayPrefix = "ghs1_"

// samlRelay is the RelayState of flow st.
func samlRelay(st oauthstate.State) string {
	sum := sha256.Sum256([]byte("saml-relay\x00" + st.Nonce))
	return samlRelayPrefix + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// samlRequestID is the ID of the AuthnRequest of flow st: derived from the
// state's secret nonce, so the ACS knows which InResponseTo to accept
// without storing anything.
func samlRequestID(st oauthstate.State) string {
	sum := sha256.Sum256([]byte("saml-request\x00" + st.Nonce))
	return "_" + hex.EncodeToString(sum[:20])
}

// samlAuthURL starts a SAML flow (sign-in, or a link for linkUser): the
// browser gets the flow cookie holding the sealed state, the RelayState
// names it ([samlRelay]), and the answer is the identity provider's
// HTTP-Redirect URL with the AuthnRequest.
func (s *server) samlAuthURL(w http.ResponseWriter, r *http.Request, orgID, returnTo, linkUser string) (string, error) {
	if orgID == "" {
		return "", errUnknownProvider
	}
	c, err := s.d.Store.SAMLConfig(r.Context(), orgID)
	if errors.Is(err, store.ErrNotFound) {
		return "", errUnknownProvider
	} else if err != nil {
		return "", web.Unavailable(err)
	}
	sp, err := s.samlSP(r.Context(), c)
	if err != nil {
		return "", web.Unavailable(err)
	}
	tok, st, err := s.states.Issue(r.Context(), oauthstate.State{Kind: oauthstate.KindSignIn, Platform: signInSAML,
		OrgID: orgID, UserID: linkUser, Link: linkUser != "", ReturnTo: returnTo})
	if err != nil {
		return "", web.Unavailable(err)
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding),
		saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", web.Unavailable(fmt.Errorf("saml authn request: %w", err))
	}
	req.ID = samlRequestID(st)
	relay := samlRelay(st)
	u, err := req.Redirect(relay, sp)
	if err != nil {
		return "", web.Unavailable(fmt.Errorf("saml redirect: %w", err))
	}
	http.SetCookie(w, &http.Cookie{Name: samlFlowCookieName(relay), Value: tok, Path: "/",
		MaxAge: int(oauthstate.TTL.Seconds()), Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	return u.String(), nil
}

// samlACS answers POST /saml/{org}/acs, the assertion consumer service
// (HTTP-POST binding). In order: rate limit per network; the organization's
// configuration; the flow (a RelayState that is a state of this
// organization's SAML flow, bound to this browser by its cookie; without
// one, only if the owner allowed IdP-initiated sign-in); the response
// ([parseSAMLResponse]: signature, issuer, destination, InResponseTo,
// audience, recipient, times, replay); the address (at one of the
// organization's verified domains, AUTH-13); then the same ending as an
// OIDC SSO sign-in: link, or the linked user's session after the
// organization's policy and just-in-time provisioning, or the e-mailed
// confirmation of a first sign-in. Every refusal is audited. One before
// the flow is known (rate limit, form, configuration, RelayState and
// cookie) is a structured 4xx (5xx only when the store is unavailable);
// one after it (the response, the address, the policy) sends the browser
// to the flow's return URL with ?signin_error=<code>, as the OIDC
// callback does.
func (s *server) samlACS(w http.ResponseWriter, r *http.Request) error {
	web.NoStore(w)
	ctx := r.Context()
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(ctx, samlACSNetwork, s.network(r))); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLResponse+8192)
	if err := r.ParseForm(); err != nil {
		return samlRefusal("saml_invalid_response", err)
	}
	orgID := r.PathValue("org")
	c, err := s.d.Store.SAMLConfig(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return errUnknownProvider
	} else if err != nil {
		return web.Unavailable(err)
	}
	st, requestIDs, err := s.samlFlow(w, r, c)
	if err != nil {
		var we *web.Error
		if errors.As(err, &we) {
			s.auditSignInFailure(r, oauthstate.State{Platform: signInSAML, OrgID: orgID}, we.Code)
		}
		return err
	}
	location, err := s.completeSAML(w, r, c, st, requestIDs)
	if err != nil {
		var fe *flowError
		if !errors.As(err, &fe) {
			fe = &flowError{code: "server_error", cause: err}
		}
		s.logger.InfoContext(ctx, "saml sign-in refused", "org_id", orgID, "error_code", fe.code, "error", fe.cause.Error())
		s.auditSignInFailure(r, st, fe.code)
		if st.ReturnTo == "" {
			return samlRefusal(fe.code, fe.cause)
		}
		// The flow is trusted: the browser goes back to the app with the
		// code, as an OIDC callback's refusal does, so the pages can say
		// what happened.
		http.Redirect(w, r, withParams(st.ReturnTo, "signin_error", fe.code), http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, location, http.StatusSeeOther)
	return nil
}

// samlFlow returns the flow a response arrives in and the request ids it
// may answer. A RelayState of Gatehouse's form ([samlRelay]) must come
// with its browser's flow cookie, which must hold this organization's
// SAML state whose nonce gives that RelayState; a response with none (or
// with a RelayState of the identity provider's own) is unsolicited,
// accepted only when the owner allowed IdP-initiated sign-in, and returns
// to the default sign-in return URL.
func (s *server) samlFlow(w http.ResponseWriter, r *http.Request, c store.SAMLConfig) (oauthstate.State, []string, error) {
	relay := r.PostForm.Get("RelayState")
	if strings.HasPrefix(relay, samlRelayPrefix) {
		ck, err := r.Cookie(samlFlowCookieName(relay))
		if err != nil {
			return oauthstate.State{}, nil, samlRefusal("invalid_state", errors.New("no flow cookie with the response"))
		}
		// The cookie holds the sealed state; the RelayState must be the
		// one derived from its nonce, so a state from another cookie or
		// flow does not pass for this one.
		st, err := s.states.Verify(r.Context(), oauthstate.KindSignIn, ck.Value, "")
		switch {
		case errors.Is(err, oauthstate.ErrExpired):
			return oauthstate.State{}, nil, samlRefusal("expired_state", err)
		case !errors.Is(err, oauthstate.ErrBrowser) || st.Platform != signInSAML || st.OrgID != c.OrgID || samlRelay(st) != relay:
			return oauthstate.State{}, nil, samlRefusal("invalid_state", fmt.Errorf("flow cookie does not hold this flow's state: %v", err))
		}
		if st, err = s.states.Verify(r.Context(), oauthstate.KindSignIn, ck.Value, st.Nonce); err != nil {
			return oauthstate.State{}, nil, samlRefusal("invalid_state", err)
		}
		http.SetCookie(w, &http.Cookie{
			Name: samlFlowCookieName(relay), Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		return st, []string{samlRequestID(st)}, nil
	}
	if !c.AllowIDPInitiated {
		return oauthstate.State{}, nil, samlRefusal("saml_unsolicited", errors.New("unsolicited response and IdP-initiated sign-in is off"))
	}
	return oauthstate.State{Kind: oauthstate.KindSignIn, Platform: signInSAML, OrgID: c.OrgID, ReturnTo: s.signInReturn}, nil, nil
}

// completeSAML checks the response and ends the sign-in or link as an OIDC
// SSO one ends.
func (s *server) completeSAML(w http.ResponseWriter, r *http.Request, c store.SAMLConfig, st oauthstate.State, requestIDs []string) (string, error) {
	ctx := r.Context()
	sp, err := s.samlSP(ctx, c)
	if err != nil {
		return "", fail("unavailable", err)
	}
	assertion, err := parseSAMLResponse(sp, r.PostForm, requestIDs)
	if err != nil {
		return "", err
	}
	id, err := samlIdentity(assertion)
	if err != nil {
		return "", err
	}
	if err := s.orgDomain(ctx, c.OrgID, id.email); err != nil {
		return "", err
	}
	p := &idp{name: samlProvider(c.OrgID), sso: store.SSOConfig{OrgID: c.OrgID, ProvisionRole: c.ProvisionRole}}
	if st.Link {
		return withParams(st.ReturnTo, "signin_linked", signInSAML), s.linkIdentity(ctx, r, p, id, st)
	}
	userID, err := s.signInLinked(ctx, p, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.signInPending(ctx, p, id, st)
	} else if err != nil {
		return "", err
	}
	if err := s.ssoPolicy(ctx, userID, c.OrgID); err != nil {
		return "", err
	}
	if err := s.provision(r, p.sso, userID); err != nil {
		return "", err
	}
	return s.startSession(w, r, userID, st.ReturnTo, p)
}

// samlProvider is the provider name an organization's SAML identities are
// linked under: one per organization, so no other tenant's identity
// provider can speak for them.
func samlProvider(orgID string) string { return "saml:" + orgID }

// parseSAMLResponse reads and verifies the HTTP-POST form of a SAML
// response with sp: exactly one SAMLResponse, no artifact, base64 of at
// most maxSAMLResponse, then the library's checks. Its errors are
// *flowError with a stable code. It is the parser of attacker bytes the
// fuzz test drives.
func parseSAMLResponse(sp *saml.ServiceProvider, form map[string][]string, requestIDs []string) (*saml.Assertion, error) {
	if len(form["SAMLart"]) > 0 {
		return nil, fail("saml_invalid_response", errors.New("artifact binding is not supported"))
	}
	if len(form["SAMLResponse"]) != 1 || len(form["SAMLResponse"][0]) > maxSAMLResponse {
		return nil, fail("saml_invalid_response", errors.New("no single SAMLResponse of bounded size"))
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, form["SAMLResponse"][0]))
	if err != nil {
		return nil, fail("saml_invalid_response", fmt.Errorf("base64: %w", err))
	}
	assertion, err := sp.ParseXMLResponse(raw, requestIDs, sp.AcsURL)
	if err != nil {
		return nil, fail(samlErrorCode(err), samlCause(err))
	}
	return assertion, nil
}

func dropSpace(r rune) rune {
	switch r {
	case '\r', '\n', ' ', '\t':
		return -1
	}
	return r
}

// samlCause is the library's private reason for a refused response (its
// Error() is deliberately vague).
func samlCause(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return ire.PrivateErr
	}
	return err
}

// samlErrorCode classifies a refused response.
func samlErrorCode(err error) string {
	err = samlCause(err)
	switch {
	case errors.Is(err, saml.ErrAssertionReplayed):
		return "saml_replayed"
	case errors.Is(err, saml.ErrInvalidSignature), errors.Is(err, saml.ErrUntrustedCertificate),
		errors.Is(err, saml.ErrCertificateNotValidNow),
		// Neither the response nor the assertion signed: the library's
		// sentinel for it is not exported.
		strings.Contains(err.Error(), "signature element not present"):
		return "saml_signature_invalid"
	case errors.Is(err, saml.ErrAudienceMismatch), errors.Is(err, saml.ErrDestinationMismatch),
		errors.Is(err, saml.ErrIssuerMismatch):
		return "saml_audience_mismatch"
	case errors.Is(err, saml.ErrExpired), errors.Is(err, saml.ErrNotYetValid):
		return "saml_expired"
	case errors.Is(err, saml.ErrRequestIDMismatch):
		return "saml_unsolicited"
	case isStoreFailure(err):
		return "unavailable"
	}
	return "saml_invalid_response"
}

// isStoreFailure reports a replay cache that could not record: the
// sign-in fails closed, as unavailable.
func isStoreFailure(err error) bool {
	var se *storeError
	return errors.As(err, &se)
}

// storeError marks a replay cache failure.
type storeError struct{ err error }

func (e *storeError) Error() string { return "replay cache: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// Attribute names identity providers put an e-mail address under: the
// plain ones, Entra ID's claim URI, and the LDAP OID.
var samlEmailAttributes = []string{"email", "mail", "emailaddress", "Email", "EmailAddress",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "urn:oid:0.9.2342.19200300.100.1.3"}

// samlIdentity is who an assertion vouches for: the NameID as the subject
// (a transient NameID changes at every sign-in and cannot be linked), the
// address from an e-mail attribute or an e-mail NameID. The identity
// provider is trusted for addresses only at the organization's verified
// domains, checked after this.
func samlIdentity(a *saml.Assertion) (who, error) {
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) == "" {
		return who{}, fail("saml_no_email", errors.New("assertion without a NameID"))
	}
	n := a.Subject.NameID
	if n.Format == string(saml.TransientNameIDFormat) {
		return who{}, fail("saml_no_email", errors.New("transient NameID cannot identify an account"))
	}
	id := who{subject: strings.TrimSpace(n.Value), emailVerified: true}
	if len(id.subject) > 512 {
		return who{}, fail("saml_no_email", errors.New("NameID too long"))
	}
	var name string
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if len(at.Values) == 0 {
				continue
			}
			v := strings.TrimSpace(at.Values[0].Value)
			for _, want := range samlEmailAttributes {
				if (at.Name == want || at.FriendlyName == want) && id.email == "" {
					id.email = strings.ToLower(v)
				}
			}
			if at.Name == "displayName" || at.Name == "http://schemas.microsoft.com/identity/claims/displayname" || at.Name == "name" {
				name = v
			}
		}
	}
	if id.email == "" && (n.Format == string(saml.EmailAddressNameIDFormat) || web.ValidEmail(strings.ToLower(n.Value))) {
		id.email = strings.ToLower(strings.TrimSpace(n.Value))
	}
	if !web.ValidEmail(id.email) {
		return who{}, fail("saml_no_email", errors.New("assertion without an e-mail address"))
	}
	id.name = name
	return id, nil
}

// samlRefusals are the ACS's answers to a refused response, by flow code.
var samlRefusals = map[string]*web.Error{
	"saml_invalid_response": {Status: http.StatusBadRequest, Code: "saml_invalid_response",
		Message: "The single sign-on response was refused."},
	"saml_signature_invalid": {Status: http.StatusBadRequest, Code: "saml_signature_invalid",
		Message: "The single sign-on response is not signed by the organization's identity provider."},
	"saml_audience_mismatch": {Status: http.StatusBadRequest, Code: "saml_audience_mismatch",
		Message: "The single sign-on response was meant for another service or organization."},
	"saml_expired": {Status: http.StatusBadRequest, Code: "saml_expired",
		Message: "The single sign-on response has expired or is not yet valid. Sign in again."},
	"saml_replayed": {Status: http.StatusBadRequest, Code: "saml_replayed",
		Message: "This single sign-on response was already used. Sign in again."},
	"saml_no_email": {Status: http.StatusBadRequest, Code: "saml_no_email",
		Message: "The identity provider sent no e-mail address Gatehouse can use."},
	"saml_unsolicited": {Status: http.StatusForbidden, Code: "saml_unsolicited",
		Message: "The response answers no sign-in started here, and the organization does not accept sign-in started at the identity provider."},
	"invalid_state": {Status: http.StatusBadRequest, Code: "invalid_state",
		Message: "This sign-in is invalid or was started in another browser. Start again from the app."},
	"expired_state": {Status: http.StatusBadRequest, Code: "expired_state",
		Message: "This sign-in has expired. Start again from the app."},
	"domain_not_allowed": {Status: http.StatusForbidden, Code: "domain_not_allowed",
		Message: "The identity provider cannot sign in addresses outside the organization's verified domains."},
	"email_mismatch": {Status: http.StatusForbidden, Code: "email_mismatch",
		Message: "The identity provider vouches for another address than the account's."},
	"address_not_proven": {Status: http.StatusForbidden, Code: "address_not_proven",
		Message: "Confirm your e-mail address first, then link."},
	"not_a_member": {Status: http.StatusForbidden, Code: "not_a_member",
		Message: "Only members of the organization can link its sign-in provider."},
	"identity_in_use": {Status: http.StatusConflict, Code: "identity_in_use",
		Message: "This identity is linked to another account."},
}

// samlRefusal is the ACS's answer to a refused response: a structured 4xx
// by code, sso_required and account_disabled as elsewhere, 503 when the
// store or something else inside failed.
func samlRefusal(code string, cause error) error {
	switch code {
	case "sso_required":
		return &web.Error{Status: http.StatusForbidden, Code: "sso_required",
			Message: "Your organization requires signing in through its single sign-on.", Err: cause}
	case "account_disabled":
		return &web.Error{Status: http.StatusForbidden, Code: "account_disabled", Message: "This account is disabled.", Err: cause}
	}
	if e, ok := samlRefusals[code]; ok {
		return e.WithCause(cause)
	}
	return web.Unavailable(cause)
}

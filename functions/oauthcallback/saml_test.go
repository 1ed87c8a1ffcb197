package oauthcallback

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const idpEntityID = "https://idp.example.net/metadata"

// samlEnv is the function with org A's SAML single sign-on configured to a
// test IdP, and corp.example.com verified by org A.
type samlEnv struct {
	*testEnv
	idp *testIdP
}

func newSAMLEnv(t *testing.T, e *testEnv, idpInitiated bool) *samlEnv {
	t.Helper()
	e.verifyDomain(t, "corp.example.com")
	s := &samlEnv{testEnv: e, idp: newTestIdP(t, idpEntityID, e.Clock.Now)}
	s.configure(t, idpInitiated, http.StatusOK)
	return s
}

// configure saves org A's SAML configuration as its owner.
func (s *samlEnv) configure(t *testing.T, idpInitiated bool, want int) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"idp_metadata": s.idp.metadata(t), "provision_role": "viewer",
		"allow_idp_initiated": idpInitiated})
	rec := s.do(t, http.MethodPut, "/saml?org="+orgA, string(body), append(bearer(s.users["ownerA"]), jsonBody...)...)
	if rec.Code != want {
		t.Fatalf("configure SAML: %d %s", rec.Code, rec.Body)
	}
	return rec
}

// start begins an SP-initiated sign-in and returns the AuthnRequest as the
// IdP reads it and the flow cookie as a Cookie header value.
func (s *samlEnv) start(t *testing.T) (samlAuthn, string) {
	t.Helper()
	rec := s.do(t, http.MethodGet, "/signin/saml?org="+orgA+"&return_to=/home", "")
	if rec.Code != http.StatusFound {
		t.Fatalf("saml start: %d %s", rec.Code, rec.Body)
	}
	req := readAuthnRequest(t, rec.Header().Get("Location"))
	var cookie string
	for _, c := range rec.Result().Cookies() {
		if strings.HasPrefix(c.Name, samlFlowCookie+"-") {
			if c.SameSite != http.SameSiteNoneMode || !c.Secure || !c.HttpOnly {
				t.Fatalf("flow cookie %+v", c)
			}
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" || req.RelayState == "" || req.ID == "" {
		t.Fatalf("start: cookie %q, request %+v", cookie, req)
	}
	// SAML 2.0 Bindings 3.4.3: a RelayState of at most 80 bytes.
	if len(req.RelayState) > 80 {
		t.Fatalf("RelayState of %d bytes: %q", len(req.RelayState), req.RelayState)
	}
	return req, cookie
}

// post delivers a response to org's ACS as the browser does.
func (s *samlEnv) post(t *testing.T, org, samlResponse, relay, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"SAMLResponse": {samlResponse}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	hdr := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if cookie != "" {
		hdr = append(hdr, "Cookie", cookie)
	}
	return s.do(t, http.MethodPost, "/saml/"+org+"/acs", form.Encode(), hdr...)
}

// signIn runs a whole SP-initiated sign-in of email and returns the ACS
// answer.
func (s *samlEnv) signIn(t *testing.T, email string) *httptest.ResponseRecorder {
	t.Helper()
	req, cookie := s.start(t)
	return s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: email}), req.RelayState, cookie)
}

// refused checks a structured 4xx with code and no session.
func refused(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if rec.Code != status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s", rec.Code, rec.Body, status, code)
	}
	if sessionCookie(rec) != "" {
		t.Fatal("a refused response set a session cookie")
	}
}

// sentBack fails t unless the ACS refused a response of a trusted flow by
// sending the browser back to the app with ?signin_error=code, and signed
// no one in.
func sentBack(t *testing.T, rec *httptest.ResponseRecorder, code string) {
	t.Helper()
	if got := landed(t, rec).Get("signin_error"); got != code {
		t.Fatalf("ACS sent the browser back with signin_error %q, want %q", got, code)
	}
	if sessionCookie(rec) != "" {
		t.Fatal("a refused response set a session cookie")
	}
}

// landed returns the query of the ACS's redirect to the app.
func landed(t *testing.T, rec *httptest.ResponseRecorder) url.Values {
	t.Helper()
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusSeeOther || err != nil || loc.Host != "app.example.com" {
		t.Fatalf("ACS: %d Location %q, body %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return loc.Query()
}

// enroll runs the first sign-in of email: the ACS answers
// signin_pending=email, and the e-mailed confirmation creates the account
// linked to the SAML identity. Returns the user id.
func (s *samlEnv) enroll(t *testing.T, email string) string {
	t.Helper()
	rec := s.signIn(t, email)
	if landed(t, rec).Get("signin_pending") != "email" || sessionCookie(rec) != "" {
		t.Fatalf("first sign-in: %q", rec.Header().Get("Location"))
	}
	conf := s.confirm(t, email)
	var resp session.TokenResponse
	if conf.Code != http.StatusOK || json.Unmarshal(conf.Body.Bytes(), &resp) != nil || resp.UserID == "" {
		t.Fatalf("confirm: %d %s", conf.Code, conf.Body)
	}
	s.Logs.Plant(resp.AccessToken, resp.RefreshToken)
	return resp.UserID
}

// The whole SP-initiated sign-in against an IdP in the test process: SP
// metadata, AuthnRequest by HTTP-Redirect with the state as RelayState, a
// signed assertion posted to the ACS; the first sign-in ends as an OIDC
// SSO one does (e-mailed confirmation, account linked, just-in-time
// membership with the provision role), the next one in a browser session.
//
// Controls: AUTH-10, AUTH-13, AUTHZ-5
func TestSAMLSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		md := s.do(t, http.MethodGet, "/saml/"+orgA+"/metadata", "")
		if md.Code != http.StatusOK || !strings.Contains(md.Body.String(), `entityID="`+callbackBase+`/saml/org-a/metadata"`) ||
			!strings.Contains(md.Body.String(), `Location="`+callbackBase+`/saml/org-a/acs"`) ||
			!strings.Contains(md.Body.String(), `WantAssertionsSigned="true"`) {
			t.Fatalf("SP metadata: %d %s", md.Code, md.Body)
		}
		if rec := s.do(t, http.MethodGet, "/saml/org-none/metadata", ""); rec.Code != http.StatusNotFound {
			t.Fatalf("metadata of no organization: %d", rec.Code)
		}
		req, _ := s.start(t)
		if req.Issuer != callbackBase+"/saml/org-a/metadata" || req.ACS != callbackBase+"/saml/org-a/acs" {
			t.Fatalf("AuthnRequest %+v", req)
		}
		// The hosted pages' SSO button asks for /signin/oidc: for an
		// organization whose single sign-on is SAML only, that starts SAML.
		if rec := s.do(t, http.MethodGet, "/signin/oidc?org="+orgA+"&return_to=/home", ""); rec.Code != http.StatusFound ||
			readAuthnRequest(t, rec.Header().Get("Location")).ACS != callbackBase+"/saml/org-a/acs" {
			t.Fatalf("/signin/oidc for a SAML organization: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		userID := s.enroll(t, "emp@corp.example.com")
		if m, err := s.Store.Member(context.Background(), orgA, userID); err != nil || m.Role != "viewer" {
			t.Fatalf("just-in-time membership %+v, %v", m, err)
		}
		rec := s.signIn(t, "emp@corp.example.com")
		if landed(t, rec); sessionCookie(rec) == "" || !strings.HasSuffix(rec.Header().Get("Location"), "/home") {
			t.Fatalf("second sign-in: %q, session %v", rec.Header().Get("Location"), sessionCookie(rec) != "")
		}
		sessions, err := s.Store.UserSessions(context.Background(), userID, e.Clock.Now())
		if err != nil || len(sessions) == 0 || !slices.Contains(sessions[0].AuthMethods, amrOrgSSO) {
			t.Fatalf("SAML session methods %+v, %v: want the organization's SSO marked", sessions, err)
		}
		for _, sess := range sessions {
			if sess.SSOOrgID != orgA {
				t.Fatalf("SAML session %s records SSO organization %q, want %q", sess.ID, sess.SSOOrgID, orgA)
			}
		}
		ids, err := s.Store.UserIdentities(context.Background(), userID)
		if err != nil || len(ids) != 1 || ids[0].Provider != samlProvider(orgA) || ids[0].Subject != "emp@corp.example.com" {
			t.Fatalf("linked identities %+v, %v", ids, err)
		}
		// Just-in-time provisioning announces the account, its SAML
		// identity and the membership, once: the second sign-in adds none.
		eventstest.Require(t, s.Store, events.UserCreated, "user/"+userID, map[string]string{"user_id": userID, "email": "emp@corp.example.com", "by": "user"})
		eventstest.Require(t, s.Store, events.IdentityLinked, "user/"+userID, map[string]string{"user_id": userID, "provider": samlProvider(orgA)})
		eventstest.Require(t, s.Store, events.OrgMemberAdded, "org/"+orgA+"/member/"+userID,
			map[string]string{"org_id": orgA, "user_id": userID, "role": "viewer", "by": "sso"})
	})
}

// Each forged or misdirected response is refused (back to the app with
// signin_error once the flow is known, a structured 4xx before) and signs
// no one in: unsigned, signed by another key, for another audience
// or recipient, expired, replayed, for a domain the organization has not
// verified, without the browser's flow cookie, and unsolicited while
// IdP-initiated sign-in is off.
//
// Controls: AUTH-13, AUTHZ-3, AUTHZ-5
func TestSAMLRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		s.enroll(t, "emp@corp.example.com")
		const victim = "emp@corp.example.com"
		other := newTestIdP(t, idpEntityID, e.Clock.Now) // same entity id, another key

		req, cookie := s.start(t)
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: victim, unsigned: true}), req.RelayState, cookie), "saml_signature_invalid")
		sentBack(t, s.post(t, orgA, other.respond(t, req, assertionSpec{email: victim}), req.RelayState, cookie), "saml_signature_invalid")
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: victim, audience: callbackBase + "/saml/org-b/metadata"}),
			req.RelayState, cookie), "saml_audience_mismatch")
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: victim, recipient: callbackBase + "/saml/org-b/acs"}),
			req.RelayState, cookie), "saml_audience_mismatch")
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: victim, inResponseTo: "_another_request"}),
			req.RelayState, cookie), "saml_unsolicited")

		expiring := s.idp.respond(t, req, assertionSpec{email: victim, validFor: time.Minute})
		e.Clock.Advance(2 * time.Minute)
		sentBack(t, s.post(t, orgA, expiring, req.RelayState, cookie), "saml_expired")

		req, cookie = s.start(t)
		good := s.idp.respond(t, req, assertionSpec{email: victim})
		refused(t, s.post(t, orgA, good, req.RelayState, ""), http.StatusBadRequest, "invalid_state")
		refused(t, s.post(t, orgA, good, "", ""), http.StatusForbidden, "saml_unsolicited")
		// The RelayState names its own flow's cookie: the sealed state of
		// another flow of this browser put under that name does not pass
		// for it.
		_, another := s.start(t)
		name, _, _ := strings.Cut(cookie, "=")
		_, value, _ := strings.Cut(another, "=")
		refused(t, s.post(t, orgA, good, req.RelayState, name+"="+value), http.StatusBadRequest, "invalid_state")
		if rec := s.post(t, orgA, good, req.RelayState, cookie); sessionCookie(rec) == "" {
			t.Fatalf("honest response: %d %s", rec.Code, rec.Body)
		}
		sentBack(t, s.post(t, orgA, good, req.RelayState, cookie), "saml_replayed")

		// The IdP signs for an address outside the organization's verified
		// domains: refused before any account is looked up (AUTH-13).
		req, cookie = s.start(t)
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: "ceo@unverified.example.org"}), req.RelayState, cookie), "domain_not_allowed")
		// Another organization's verified domain is not this one's.
		s.claimDomain(t, s.users["ownerB"], orgB, "orgb.example.com")
		sentBack(t, s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: "x@orgb.example.com"}), req.RelayState, cookie), "domain_not_allowed")
		// Org A's response posted to org B's ACS: org B has no SAML.
		if rec := s.post(t, orgB, good, req.RelayState, cookie); rec.Code != http.StatusNotFound {
			t.Fatalf("other organization's ACS: %d %s", rec.Code, rec.Body)
		}
		if n := len(s.messages(t, "ceo@unverified.example.org", "")); n != 0 {
			t.Fatalf("%d messages to an unverified domain", n)
		}
		// Every refusal with a known organization is audited (auth.login,
		// failure): the ones above after the flow was trusted, and those of
		// the flow itself (no cookie, unsolicited).
		if n := auditFailures(t, e, "auth.login"); n != 12 {
			t.Fatalf("%d refused SAML sign-ins audited, want 12", n)
		}
	})
}

// XML signature wrapping: an attacker holding one genuinely signed
// assertion (their own, mallory@) rearranges the document so that a
// verifier checking the signature reads an unsigned assertion for the
// victim. Every arrangement is refused and no session is issued.
//
// Controls: AUTH-13, AUTHZ-5
func TestSAMLSignatureWrapping(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		s.enroll(t, "emp@corp.example.com")
		// The attacker's own signed assertion, unchanged, is accepted (for
		// mallory: a first sign-in), so each refusal below is the forgery's.
		req, cookie := s.start(t)
		honest := s.idp.assertion(t, assertionSpec{email: "mallory@corp.example.com", audience: req.Issuer,
			recipient: req.ACS, inResponseTo: req.ID})
		if q := landed(t, s.post(t, orgA, encodeDoc(t, s.idp.response(req.ACS, req.ID, honest)), req.RelayState, cookie)); q.Get("signin_pending") != "email" {
			t.Fatalf("honest assertion: %v", q)
		}
		for _, tc := range []struct {
			name  string
			forge func(req samlAuthn, signed, evil *etree.Element) *etree.Document
		}{
			{"evil assertion before the signed one", func(req samlAuthn, signed, evil *etree.Element) *etree.Document {
				return s.idp.response(req.ACS, req.ID, evil, signed)
			}},
			{"evil assertion after the signed one", func(req samlAuthn, signed, evil *etree.Element) *etree.Document {
				return s.idp.response(req.ACS, req.ID, signed, evil)
			}},
			{"evil assertion with the signed one's ID, signed one nested inside", func(req samlAuthn, signed, evil *etree.Element) *etree.Document {
				evil.CreateAttr("ID", signed.SelectAttrValue("ID", ""))
				evil.AddChild(signed)
				return s.idp.response(req.ACS, req.ID, evil)
			}},
			{"signature moved into the evil assertion, signed one in its Object", func(req samlAuthn, signed, evil *etree.Element) *etree.Document {
				evil.CreateAttr("ID", signed.SelectAttrValue("ID", ""))
				sig := signed.FindElement("./Signature")
				signed.RemoveChild(sig)
				obj := sig.CreateElement("ds:Object")
				obj.AddChild(signed)
				evil.InsertChildAt(1, sig)
				return s.idp.response(req.ACS, req.ID, evil)
			}},
			{"signed assertion inside the Response's Extensions", func(req samlAuthn, signed, evil *etree.Element) *etree.Document {
				doc := s.idp.response(req.ACS, req.ID, evil)
				ext := etree.NewElement("samlp:Extensions")
				ext.AddChild(signed)
				doc.Root().InsertChildAt(1, ext)
				return doc
			}},
			{"NameID of the signed assertion rewritten", func(req samlAuthn, signed, _ *etree.Element) *etree.Document {
				signed.FindElement("./Subject/NameID").SetText("emp@corp.example.com")
				for _, v := range signed.FindElements(".//AttributeValue") {
					if v.Text() == "mallory@corp.example.com" {
						v.SetText("emp@corp.example.com")
					}
				}
				return s.idp.response(req.ACS, req.ID, signed)
			}},
			{"comment inside the signed NameID", func(req samlAuthn, signed, _ *etree.Element) *etree.Document {
				n := signed.FindElement("./Subject/NameID")
				n.SetText("emp@corp.example.com")
				n.AddChild(etree.NewComment("x"))
				n.AddChild(etree.NewText(".mallory"))
				return s.idp.response(req.ACS, req.ID, signed)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, cookie := s.start(t)
				signed := s.idp.assertion(t, assertionSpec{email: "mallory@corp.example.com", audience: req.Issuer,
					recipient: req.ACS, inResponseTo: req.ID})
				evil := s.idp.assertion(t, assertionSpec{email: "emp@corp.example.com", audience: req.Issuer,
					recipient: req.ACS, inResponseTo: req.ID, unsigned: true})
				rec := s.post(t, orgA, encodeDoc(t, tc.forge(req, signed, evil)), req.RelayState, cookie)
				if code := landed(t, rec).Get("signin_error"); !strings.HasPrefix(code, "saml_") || sessionCookie(rec) != "" {
					t.Fatalf("wrapped response: %d Location %q", rec.Code, rec.Header().Get("Location"))
				}
			})
		}
	})
}

// IdP-initiated sign-in is refused until the owner turns it on; then an
// unsolicited signed response signs in once, and its replay is refused.
//
// Controls: AUTHZ-5, AUTH-13
func TestSAMLIdPInitiated(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		s.enroll(t, "emp@corp.example.com")
		unsolicited := func() string {
			return encodeDoc(t, s.idp.response(callbackBase+"/saml/org-a/acs", "", s.idp.assertion(t, assertionSpec{
				email: "emp@corp.example.com", audience: callbackBase + "/saml/org-a/metadata", recipient: callbackBase + "/saml/org-a/acs"})))
		}
		refused(t, s.post(t, orgA, unsolicited(), "", ""), http.StatusForbidden, "saml_unsolicited")
		s.configure(t, true, http.StatusOK)
		resp := unsolicited()
		rec := s.post(t, orgA, resp, "https://idp.example.net/some/deep/link", "")
		if landed(t, rec); sessionCookie(rec) == "" || rec.Header().Get("Location") != "https://app.example.com/" {
			t.Fatalf("IdP-initiated: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		sentBack(t, s.post(t, orgA, resp, "", ""), "saml_replayed")
	})
}

// When the organization requires SSO, a member on its verified domain
// signs in through SAML (the organization's own SSO) but no longer through
// another organization's path; the SAML sign-in of a suspended account is
// refused.
//
// Controls: AUTHZ-5
func TestSAMLWithRequiredSSO(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		s.enroll(t, "emp@corp.example.com")
		if err := s.Store.PutOrgPolicy(context.Background(), store.OrgPolicy{OrgID: orgA, RequireSSO: true,
			UpdatedBy: "user-ownerA", UpdatedAt: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if rec := s.signIn(t, "emp@corp.example.com"); sessionCookie(rec) == "" {
			t.Fatalf("SAML sign-in under require_sso: %d %s", rec.Code, rec.Body)
		}
	})
}

// Configuration: owner only, step-up, metadata checked (an IdP without a
// signing certificate or an https redirect endpoint is refused), read back
// with what the owner enters at the IdP, deleted; members cannot see it.
//
// Controls: AUTHZ-2, AUTH-12, APP-1
func TestSAMLConfiguration(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		idp := newTestIdP(t, idpEntityID, e.Clock.Now)
		owner := append(bearer(e.users["ownerA"]), jsonBody...)
		put := func(hdr []string, body map[string]any) *httptest.ResponseRecorder {
			b, _ := json.Marshal(body)
			return e.do(t, http.MethodPut, "/saml?org="+orgA, string(b), hdr...)
		}
		if rec := put(append(bearer(e.users["admin"]), jsonBody...), map[string]any{"idp_metadata": idp.metadata(t)}); rec.Code != http.StatusForbidden {
			t.Fatalf("admin configures: %d", rec.Code)
		}
		noCert := strings.Replace(idp.metadata(t), `use="signing"`, `use="encryption"`, 1)
		plain := strings.ReplaceAll(idp.metadata(t), "https://idp.example.net/sso", "http://idp.example.net/sso")
		for name, body := range map[string]map[string]any{
			"no metadata":      {},
			"both":             {"idp_metadata": idp.metadata(t), "idp_metadata_url": "https://idp.example.net/md"},
			"not xml":          {"idp_metadata": "{}"},
			"no signing cert":  {"idp_metadata": noCert},
			"plain http sso":   {"idp_metadata": plain},
			"unknown field":    {"idp_metadata": idp.metadata(t), "allowed_domains": []string{"x"}},
			"metadata too big": {"idp_metadata": strings.Repeat("x", maxSAMLMetadata+1)},
		} {
			if rec := put(owner, body); rec.Code < 400 || rec.Code >= 500 {
				t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
			}
		}
		e.stale(t, e.users["ownerA"])
		if rec := put(owner, map[string]any{"idp_metadata": idp.metadata(t)}); rec.Code != http.StatusForbidden && rec.Code != http.StatusUnauthorized {
			t.Fatalf("stale owner: %d %s", rec.Code, rec.Body)
		}
		e.users["ownerA"] = e.signIn(t, "user-ownerA")
		owner = append(bearer(e.users["ownerA"]), jsonBody...)
		rec := put(owner, map[string]any{"idp_metadata": idp.metadata(t), "allow_idp_initiated": true})
		var view samlJSON
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &view) != nil || view.IDPEntityID != idpEntityID ||
			view.ACSURL != callbackBase+"/saml/org-a/acs" || view.SPEntityID != callbackBase+"/saml/org-a/metadata" ||
			!view.AllowIDPInitiated || view.SignInURL != callbackBase+"/signin/saml?org=org-a" {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(t, http.MethodGet, "/saml?org="+orgA, "", bearer(e.users["viewer"])...); rec.Code != http.StatusForbidden {
			t.Fatalf("viewer reads: %d", rec.Code)
		}
		if rec := e.do(t, http.MethodGet, "/saml?org="+orgA, "", bearer(e.users["ownerA"])...); rec.Code != http.StatusOK {
			t.Fatalf("owner reads: %d", rec.Code)
		}
		if rec := e.do(t, http.MethodDelete, "/saml?org="+orgA, "", bearer(e.users["ownerA"])...); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d", rec.Code)
		}
		if rec := e.do(t, http.MethodGet, "/signin/saml?org="+orgA, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("sign-in after delete: %d", rec.Code)
		}
	})
}

// IdP metadata by URL goes through the outbound client: a public https
// server's document is fetched and stored; internal addresses, redirects
// and oversized documents are refused (502 saml_metadata_unreachable),
// audited, and store nothing; the internal server gets no request.
//
// Controls: APP-7, AUDIT-1
func TestSAMLMetadataURL(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	idp := newTestIdP(t, idpEntityID, e.Clock.Now)
	internal := newHitCounter(t, false, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, idp.metadata(t)) })
	public := newHitCounter(t, true, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, idp.metadata(t)) })
	redirector := newHitCounter(t, true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/md", http.StatusFound)
	})
	oversized := newHitCounter(t, true, func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat(" ", maxSAMLMetadata+1))
	})
	h := e.handler(t, outbound.Options{Timeout: 10 * time.Second}, nil, public.Server, redirector.Server, oversized.Server)
	put := func(u string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(map[string]any{"idp_metadata_url": u})
		r := httptest.NewRequest(http.MethodPut, "/saml?org="+orgA, strings.NewReader(string(b)))
		r.Header.Set("Authorization", "Bearer "+e.users["ownerA"].access)
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for name, u := range map[string]string{
		"loopback":        internal.URL + "/md",
		"metadata server": "http://169.254.169.254/computeMetadata/v1/",
		"private address": "https://10.0.0.7/md",
		"redirect":        redirector.URL + "/md",
		"too large":       oversized.URL + "/md",
	} {
		rec := put(u)
		if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), `"saml_metadata_unreachable"`) {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if internal.hits.Load() != 0 {
		t.Fatalf("the internal server got %d requests", internal.hits.Load())
	}
	if _, err := e.Store.SAMLConfig(context.Background(), orgA); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused configuration was stored: %v", err)
	}
	rec := put(public.URL + "/md")
	var view samlJSON
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &view) != nil || view.IDPEntityID != idpEntityID ||
		view.IDPMetadataURL != public.URL+"/md" {
		t.Fatalf("public metadata URL: %d %s", rec.Code, rec.Body)
	}
	if n := auditFailures(t, e, "saml.metadata_fetch"); n != 5 {
		t.Fatalf("%d refused fetches audited, want 5", n)
	}
}

// A signed-in member on the verified domain links the organization's SAML
// identity to their account (CSRF-protected POST, step-up), then signs in
// with it; a user outside the organization cannot start the link, and an
// assertion for another address does not link.
//
// Controls: AUTH-13, APP-3
func TestSAMLLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		ctx, now := context.Background(), e.Clock.Now()
		if err := e.Store.CreateUser(ctx, store.User{ID: "user-dana", Email: "dana@corp.example.com", Name: "Dana",
			PasswordHash: "x", EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := e.Store.AddMember(ctx, store.Member{OrgID: orgA, UserID: "user-dana", Role: "viewer", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		link := func(userID, email string) *httptest.ResponseRecorder {
			hdr := append(e.browserSession(t, userID), "Origin", "https://app.example.com")
			start := e.do(t, http.MethodPost, "/link/saml?org="+orgA+"&return_to=/settings", "", hdr...)
			if start.Code != http.StatusOK {
				return start
			}
			req := readAuthnRequest(t, authorizationURL(t, start).String())
			var cookie string
			for _, c := range start.Result().Cookies() {
				if strings.HasPrefix(c.Name, samlFlowCookie+"-") {
					cookie = c.Name + "=" + c.Value
				}
			}
			return s.post(t, orgA, s.idp.respond(t, req, assertionSpec{email: email}), req.RelayState, cookie)
		}
		if rec := link("user-outsider", "outsider@corp.example.com"); rec.Code != http.StatusForbidden {
			t.Fatalf("non-member starts a link: %d %s", rec.Code, rec.Body)
		}
		sentBack(t, link("user-dana", "someone.else@corp.example.com"), "email_mismatch")
		if q := landed(t, link("user-dana", "dana@corp.example.com")); q.Get("signin_linked") != signInSAML {
			t.Fatalf("link: %v", q)
		}
		if owner, err := e.Store.IdentityUser(ctx, samlProvider(orgA), "dana@corp.example.com"); err != nil || owner != "user-dana" {
			t.Fatalf("linked identity: %q, %v", owner, err)
		}
		if rec := s.signIn(t, "dana@corp.example.com"); sessionCookie(rec) == "" {
			t.Fatalf("sign-in after the link: %d %s", rec.Code, rec.Body)
		}
	})
}

// One response posted by many browsers at once signs in exactly once: the
// replay cache in the store lets one consumer win and refuses the others
// (saml_replayed), on SQLite and PostgreSQL.
//
// Controls: AUTH-13
func TestSAMLReplayRace(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		s := newSAMLEnv(t, e, false)
		s.enroll(t, "emp@corp.example.com")
		req, cookie := s.start(t)
		resp := s.idp.respond(t, req, assertionSpec{email: "emp@corp.example.com"})
		const n = 20
		recs := make([]*httptest.ResponseRecorder, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { recs[i] = s.post(t, orgA, resp, req.RelayState, cookie) })
		}
		wg.Wait()
		won := 0
		for _, rec := range recs {
			switch {
			case rec.Code == http.StatusSeeOther && sessionCookie(rec) != "":
				won++
			case rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "signin_error=saml_replayed") || sessionCookie(rec) != "":
				t.Fatalf("racer: %d %q", rec.Code, rec.Header().Get("Location"))
			}
		}
		if won != 1 {
			t.Fatalf("%d of %d racers signed in, want exactly 1", won, n)
		}
	})
}

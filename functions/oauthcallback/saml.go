package oauthcallback

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// signInSAML is the sign-in provider name of an organization's SAML 2.0
// identity provider (GET /signin/saml?org=, POST /link/saml?org=).
const signInSAML = "saml"

// maxSAMLMetadata bounds an identity provider's metadata document, uploaded
// or fetched.
const maxSAMLMetadata = 256 << 10

// samlSaveUser limits saves per user: a save may fetch a URL the user chose.
var samlSaveUser = ratelimit.SAMLSaveUser

// samlRequest is the body of PUT /saml: the identity provider's metadata,
// either the document itself or an https URL fetched once, now, through
// the outbound client (APP-7).
type samlRequest struct {
	IDPMetadata       string `json:"idp_metadata"`
	IDPMetadataURL    string `json:"idp_metadata_url"`
	ProvisionRole     string `json:"provision_role"`
	AllowIDPInitiated bool   `json:"allow_idp_initiated"`
}

// samlJSON is a configuration as read back, with what the owner enters at
// the identity provider (the service provider's entity id, ACS URL and
// metadata URL).
type samlJSON struct {
	IDPEntityID       string    `json:"idp_entity_id"`
	IDPMetadataURL    string    `json:"idp_metadata_url,omitempty"`
	ProvisionRole     string    `json:"provision_role,omitempty"`
	AllowIDPInitiated bool      `json:"allow_idp_initiated"`
	VerifiedDomains   []string  `json:"verified_domains"`
	UpdatedAt         time.Time `json:"updated_at"`
	SPEntityID        string    `json:"sp_entity_id"`
	SPMetadataURL     string    `json:"sp_metadata_url"`
	ACSURL            string    `json:"acs_url"`
	SignInURL         string    `json:"sign_in_url"`
}

// errSAMLMetadata is the 400 of metadata that cannot serve: msg says why.
func errSAMLMetadata(msg string, cause error) *web.Error {
	return &web.Error{Status: http.StatusBadRequest, Code: "saml_metadata_invalid", Message: msg, Err: cause}
}

// getSAML answers GET /saml?org=.
func (s *server) getSAML(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	c, err := s.d.Store.SAMLConfig(r.Context(), m.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	return s.writeSAML(w, r, c)
}

// putSAML answers PUT /saml?org=: creates or replaces the organization's
// SAML identity provider. Owner only, step-up required, rate-limited. The
// metadata must name one identity provider with a signing certificate and
// an HTTP-Redirect single sign-on endpoint; a URL is fetched here through
// the outbound client and never on a sign-in.
func (s *server) putSAML(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(r.Context(), samlSaveUser, m.UserID)); err != nil {
		return err
	}
	var req samlRequest
	if err := web.DecodeJSONLimit(r, &req, maxSAMLMetadata+4096); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Require((req.IDPMetadata == "") != (req.IDPMetadataURL == ""), "idp_metadata", "give either idp_metadata or idp_metadata_url")
	v.Length("idp_metadata", req.IDPMetadata, 0, maxSAMLMetadata)
	v.Length("idp_metadata_url", req.IDPMetadataURL, 0, 512)
	v.Length("provision_role", req.ProvisionRole, 0, 32)
	if err := v.Err(); err != nil {
		return err
	}
	raw := []byte(req.IDPMetadata)
	if req.IDPMetadataURL != "" {
		if raw, err = s.fetchSAMLMetadata(r, m.OrgID, req.IDPMetadataURL); err != nil {
			return err
		}
	}
	md, err := parseIDPMetadata(raw)
	if err != nil {
		return err
	}
	now := s.d.Now()
	c := store.SAMLConfig{OrgID: m.OrgID, IDPEntityID: md.EntityID, IDPMetadata: string(raw), MetadataURL: req.IDPMetadataURL,
		ProvisionRole: req.ProvisionRole, AllowIDPInitiated: req.AllowIDPInitiated, UpdatedBy: m.UserID,
		CreatedAt: now, UpdatedAt: now}
	if c.ID, err = randomID(s.d.Rand, "saml_"); err != nil {
		return web.Unavailable(err)
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := checkProvisionRole(r.Context(), tx, m.OrgID, c.ProvisionRole); err != nil {
			return err
		}
		if err := tx.PutSAMLConfig(r.Context(), c); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(r.Context(), tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "saml.configure",
			Target: m.OrgID, Network: s.network(r), Metadata: map[string]any{"idp_entity_id": c.IDPEntityID,
				"metadata_url": c.MetadataURL, "provision_role": c.ProvisionRole, "allow_idp_initiated": c.AllowIDPInitiated}})
		return err
	})
	var we *web.Error
	if errors.As(err, &we) {
		return err
	} else if err != nil {
		return web.Unavailable(fmt.Errorf("store saml config: %w", err))
	}
	if c, err = s.d.Store.SAMLConfig(r.Context(), m.OrgID); err != nil {
		return web.Unavailable(err)
	}
	return s.writeSAML(w, r, c)
}

// deleteSAML answers DELETE /saml?org=. Step-up required.
func (s *server) deleteSAML(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.DeleteSAMLConfig(r.Context(), m.OrgID); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(r.Context(), tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "saml.delete",
			Target: m.OrgID, Network: s.network(r)})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// fetchSAMLMetadata reads the document at raw through the outbound client:
// https only (plain http for tests), public addresses only, no redirects,
// bounded size and time. A failure is audited and answered with its cause.
func (s *server) fetchSAMLMetadata(r *http.Request, orgID, raw string) ([]byte, error) {
	u, err := s.client.CheckURL(raw)
	if err != nil && !errors.Is(err, outbound.ErrRefused) || err == nil && u.Fragment != "" {
		return nil, web.Invalid(map[string]string{"idp_metadata_url": "must be the provider's https metadata URL"})
	}
	body, err := s.getMetadata(r.Context(), raw)
	if err != nil {
		if _, aerr := s.d.Audit.Record(r.Context(), audit.Event{Actor: "system", OrgID: orgID, Action: "saml.metadata_fetch",
			Target: orgID, Outcome: store.OutcomeFailure, Network: s.network(r),
			Metadata: map[string]any{"url": raw, "error": err.Error()}}); aerr != nil {
			s.logger.WarnContext(r.Context(), "audit of a failed metadata fetch failed", "error", aerr.Error())
		}
		return nil, &web.Error{Status: http.StatusBadGateway, Code: "saml_metadata_unreachable",
			Message: "The identity provider's metadata could not be fetched: " + err.Error(), Err: err}
	}
	return body, nil
}

func (s *server) getMetadata(ctx context.Context, raw string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, errors.New("bad URL")
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSAMLMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(body) > maxSAMLMetadata {
		return nil, fmt.Errorf("larger than %d bytes", maxSAMLMetadata)
	}
	return body, nil
}

// parseIDPMetadata checks an identity provider's metadata: well-formed,
// one entity with an IdP role, at least one signing certificate and an
// HTTP-Redirect single sign-on endpoint on https (plain http is refused:
// the AuthnRequest and RelayState would travel in the clear).
func parseIDPMetadata(raw []byte) (*saml.EntityDescriptor, error) {
	md, err := samlsp.ParseMetadata(raw)
	if err != nil {
		return nil, errSAMLMetadata("The metadata is not a SAML 2.0 entity descriptor.", err)
	}
	if md.EntityID == "" || len(md.EntityID) > 1024 || len(md.IDPSSODescriptors) == 0 {
		return nil, errSAMLMetadata("The metadata names no identity provider.", errors.New("no entity id or IDPSSODescriptor"))
	}
	sp := saml.ServiceProvider{IDPMetadata: md}
	loc := sp.GetSSOBindingLocation(saml.HTTPRedirectBinding)
	if u, err := url.Parse(loc); loc == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errSAMLMetadata("The identity provider needs an https single sign-on service with the HTTP-Redirect binding.",
			fmt.Errorf("sso location %q", loc))
	}
	certs := 0
	for _, d := range md.IDPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if k.Use == "" || k.Use == "signing" {
				certs += len(k.KeyInfo.X509Data.X509Certificates)
			}
		}
	}
	if certs == 0 {
		return nil, errSAMLMetadata("The metadata has no signing certificate: Gatehouse accepts only signed assertions.",
			errors.New("no signing certificate"))
	}
	return md, nil
}

// samlURLs are the service provider's addresses for an organization: its
// entity id is its metadata URL.
func (s *server) samlURLs(orgID string) (metadata, acs *url.URL) {
	base := s.callbackBase + "/saml/" + url.PathEscape(orgID)
	metadata, _ = url.Parse(base + "/metadata")
	acs, _ = url.Parse(base + "/acs")
	return metadata, acs
}

// samlSP is the service provider of c's organization for one request, its
// clock stopped at the request's time. It accepts only signed assertions
// (the library's default, never turned off here), refuses SHA-1
// signatures, checks audience (this organization's entity id), recipient
// and destination (its ACS URL), issuer (the metadata's entity id) and
// validity times, and records each accepted assertion id in the store
// (replay).
func (s *server) samlSP(ctx context.Context, c store.SAMLConfig) (*saml.ServiceProvider, error) {
	md, err := samlsp.ParseMetadata([]byte(c.IDPMetadata))
	if err != nil {
		return nil, fmt.Errorf("stored saml metadata of %s: %w", c.OrgID, err)
	}
	meta, acs := s.samlURLs(c.OrgID)
	return newSAMLSP(md, meta, acs, c.AllowIDPInitiated, s.d.Now(), samlReplay{ctx: ctx, store: s.d.Store, orgID: c.OrgID}), nil
}

// newSAMLSP is the service provider with entity id meta and ACS acs for
// the identity provider md, at time now, recording assertions in replay.
func newSAMLSP(md *saml.EntityDescriptor, meta, acs *url.URL, idpInitiated bool, now time.Time, replay saml.AssertionReplayCache) *saml.ServiceProvider {
	return &saml.ServiceProvider{EntityID: meta.String(), MetadataURL: *meta, AcsURL: *acs, IDPMetadata: md,
		AllowIDPInitiated: idpInitiated, Clock: dsig.NewFakeClockAt(now), RejectSHA1Signatures: true,
		ReplayCache: replay,
		// Gatehouse neither resolves artifacts nor sends SOAP messages: no
		// request leaves for a tenant's host on a sign-in.
		HTTPClient:                       &http.Client{Transport: refuseTransport{}},
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding}}
}

// samlReplay is the replay cache of one organization, in the store, for
// one request: the library's interface takes no context, so it carries the
// request's (and lives no longer than the request).
type samlReplay struct {
	ctx   context.Context
	store store.SAMLConfigs
	orgID string
}

// Consume implements [saml.AssertionReplayCache]: ErrAssertionReplayed for
// a used id, a *storeError (the sign-in fails closed, 503) when the store
// cannot record it.
func (c samlReplay) Consume(id string, expiresAt time.Time) error {
	err := c.store.UseSAMLAssertion(c.ctx, c.orgID, id, expiresAt)
	switch {
	case errors.Is(err, store.ErrUsed):
		return saml.ErrAssertionReplayed
	case err != nil:
		return &storeError{err: err}
	}
	return nil
}

// refuseTransport answers no request.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("saml back-channel requests are disabled")
}

// spMetadata answers GET /saml/{org}/metadata: the service provider's
// metadata for an organization, public, so the owner can register
// Gatehouse at the identity provider before uploading its metadata.
func (s *server) spMetadata(w http.ResponseWriter, r *http.Request) error {
	orgID := r.PathValue("org")
	if _, err := s.d.Store.Org(r.Context(), orgID); errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	meta, acs := s.samlURLs(orgID)
	sp := saml.ServiceProvider{EntityID: meta.String(), MetadataURL: *meta, AcsURL: *acs,
		AuthnNameIDFormat: saml.EmailAddressNameIDFormat, AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		Clock: dsig.NewFakeClockAt(s.d.Now()), MetadataValidDuration: 7 * 24 * time.Hour}
	md := sp.Metadata()
	for i := range md.SPSSODescriptors {
		md.SPSSODescriptors[i].AuthnRequestsSigned = new(false)
		md.SPSSODescriptors[i].WantAssertionsSigned = new(true)
	}
	body, err := xml.MarshalIndent(md, "", "  ")
	if err != nil {
		return web.Unavailable(err)
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, err = w.Write(append([]byte(xml.Header), body...))
	return err
}

// writeSAML answers a configuration as GET and PUT /saml do.
func (s *server) writeSAML(w http.ResponseWriter, r *http.Request, c store.SAMLConfig) error {
	verified, err := s.verifiedDomains(r.Context(), c.OrgID)
	if err != nil {
		return web.Unavailable(err)
	}
	meta, acs := s.samlURLs(c.OrgID)
	return web.WriteJSON(w, http.StatusOK, samlJSON{IDPEntityID: c.IDPEntityID, IDPMetadataURL: c.MetadataURL,
		ProvisionRole: c.ProvisionRole, AllowIDPInitiated: c.AllowIDPInitiated, VerifiedDomains: verified,
		UpdatedAt: c.UpdatedAt, SPEntityID: meta.String(), SPMetadataURL: meta.String(), ACSURL: acs.String(),
		SignInURL: s.callbackBase + "/signin/saml?org=" + url.QueryEscape(c.OrgID)})
}

// verifiedDomains lists the organization's verified domains.
func (s *server) verifiedDomains(ctx context.Context, orgID string) ([]string, error) {
	domains, err := s.d.Store.SSODomains(ctx, orgID)
	if err != nil {
		return nil, err
	}
	verified := []string{}
	for _, d := range domains {
		if d.Status == store.DomainVerified {
			verified = append(verified, d.Domain)
		}
	}
	return verified, nil
}

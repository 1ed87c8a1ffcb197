package oauthcallback

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/oidcdiscovery"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// discovered is what PUT /sso learned from the issuer.
type discovered struct {
	meta oidcdiscovery.Metadata
	keys []jose.JSONWebKey
}

func (d discovered) stored(now time.Time) store.SSODiscovery {
	return store.SSODiscovery{AuthURL: d.meta.AuthURL, TokenURL: d.meta.TokenURL, JWKSURL: d.meta.JWKSURL,
		UserInfoURL: d.meta.UserInfoURL, Algorithms: d.meta.Algorithms, DiscoveredAt: now}
}

// discoverIssuer fetches issuer's discovery document and keys for the
// owner m. A failure is audited (sso.configure, failure, with its cause)
// and returned as [discoveryError].
func (s *server) discoverIssuer(r *http.Request, m authz.Member, issuer string) (discovered, error) {
	meta, err := oidcdiscovery.Discover(r.Context(), s.client, issuer)
	var keys []jose.JSONWebKey
	if err == nil {
		keys, err = oidcdiscovery.FetchKeys(r.Context(), s.client, meta.JWKSURL)
	}
	if err == nil {
		return discovered{meta: meta, keys: keys}, nil
	}
	werr := discoveryError(err)
	var de *oidcdiscovery.Error
	cause := "unavailable"
	if errors.As(err, &de) {
		cause = string(de.Cause)
	}
	if _, aerr := s.d.Audit.Record(r.Context(), audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "sso.configure",
		Target: m.OrgID, Outcome: store.OutcomeFailure, Network: s.network(r),
		Metadata: map[string]any{"issuer": issuer, "cause": cause}}); aerr != nil {
		return discovered{}, web.Unavailable(fmt.Errorf("audit refused sso configuration: %w (after %v)", aerr, err))
	}
	return discovered{}, werr
}

// discoveryMessages explain each cause to the owner.
var discoveryMessages = map[oidcdiscovery.Cause]string{
	oidcdiscovery.CauseUnreachable: "The issuer could not be reached.",
	oidcdiscovery.CauseRefused:     "The issuer's host is, or resolves to, an address Gatehouse does not connect to (loopback, private, link-local, metadata...).",
	oidcdiscovery.CauseRedirect:    "The issuer answered with a redirect; Gatehouse follows none. Give the issuer URL the provider's discovery document names.",
	oidcdiscovery.CauseTimeout:     "The issuer did not answer in time.",
	oidcdiscovery.CauseStatus:      "The issuer's discovery document or key set could not be fetched (HTTP status other than 200).",
	oidcdiscovery.CauseTooLarge:    "The issuer's discovery document or key set is too large.",
	oidcdiscovery.CauseBadDocument: "The issuer's discovery document is not usable (not JSON, a required endpoint missing, no supported signing algorithm, no authorization code flow).",
	oidcdiscovery.CauseMismatch:    "The discovery document names another issuer than the one given.",
	oidcdiscovery.CauseBadEndpoint: "An endpoint in the discovery document is not https or names an address Gatehouse does not connect to.",
	oidcdiscovery.CauseBadKeys:     "The issuer's key set holds no usable public signing key.",
}

// discoveryError is the 422 answer to a failed discovery: code
// issuer_discovery_failed, the cause in fields.issuer.
func discoveryError(err error) error {
	var de *oidcdiscovery.Error
	if !errors.As(err, &de) || discoveryMessages[de.Cause] == "" {
		return web.Unavailable(err)
	}
	return &web.Error{Status: http.StatusUnprocessableEntity, Code: "issuer_discovery_failed",
		Message: discoveryMessages[de.Cause], Fields: map[string]string{"issuer": string(de.Cause)}, Err: err}
}

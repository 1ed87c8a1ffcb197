package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/gatehouse-dev/gatehouse/shared/config"
)

// webAuthnOrigins returns the origins passkeys are used from: the
// configured ones (GATEHOUSE_WEBAUTHN_ORIGINS), each of which must be a
// domain origin, or else the domain origins among the allowed browser
// origins, or else the public URL's. Browsers refuse WebAuthn on an IP
// address, so IP origins (common in development) are left out rather than
// turned into an RP id.
func webAuthnOrigins(configured []string, base config.Base) ([]string, error) {
	if len(configured) > 0 {
		for _, o := range configured {
			if _, ok := domainOrigin(o); !ok {
				return nil, fmt.Errorf("webauthn: GATEHOUSE_WEBAUTHN_ORIGINS: %q is not an http(s) origin on a domain name "+
					"(browsers refuse passkeys on IP addresses)", o)
			}
		}
		return configured, nil
	}
	var out []string
	for _, o := range base.AllowedOrigins {
		if _, ok := domainOrigin(o); ok {
			out = append(out, o)
		}
	}
	if len(out) == 0 && base.PublicURL != nil {
		if o := base.PublicURL.Scheme + "://" + base.PublicURL.Host; isDomainOrigin(o) {
			out = []string{o}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("webauthn: no origin on a domain name: set GATEHOUSE_WEBAUTHN_ORIGINS, or a domain origin in " +
			"GATEHOUSE_ALLOWED_ORIGINS or GATEHOUSE_PUBLIC_URL")
	}
	return out, nil
}

// domainOrigin returns the host of an http(s) origin whose host is a
// domain name, not an IP address.
func domainOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" {
		return "", false
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil || strings.Trim(host, ".") != host || host == "" {
		return "", false
	}
	return strings.ToLower(host), true
}

func isDomainOrigin(o string) bool { _, ok := domainOrigin(o); return ok }

// checkRPID refuses an RP id that browsers would refuse for some origin:
// it must be a domain name that is not a public suffix (or "localhost"),
// and every origin's host must be it or a subdomain of it (WebAuthn
// Level 3, section 5.1.3: a registrable domain suffix of or equal to the
// origin's effective domain).
func checkRPID(rpID string, origins []string) error {
	id := strings.ToLower(rpID)
	if net.ParseIP(id) != nil || id == "" || strings.Trim(id, ".") != id {
		return fmt.Errorf("webauthn: GATEHOUSE_WEBAUTHN_RP_ID %q is not a domain name", rpID)
	}
	if id != "localhost" {
		site, err := publicsuffix.EffectiveTLDPlusOne(id)
		if err != nil || !(id == site || strings.HasSuffix(id, "."+site)) {
			return fmt.Errorf("webauthn: GATEHOUSE_WEBAUTHN_RP_ID %q is a public suffix, not a registrable domain", rpID)
		}
	}
	for _, o := range origins {
		host, _ := domainOrigin(o)
		if host != id && !strings.HasSuffix(host, "."+id) {
			return fmt.Errorf("webauthn: GATEHOUSE_WEBAUTHN_RP_ID %q does not cover the origin %q; set GATEHOUSE_WEBAUTHN_RP_ID "+
				"to a domain every origin is under, or list the passkey origins in GATEHOUSE_WEBAUTHN_ORIGINS "+
				"(default: the domain origins of GATEHOUSE_ALLOWED_ORIGINS)", rpID, o)
		}
	}
	return nil
}

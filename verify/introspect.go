package verify

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxIntrospectionBytes bounds an introspection response.
const maxIntrospectionBytes = 64 << 10

// maxCacheEntries bounds the introspection cache; when full, expired
// entries are dropped, and if none are, the cache is cleared.
const maxCacheEntries = 10000

// introspection is the RFC 7662 response Gatehouse writes.
type introspection struct {
	Active      bool      `json:"active"`
	Issuer      string    `json:"iss"`
	Audience    string    `json:"aud"`
	Subject     string    `json:"sub"`
	SessionID   string    `json:"sid"`
	IssuedAt    int64     `json:"iat"`
	ExpiresAt   int64     `json:"exp"`
	OrgID       string    `json:"org_id"`
	Role        string    `json:"role"`
	Permissions *[]string `json:"permissions"`
}

// Introspect verifies tok like [Verifier.Verify], then asks Gatehouse
// (RFC 7662) whether it is still active: a signed-out session or a member
// removed from the token's organization gives [ErrInactive], and the
// organization claims are replaced by the role and permissions the member
// holds now. Answers are cached per token for the configured TTL. An
// unreachable or failing endpoint gives [ErrUnavailable].
func (v *Verifier) Introspect(ctx context.Context, tok string) (*Claims, error) {
	if v.cfg.IntrospectionURL == "" {
		return nil, fmt.Errorf("%w: introspection is not configured", ErrUnavailable)
	}
	local, err := v.Verify(ctx, tok)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(tok))
	if c, ok := v.cache.get(key); ok {
		return active(c)
	}
	c, err := v.introspect(ctx, tok, local)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, c)
	return active(c)
}

func active(c *Claims) (*Claims, error) {
	if c == nil {
		return nil, ErrInactive
	}
	return c, nil
}

// introspect asks the endpoint about tok; nil claims mean inactive.
func (v *Verifier) introspect(ctx context.Context, tok string, local *Claims) (*Claims, error) {
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.IntrospectionURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspect: %w", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: read introspection: %w", ErrUnavailable, err)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: introspection answered %d", ErrUnavailable, resp.StatusCode)
	case len(body) > maxIntrospectionBytes:
		return nil, fmt.Errorf("%w: introspection response too large", ErrUnavailable)
	}
	var in introspection
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%w: decode introspection: %w", ErrUnavailable, err)
	}
	if !in.Active {
		return nil, nil
	}
	if in.Subject != local.Subject || in.SessionID != local.SessionID || in.Issuer != local.Issuer {
		return nil, fmt.Errorf("%w: introspection names another token", ErrUnavailable)
	}
	c := *local
	c.Org = nil
	if local.Org != nil {
		if in.OrgID != local.Org.ID || in.Role == "" || in.Permissions == nil {
			return nil, nil // an org-scoped token without its organization is not active
		}
		c.Org = &Org{ID: in.OrgID, Role: in.Role, Permissions: *in.Permissions}
	}
	return &c, nil
}

func (c *introspectionCache) get(key [32]byte) (*Claims, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.until) {
		return nil, false
	}
	return e.claims, true
}

func (c *introspectionCache) put(key [32]byte, claims *Claims) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= maxCacheEntries {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			clear(c.entries)
		}
	}
	until := now.Add(c.ttl)
	if claims != nil && claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	c.entries[key] = cached{claims: claims, until: until}
}

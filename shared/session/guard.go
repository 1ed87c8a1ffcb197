package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits of the sign-in steps. Account limits are keyed by the normalized
// email address whether or not an account has it, so they reveal nothing.
var (
	LimitLoginNetwork  = ratelimit.LoginNetwork
	LimitLoginAccount  = ratelimit.LoginAccount
	LimitLoginDevice   = ratelimit.LoginDevice
	LimitSecondNetwork = ratelimit.SecondNetwork
	LimitSecondAccount = ratelimit.SecondAccount
	LimitSecondDevice  = ratelimit.SecondDevice
)

// Lockout is the progressive account lockout: from the Threshold-th
// failure within Window (counted from the last failure), the account is
// locked for Base, doubling with every further failure up to Max.
// Attempts while locked are refused without being counted, so the lock
// never grows past Max; and it binds only devices the account has never
// signed in from, so an attacker can lock himself out, never the holder on
// their own devices (who also still has magic links and reset). Only time
// clears the count: no sign-in step, however correct, resets it.
type Lockout struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
	Window    time.Duration
}

// DefaultLockout is the lockout a zero [Config.Lockout] means.
var DefaultLockout = Lockout{Threshold: 5, Base: 30 * time.Second, Max: 15 * time.Minute, Window: time.Hour}

// duration returns how long failures failures lock an account.
func (lo Lockout) duration(failures int) time.Duration {
	if failures < lo.Threshold {
		return 0
	}
	d := lo.Base
	for i := lo.Threshold; i < failures && d < lo.Max; i++ {
		d *= 2
	}
	return min(d, lo.Max)
}

// LockoutKey is the lockout and account-limit key of an email address.
func LockoutKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "account:" + hex.EncodeToString(sum[:16])
}

// Attempt is the standing of one sign-in attempt, from [Manager.BeginLogin].
type Attempt struct {
	key         string
	trusted     bool
	lockedUntil time.Time
	now         time.Time
}

// Locked reports whether the attempt must fail whatever it proves: the
// account is locked and the device is not one it signed in from before.
func (a Attempt) Locked() bool { return !a.trusted && a.now.Before(a.lockedUntil) }

// Trusted reports whether the device signed in to this account before.
func (a Attempt) Trusted() bool { return a.trusted }

type stepLimits struct{ network, account, device ratelimit.Limit }

var (
	loginLimits  = stepLimits{LimitLoginNetwork, LimitLoginAccount, LimitLoginDevice}
	secondLimits = stepLimits{LimitSecondNetwork, LimitSecondAccount, LimitSecondDevice}
)

// BeginLogin applies the limits of a first-factor sign-in for email
// (userID is "" when no account has it; the work done is the same): the
// per-network limit, then the per-device limit for a device that signed in
// to the account before, else the per-account limit and the lockout state.
// Errors are *web.Error: 429 with Retry-After, or 503 when the limiter or
// store cannot answer.
func (m *Manager) BeginLogin(ctx context.Context, r *http.Request, email, userID string) (Attempt, error) {
	return m.begin(ctx, r, email, userID, loginLimits)
}

func (m *Manager) begin(ctx context.Context, r *http.Request, email, userID string, l stepLimits) (Attempt, error) {
	a := Attempt{key: LockoutKey(email), now: m.now()}
	network := web.Network(web.ClientIP(r, m.cfg.TrustedProxyHops)).String()
	if err := m.allow(ctx, l.network, network); err != nil {
		return a, err
	}
	device := cookieValue(r, DeviceCookie)
	if !validID(device) {
		device = ""
	}
	err := m.store.KnownDevice(ctx, userID, device)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return a, web.Unavailable(err)
	}
	a.trusted = err == nil && userID != "" && device != ""
	if a.trusted {
		return a, m.allow(ctx, l.device, device)
	}
	if err := m.allow(ctx, l.account, a.key); err != nil {
		return a, err
	}
	lock, err := m.store.Lockout(ctx, a.key)
	if err != nil {
		return a, web.Unavailable(err)
	}
	a.lockedUntil = lock.LockedUntil
	return a, nil
}

// allow maps limiter answers to responses.
func (m *Manager) allow(ctx context.Context, l ratelimit.Limit, key string) error {
	return ratelimit.HTTPError(m.limiter.Allow(ctx, l, key))
}

// Failed counts a failed attempt toward the lockout and locks the account
// when the count calls for it. Failures from trusted devices and attempts
// refused because of the lock are not counted.
func (m *Manager) Failed(ctx context.Context, a Attempt) error {
	m.metrics.SignIn(ctx, "password", "failure")
	return m.failed(ctx, a)
}

func (m *Manager) failed(ctx context.Context, a Attempt) error {
	if a.trusted || a.Locked() {
		return nil
	}
	lock, err := m.store.AddLoginFailure(ctx, a.key, a.now, m.cfg.Lockout.Window)
	if err != nil {
		return fmt.Errorf("count failure: %w", err)
	}
	if d := m.cfg.Lockout.duration(lock.Failures); d > 0 {
		if err := m.store.LockAccount(ctx, a.key, a.now.Add(d)); err != nil {
			return fmt.Errorf("lock account: %w", err)
		}
		m.metrics.Lockout(ctx)
	}
	return nil
}

// GuardSecondFactor applies, before a second factor (TOTP, recovery code,
// passkey) is checked for userID, the per-network, per-device or
// per-account limits and the lockout. It returns nil or a *web.Error to
// return as is: 429 with Retry-After (limited or locked), 401 for an
// unknown user, 503 when the limiter or store cannot answer.
func (m *Manager) GuardSecondFactor(ctx context.Context, r *http.Request, userID string) error {
	u, err := m.store.User(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidMFAToken.WithCause(err)
	}
	if err != nil {
		return web.Unavailable(err)
	}
	a, err := m.begin(ctx, r, u.Email, userID, secondLimits)
	if err != nil {
		return err
	}
	if a.Locked() {
		return web.TooManyRequests(a.lockedUntil.Sub(a.now)).WithCause(errors.New("account locked"))
	}
	return nil
}

// SecondFactorFailed counts a failed second factor of userID toward the
// account's lockout (shared with the password step). Call it after every
// failed check; there is nothing to call after a correct one.
func (m *Manager) SecondFactorFailed(ctx context.Context, r *http.Request, userID string) error {
	u, err := m.store.User(ctx, userID)
	if err != nil {
		return web.Unavailable(err)
	}
	a, err := m.attemptState(ctx, r, u.Email, userID)
	if err != nil {
		return web.Unavailable(err)
	}
	m.metrics.SignIn(ctx, "second_factor", "failure")
	return m.failed(ctx, a)
}

// attemptState is [Manager.begin] without spending any limit.
func (m *Manager) attemptState(ctx context.Context, r *http.Request, email, userID string) (Attempt, error) {
	a := Attempt{key: LockoutKey(email), now: m.now()}
	device := cookieValue(r, DeviceCookie)
	if validID(device) {
		if err := m.store.KnownDevice(ctx, userID, device); err == nil {
			a.trusted = true
			return a, nil
		}
	}
	lock, err := m.store.Lockout(ctx, a.key)
	a.lockedUntil = lock.LockedUntil
	return a, err
}

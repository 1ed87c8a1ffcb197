package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
)

// Rate is Burst requests per Period for one key, refilled evenly.
type Rate struct {
	Burst  int
	Period time.Duration
}

// Bounds of any configured rate.
const (
	maxBurst  = 1_000_000
	minPeriod = time.Second
	maxPeriod = 7 * 24 * time.Hour
)

// ErrBadRate is wrapped by every error [ParseRate] returns.
var ErrBadRate = errors.New("not a rate (N/PERIOD, e.g. 20/15m)")

// ParseRate parses "N/PERIOD": N requests (1 to 1000000) per PERIOD, a Go
// duration ("15m", "1h30m") or a number of days ("1d"), or a bare unit
// meaning one of it ("20/m"), between 1 second and 7 days.
func ParseRate(s string) (Rate, error) {
	n, p, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || len(s) > 64 {
		return Rate{}, ErrBadRate
	}
	burst, err := strconv.Atoi(n)
	if err != nil || burst < 1 || burst > maxBurst || n != strconv.Itoa(burst) {
		return Rate{}, fmt.Errorf("%w: the count must be a whole number from 1 to %d", ErrBadRate, maxBurst)
	}
	period, err := parsePeriod(p)
	if err != nil {
		return Rate{}, err
	}
	return Rate{Burst: burst, Period: period}, nil
}

func parsePeriod(p string) (time.Duration, error) {
	var d time.Duration
	switch {
	case p == "s" || p == "m" || p == "h":
		d, _ = time.ParseDuration("1" + p)
	case p == "d":
		d = 24 * time.Hour
	case strings.HasSuffix(p, "d"):
		days, err := strconv.Atoi(strings.TrimSuffix(p, "d"))
		if err != nil || days < 1 || days > 7 {
			return 0, fmt.Errorf("%w: bad number of days", ErrBadRate)
		}
		d = time.Duration(days) * 24 * time.Hour
	default:
		var err error
		if d, err = time.ParseDuration(p); err != nil {
			return 0, fmt.Errorf("%w: bad period", ErrBadRate)
		}
	}
	if d < minPeriod || d > maxPeriod {
		return 0, fmt.Errorf("%w: the period must be between 1 second and 7 days", ErrBadRate)
	}
	return d, nil
}

// String returns r as [ParseRate] reads it: "20/15m".
func (r Rate) String() string {
	p := r.Period.String()
	if strings.HasSuffix(p, "m0s") {
		p = strings.TrimSuffix(p, "0s")
	}
	if strings.HasSuffix(p, "h0m") {
		p = strings.TrimSuffix(p, "0m")
	}
	return strconv.Itoa(r.Burst) + "/" + p
}

// Text returns r in words: "20 per 15 minutes".
func (r Rate) Text() string { return strconv.Itoa(r.Burst) + " per " + timetext.Duration(r.Period) }

// LooserThan reports whether r lets more through than bound: a larger
// burst, or a faster refill.
func (r Rate) LooserThan(bound Rate) bool {
	return r.Burst > bound.Burst || int64(r.Burst)*int64(bound.Period) > int64(bound.Burst)*int64(r.Period)
}

// Rates maps a limit's name to the rate the [Limiter] applies instead of
// the Limit's own.
type Rates map[string]Rate

// Variables declares the catalogue's variables, one per limit, for
// [config.Loader.Declare] and the documentation.
func Variables() []config.Variable {
	var out []config.Variable
	for _, s := range Catalogue() {
		out = append(out, config.Variable{Name: s.Var(), Default: s.Rate().String() + " (dev: " + s.Dev().String() + ")",
			Doc: s.Doc + " Loosest accepted in staging and prod: " + s.Loosest().Text() + "."})
	}
	return out
}

// Rate returns the limit's own rate.
func (l Limit) Rate() Rate { return Rate{Burst: l.Burst, Period: l.Period} }

// Load reads every limit of the catalogue from its GATEHOUSE_LIMIT_*
// variable (declaring them in l) and returns the rate of each: the
// configured one, else the default of the environment (generous in dev).
// In staging and prod a configured rate looser than the limit's
// [Spec.Loosest] is an error.
func Load(l *config.Loader) Rates {
	l.Declare(Variables()...)
	rates := Rates{}
	for _, s := range Catalogue() {
		def := s.Rate()
		if !l.Env().Deployed() {
			def = s.Dev()
		}
		rates[s.Name] = def
		v := l.String(s.Var(), "")
		if v == "" {
			continue
		}
		r, err := ParseRate(v)
		if err != nil {
			l.Fail(s.Var(), fmt.Sprintf("%v: %q", err, v))
			continue
		}
		if l.Env().Deployed() && r.LooserThan(s.Loosest()) {
			l.Fail(s.Var(), fmt.Sprintf("%s is looser than the minimum protection in %s (at most %s)", r.Text(), l.Env(), s.Loosest().Text()))
			continue
		}
		rates[s.Name] = r
	}
	return rates
}

// Package timetext writes durations as people write them, for e-mails and
// error messages: "24 hours", "15 minutes", "1 hour 30 minutes", "30 days",
// never Go's "24h0m0s".
package timetext

import (
	"strconv"
	"time"
)

const day = 24 * time.Hour

// Duration returns d in words: whole days from 2 days up when d is a whole
// number of days, otherwise its two largest non-zero units among hours,
// minutes and seconds (a remainder smaller than the second unit is
// dropped). Below a second it gives milliseconds.
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d == 0:
		return "0 seconds"
	case d < time.Second:
		return unit(int64(d/time.Millisecond), "millisecond")
	case d >= 2*day && d%day == 0:
		return unit(int64(d/day), "day")
	}
	units := []struct {
		size time.Duration
		name string
	}{{time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	for i, u := range units {
		n := d / u.size
		if n == 0 {
			continue
		}
		text := unit(int64(n), u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if m := d % u.size / next.size; m > 0 {
				text += " " + unit(int64(m), next.name)
			}
		}
		return text
	}
	return ""
}

func unit(n int64, name string) string {
	if n == 1 {
		return "1 " + name
	}
	return strconv.FormatInt(n, 10) + " " + name + "s"
}

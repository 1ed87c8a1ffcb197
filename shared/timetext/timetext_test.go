package timetext

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 seconds"},
		{time.Second, "1 second"},
		{10 * time.Second, "10 seconds"},
		{time.Minute, "1 minute"},
		{15 * time.Minute, "15 minutes"},
		{90 * time.Minute, "1 hour 30 minutes"},
		{time.Hour + 30*time.Second, "1 hour"},
		{2*time.Minute + 30*time.Second, "2 minutes 30 seconds"},
		{24 * time.Hour, "24 hours"},
		{72 * time.Hour, "3 days"},
		{50 * time.Hour, "50 hours"},
		{30 * 24 * time.Hour, "30 days"},
		{250 * time.Millisecond, "250 milliseconds"},
		{-time.Minute, "-1 minute"},
		{time.Hour + 30*time.Minute + 15*time.Second, "1 hour 30 minutes"},
	} {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

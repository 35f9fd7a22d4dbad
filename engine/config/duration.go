package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gomad/mad/internal/hocon"
)

// durationOf reads a duration as Jackson binds java.time.Duration: an
// ISO-8601 string, or a number of seconds.
func durationOf(v *hocon.Value) (time.Duration, error) {
	switch v.Kind {
	case hocon.String:
		return ParseISODuration(v.Str)
	case hocon.Number:
		// Jackson's DurationDeserializer reads a number as seconds.
		f, err := strconv.ParseFloat(v.Str, 64)
		if err != nil || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64/1e9 {
			return 0, fmt.Errorf("must be an ISO-8601 duration such as \"PT1S\", not %s", v.Str)
		}
		return time.Duration(f * 1e9), nil
	}
	return 0, fmt.Errorf("must be an ISO-8601 duration such as \"PT1S\", not %s", kindName(v))
}

// isoDuration is java.time.Duration.parse's grammar:
// [-+]P[nD][T[nH][nM][n[.f]S]], case-insensitive, each number signed.
var isoDuration = regexp.MustCompile(`^([-+]?)P(?:([-+]?[0-9]+)D)?(T(?:([-+]?[0-9]+)H)?(?:([-+]?[0-9]+)M)?(?:([-+]?[0-9]+)(?:[.,]([0-9]{0,9}))?S)?)?$`)

// ParseISODuration parses an ISO-8601 duration as java.time.Duration.parse
// does ("PT1S", "PT0.5S", "PT5M", "P1D", "PT1H30M", "-PT6H3M").
func ParseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(strings.ToUpper(s))
	if m == nil || (m[2] == "" && m[3] == "") || m[3] == "T" {
		return 0, fmt.Errorf("must be an ISO-8601 duration such as \"PT1S\", \"PT0.5S\" or \"PT5M\", not %q", s)
	}
	var total float64
	add := func(num string, unit time.Duration) {
		if num == "" {
			return
		}
		i, _ := strconv.ParseInt(num, 10, 64)
		total += float64(i) * float64(unit)
	}
	add(m[2], 24*time.Hour)
	add(m[4], time.Hour)
	add(m[5], time.Minute)
	add(m[6], time.Second)
	if m[7] != "" {
		frac, _ := strconv.ParseInt((m[7] + "000000000")[:9], 10, 64)
		if strings.HasPrefix(m[6], "-") {
			frac = -frac
		}
		total += float64(frac)
	}
	if m[1] == "-" {
		total = -total
	}
	if math.Abs(total) > math.MaxInt64 {
		return 0, fmt.Errorf("duration %q is out of range", s)
	}
	return time.Duration(total), nil
}

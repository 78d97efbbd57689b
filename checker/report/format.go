package report

import (
	"fmt"
	"strconv"
	"strings"
)

// fmtSeconds shows an instant of the run in seconds, to the microsecond, without trailing zeros past the
// millisecond: "0.603 s", "0.6035 s", "12.000 s". It matches the page's script.
func fmtSeconds(ns int64) string {
	s := strconv.FormatFloat(float64(ns)/1e9, 'f', 6, 64)
	for i := 0; i < 3 && strings.HasSuffix(s, "0"); i++ {
		s = s[:len(s)-1]
	}
	return s + " s"
}

// fmtDuration shows a duration with three significant digits in the unit that suits it.
func fmtDuration(ns int64) string {
	a := ns
	if a < 0 {
		a = -a
	}
	sig := func(v float64, unit string) string {
		s := strconv.FormatFloat(v, 'g', 3, 64)
		if strings.ContainsAny(s, "e") {
			s = strconv.FormatFloat(v, 'f', 0, 64)
		}
		return s + " " + unit
	}
	var s string
	switch {
	case a < 1e3:
		s = fmt.Sprintf("%d ns", a)
	case a < 1e6:
		s = sig(float64(a)/1e3, "µs")
	case a < 1e9:
		s = sig(float64(a)/1e6, "ms")
	default:
		s = strconv.FormatFloat(float64(a)/1e9, 'f', 3, 64) + " s"
	}
	if ns < 0 {
		return "−" + s
	}
	return s
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + one + "s"
}

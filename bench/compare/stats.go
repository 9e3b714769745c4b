package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// summary describes repeated measurements of one quantity.
type summary struct {
	n                          int
	median, min, max, p10, p90 float64
}

// summarize returns the summary of xs (which it does not change).
func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return summary{
		n:      len(s),
		median: quantile(s, 0.5),
		min:    s[0],
		max:    s[len(s)-1],
		p10:    quantile(s, 0.1),
		p90:    quantile(s, 0.9),
	}
}

// quantile interpolates the q-quantile of sorted s.
func quantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// percentile is the q-quantile of xs (which it does not change), or 0 for
// none: for the tails that summary leaves out, such as p99.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantile(s, q)
}

// ms converts durations to milliseconds.
func ms(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// num formats x with a precision that suits its size.
func num(x float64) string {
	switch a := math.Abs(x); {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	default:
		return fmt.Sprintf("%.3f", x)
	}
}

// medianRange is "median (min–max)", for a few runs.
func (s summary) medianRange() string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.median), num(s.min), num(s.max))
}

// countRange is "median (min–max)" of counts, as whole numbers.
func (s summary) countRange() string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", s.median, s.min, s.max)
}

// medianSpread is "median (p10–p90)", for many runs.
func (s summary) medianSpread() string {
	if s.n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.median), num(s.p10), num(s.p90))
}

package jobfile

import (
	"fmt"
	"strings"
)

// unknownKey is the message for a key the table does not hold: a
// suggestion when one is close, else the list of keys.
func unknownKey(key string) string {
	if s := suggest(key); s != "" {
		return fmt.Sprintf("unknown key (did you mean %q?)", s)
	}
	var names []string
	for _, k := range keys() {
		if k.aliasOf == "" && k.name != "$schema" {
			names = append(names, k.name)
		}
	}
	return "unknown key (known keys: " + strings.Join(names, ", ") + ")"
}

// suggest returns the key closest to the unknown key, comparing without
// case and counting a swap of two letters as one edit, or "" when none is
// close enough to be a likely typo. Hints (words other programs use for the
// same setting, like "command") suggest their key too.
func suggest(key string) string {
	best, bestDist := "", -1
	low := strings.ToLower(key)
	for _, k := range keys() {
		for _, word := range append([]string{k.name}, k.hints...) {
			d := editDistance(low, strings.ToLower(word))
			if d <= tolerance(word) && (bestDist < 0 || d < bestDist) {
				best, bestDist = k.name, d
			}
		}
	}
	return best
}

// tolerance is how many edits still look like a typo of word.
func tolerance(word string) int {
	switch n := len(word); {
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	default:
		return 3
	}
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Package pgversion knows which PostgreSQL versions pglinks supports, and
// words what it says about a server outside that range. Catalog reads that
// differ by version choose their SQL by server_version_num (see AtLeast).
package pgversion

import "fmt"

// The majors pglinks is tested on, every one as the local and as the
// remote side of a link (internal/compat).
const (
	OldestSupported = 14
	NewestSupported = 18
)

// Supported lists the supported majors, oldest first.
func Supported() []int {
	out := make([]int, 0, NewestSupported-OldestSupported+1)
	for m := OldestSupported; m <= NewestSupported; m++ {
		out = append(out, m)
	}
	return out
}

// Major is the major version of a server_version_num: 150018 is 15,
// 90624 (9.6.24) is 9.
func Major(num int) int { return num / 10000 }

// Label names a server's version the way its release notes do: "15",
// "9.6" before 10.
func Label(num int) string {
	if num < 100000 {
		return fmt.Sprintf("%d.%d", num/10000, num/100%100)
	}
	return fmt.Sprint(Major(num))
}

// IsSupported reports whether a server of server_version_num num is one
// pglinks is tested on.
func IsSupported(num int) bool {
	m := Major(num)
	return m >= OldestSupported && m <= NewestSupported
}

// Note says plainly what pglinks supports on a server of server_version_num
// num when it is outside the tested range; "" for a supported server or an
// unknown version (0).
func Note(num int) string {
	if num <= 0 || IsSupported(num) {
		return ""
	}
	return fmt.Sprintf("PostgreSQL %s: pglinks supports %d to %d; links may work but are not tested.", Label(num), OldestSupported, NewestSupported)
}

// AtLeast reports whether a server of server_version_num num is major or
// newer: the test a catalog read makes before it names a column or view
// that older servers lack.
func AtLeast(num, major int) bool { return num >= major*10000 }

package pgtest

import (
	"flag"
	"strconv"
)

// WaitingTests lets up to n of a package's parallel tests run at once
// unless -parallel (-test.parallel) was given. Call it first in TestMain.
//
// go test's default, GOMAXPROCS, suits tests that keep a core busy; most
// tests of a package that drives PostgreSQL wait instead (a statement
// timeout, a silent remote, a background round), and two at a time leave
// the machine idle while they do.
func WaitingTests(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			given = true
		}
	})
	if !given {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}

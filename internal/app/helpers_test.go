package app

import (
	"net"
	"regexp"
	"testing"
)

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

func mustCIDRs(t *testing.T, cidrs ...string) []*net.IPNet {
	var out []*net.IPNet
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

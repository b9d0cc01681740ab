package syslog

import (
	"regexp"
	"testing"
)

// tagRE is the regular expression scanTag replaced.
var tagRE = regexp.MustCompile(`^([^\s:\[\]]{1,64})(?:\[([^\]\s]{1,32})\])?: `)

// FuzzScanTag checks that scanTag reads every input as tagRE did.
func FuzzScanTag(f *testing.F) {
	for _, s := range []string{
		"sshd[1234]: Accepted", "kernel: [1.2] eth0", "mib2d[1234]: SNMP", "Ebra: %LINE", "a: ", "a:", ": x", "[1]: x",
		"app[]: x", "app[1 2]: x", "app[[1]: x", "app[1]]: x", "app[1]:x", "app:: x", "app\t: x", "host 123: %LINK",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: x",
		"a[12345678901234567890123456789012]: x", "a[123456789012345678901234567890123]: x", "a[:]: x", "a[\x0b]: x", "\xff\xfe: x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		app, pid, n, ok := scanTag(s)
		m := tagRE.FindStringSubmatch(s)
		if ok != (m != nil) || ok && (app != m[1] || pid != m[2] || n != len(m[0])) {
			t.Fatalf("scanTag(%q) = %q %q %d %v, tagRE found %q", s, app, pid, n, ok, m)
		}
	})
}

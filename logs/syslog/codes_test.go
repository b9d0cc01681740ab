package syslog

import (
	"regexp"
	"testing"
)

// The regular expressions the scanners in codes.go replaced.
var (
	sequenceRE  = regexp.MustCompile(`^(\d*): `)
	ciscoCodeRE = regexp.MustCompile(`^%([A-Z][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+){0,2}-[0-7FACEWNID]-[A-Za-z0-9_]+)(?: ?:| )`)
	upperTagRE  = regexp.MustCompile(`^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+):`)
)

var codeSeeds = []string{
	"", ":", ": ", "123: x", ": %LINK", "000123: *Mar", "12:x", "12 : x", "1a: x",
	"%LINK-3-UPDOWN: Interface", "%LINEPROTO-5-UPDOWN:", "%ASA-6-302013: Built", "%ETHPORT-5-IF_DOWN_LINK_FAILURE: x",
	"%SYS-SP-3-LOGGER_FLUSHED: x", "%ETH_PORT_CHANNEL-5-PORT_UP: x", "%LINK-8-UPDOWN: x", "%LINK-33-UPDOWN: x", "%LINK--3-UPDOWN: x",
	"%LINK-3-: x", "%-3-UPDOWN: x", "%link-3-UPDOWN: x", "%A-B-C-3-X: x", "%A-B-3-X-Y: x", "%A-3-X", "%:", "%", "%A-3-X:",
	"%A-B-3-X:", "%PKT_INFRA-LINK-3-UPDOWN : x", "%A-B-C-D-3-X: x", "%A-3-X  : x", "%A-3-X :", "% :", "%ASA-session-5-106100: x", "%IPADTBL-N-IPDUPLICATE: x", "%HAL_config_poe-A-POEFailDetected: x", "%ASA-6-302016 Teardown", "%A-X-Y: x", "%1A-3-X:", "%_-3-X:", "%A_-3-_:", "%A-3-X-:", "%A-3-X\xff:",
	"SNMP_TRAP_LINK_DOWN: ifIndex", "SNMP_TRAP_LINK_DOWN:", "SNMPD: x", "SNMP__TRAP: x", "SNMP_: x", "_SNMP_X: x", "S_1: x",
	"S1_A2_B3:", "snmp_trap: x", "S_T", "A_B-C: x", "A_B:C", "1_A: x", "A\x80_B: x",
}

// FuzzScanSequence checks that scanSequence reads every input as sequenceRE did.
func FuzzScanSequence(f *testing.F) {
	for _, s := range codeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, n, ok := scanSequence(s)
		m := sequenceRE.FindStringSubmatch(s)
		if ok != (m != nil) || ok && (seq != m[1] || n != len(m[0])) {
			t.Fatalf("scanSequence(%q) = %q %d %v, sequenceRE found %q", s, seq, n, ok, m)
		}
	})
}

// FuzzCiscoCode checks that ciscoCode reads every input as ciscoCodeRE did.
func FuzzCiscoCode(f *testing.F) { fuzzFirstGroup(f, "ciscoCode", ciscoCode, ciscoCodeRE) }

// FuzzUpperTag checks that upperTag reads every input as upperTagRE did.
func FuzzUpperTag(f *testing.F) { fuzzFirstGroup(f, "upperTag", upperTag, upperTagRE) }

// fuzzFirstGroup checks that scan returns what re's first group matches,
// or "" where re does not match.
func fuzzFirstGroup(f *testing.F, name string, scan func(string) string, re *regexp.Regexp) {
	for _, s := range codeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := ""
		if m := re.FindStringSubmatch(s); m != nil {
			want = m[1]
		}
		if got := scan(s); got != want {
			t.Fatalf("%s(%q) = %q, %s found %q", name, s, got, re, want)
		}
	})
}

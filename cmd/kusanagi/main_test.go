package main

import (
	"strings"
	"testing"
)

// TestHelpPrintsAndRunsNothing: --help on a serving command prints its
// usage and exits 0; it must not go on to start the service (and take its
// ports). The context is not cancelled, so a started service would hang here.
func TestHelpPrintsAndRunsNothing(t *testing.T) {
	for _, args := range [][]string{
		{"--help"},
		{"run", "--help"},
		{"syslog", "--help"},
		{"traps", "-h"},
		{"alertmanager", "--help"},
		{"help", "rules"},
		{"version"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
		if out := stdout + stderr; !strings.Contains(out, "usage: kusanagi") && !strings.Contains(out, "version") {
			t.Errorf("%v printed neither usage nor version:\n%s", args, out)
		}
	}
}

// TestSendLogDefaultsToKusanagisPortForTheTransport: TLS has a port of its
// own (9601), so --transport=tls without --to must not dial the TCP port.
func TestSendLogDefaultsToKusanagisPortForTheTransport(t *testing.T) {
	code, _, stderr := runCLI(t, "send-log", "--transport=tls", "test line")
	if code == 0 || !strings.Contains(stderr, "[::1]:9601") {
		t.Fatalf("exit %d, stderr %q: want a failure to reach [::1]:9601 (nothing listens in the test)", code, stderr)
	}
}

// TestSendTrapWithoutCommunityIsRefused: a v2c trap without a community
// would be dropped at the receiver with nothing said to the operator.
func TestSendTrapWithoutCommunityIsRefused(t *testing.T) {
	code, _, stderr := runCLI(t, "send-trap", "IF-MIB::linkDown")
	if code != 2 || !strings.Contains(stderr, "--community is required") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

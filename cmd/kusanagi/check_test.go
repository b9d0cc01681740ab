package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckExampleCatalogue(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check", "catalogue", "../../examples/catalogue.yml")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "SUCCESS: 16 alerts in 1 files") {
		t.Fatalf("stdout %q", stdout)
	}
}

// TestCheckFiveMistakes is the acceptance test: five different
// mistakes give five FILE:LINE:COL: lines pointing at each.
func TestCheckFiveMistakes(t *testing.T) {
	f := "../../rules/testdata/five-mistakes.bad.yaml"
	code, stdout, stderr := runCLI(t, "check", "catalogue", f)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if stdout != "" {
		t.Fatalf("stdout %q, want nothing", stdout)
	}
	want := []string{
		f + `:8:15: alert "InterfaceDown": key "ifIndx" is not one of this trap source's labels`,
		f + `:12:15: alert "LinkFlap": unknown severity "urgent"`,
		f + `:15:56: alert "LinkFlap": query: query column 40: unterminated phrase`,
		f + `:21:21: alert "TargetDown": expr: unexpected "="`,
		f + `:22:11: alert "InterfaceDown" is already defined at ` + f + `:2:11`,
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s…", i+1, lines[i], w)
		}
	}
}

func TestCheckCatalogueNamesUniqueAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	entry := "alerts:\n  - name: Same\n    severity: info\n    summary: s\n    metrics: [{expr: up == 0}]\n"
	a, b := filepath.Join(dir, "a.yml"), filepath.Join(dir, "b.yml")
	os.WriteFile(a, []byte(entry), 0o644)
	os.WriteFile(b, []byte(entry), 0o644)
	code, _, stderr := runCLI(t, "check", "catalogue", a, b)
	if code != 1 || !strings.Contains(stderr, b+`:2:11: alert "Same" is already defined at `+a+`:2:11`) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckCatalogueMissingFile(t *testing.T) {
	code, _, stderr := runCLI(t, "check", "catalogue", "no/such/file.yml")
	if code != 2 || !strings.Contains(stderr, "no/such/file.yml") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestCheckExampleConfig(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check", "config", "../../examples/kusanagi.yml")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "SUCCESS") {
		t.Fatalf("stdout %q", stdout)
	}
}

func TestCheckBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kusanagi.yml")
	os.WriteFile(cfg, []byte(`web:
  listen_address: '::1:9180'
catalogue:
  files: [missing-*.yml]
traps:
  listen_adresses: ['[::]:9162']
`), 0o644)
	code, _, stderr := runCLI(t, "check", "config", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		cfg + `:2:19: listen_address: invalid listen address "::1:9180"`,
		cfg + `:6:3: unknown field "listen_adresses"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	// A valid config whose catalogue has a mistake reports the catalogue's line.
	os.WriteFile(cfg, []byte("catalogue:\n  files: [c.yml]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yml"), []byte("alerts:\n  - name: X\n    severity: info\n    summary: s\n    metrics: [{expr: 'up =='}]\n"), 0o644)
	code, _, stderr = runCLI(t, "check", "config", cfg)
	if code != 1 || !strings.Contains(stderr, filepath.Join(dir, "c.yml")+`:5:28: alert "X": expr: unexpected end of input`) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := runCLI(t, "frobnicate")
	if code != 2 || !strings.Contains(stderr, "frobnicate") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

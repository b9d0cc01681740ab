package traps

import (
	"strings"
	"testing"
)

func TestLoadDir(t *testing.T) {
	n := NewNames()
	if errs := n.LoadDir("testdata/mibs"); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]string{
		"KUSANAGI-TEST-MIB::kusanagiTestFanFailed":      "1.3.6.1.4.1.99999.0.1",
		"KUSANAGI-TEST-MIB::kusanagiTestFanName":        "1.3.6.1.4.1.99999.1.2",
		"KUSANAGI-V1-TEST-MIB::kusanagiLegacyPowerLost": "1.3.6.1.4.1.99998.0.3",
	} {
		if got, err := n.Resolve(name); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %s", name, got, err, want)
		}
	}
	if got := n.Name("1.3.6.1.4.1.99999.1.2.5"); got != "KUSANAGI-TEST-MIB::kusanagiTestFanName.5" {
		t.Errorf("Name = %q", got)
	}
}

// TestLoadDirReportsBadModulesAndLoadsTheRest: a module that does not
// parse is reported with file and line, and the others still load.
func TestLoadDirReportsBadModulesAndLoadsTheRest(t *testing.T) {
	n := NewNames()
	errs := n.LoadDir("testdata/badmibs")
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	if len(errs) != 2 || !strings.Contains(all, "testdata/badmibs/BROKEN-MIB.txt:10:") ||
		!strings.Contains(all, `testdata/badmibs/ORPHAN-MIB.txt:3: ORPHAN-MIB::orphan: parent "noSuchParent" is not defined`) {
		t.Fatalf("errors:\n%s", all)
	}
	if _, err := n.Resolve("KUSANAGI-TEST-MIB::kusanagiTestFanFailed"); err != nil {
		t.Fatalf("the good module did not load: %v", err)
	}
}

package rules

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .errors golden files of testdata/*.bad.yaml")

func TestExampleCatalogueIsValid(t *testing.T) {
	c, err := LoadFiles("../examples/catalogue.yml")
	if err != nil {
		t.Fatalf("examples/catalogue.yml:\n%v", err)
	}
	if len(c.Alerts) < 10 {
		t.Fatalf("examples/catalogue.yml has %d alerts, want the full example", len(c.Alerts))
	}
}

func TestGoodCatalogues(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadFiles(f); err != nil {
				t.Fatalf("want no error, got:\n%v", err)
			}
		})
	}
}

// TestBadCatalogues checks that each testdata/*.bad.yaml gives exactly the
// errors in the .errors file next to it.
func TestBadCatalogues(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.bad.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := LoadFiles(f)
			if err == nil {
				t.Fatal("want errors, got none")
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(f, ".yaml") + ".errors"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./rules -update to write it)", err)
			}
			if got != string(want) {
				t.Fatalf("errors differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}

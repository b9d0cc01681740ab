package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the catalogue loader: it must never
// panic, and every problem it reports must carry a file and a line.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "../examples/catalogue.yml")
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		c, errs := Parse(File{Name: "fuzz.yml", Src: src})
		if len(errs) == 0 {
			if c == nil {
				t.Fatal("no errors and no catalogue")
			}
			return
		}
		for _, e := range errs {
			if e.File != "fuzz.yml" || e.Pos.Line < 1 || e.Pos.Column < 1 {
				t.Fatalf("error without a position: %q", e.Error())
			}
		}
	})
}

package elasticsearch

import (
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/dsl.golden")

// TestDSLGolden translates every query of the store contract and compares
// the DSL with the reviewed golden file.
func TestDSLGolden(t *testing.T) {
	var b strings.Builder
	from := storetest.Base
	to := from.Add(time.Minute)
	for _, c := range storetest.Cases {
		q, err := query.Parse(c.Query)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Query(q, from, to)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(c.Query + "\n" + string(js) + "\n\n")
	}
	if *update {
		os.WriteFile("testdata/dsl.golden", []byte(b.String()), 0o644)
	}
	want, err := os.ReadFile("testdata/dsl.golden")
	if err != nil {
		t.Fatalf("%v (go test ./logs/elasticsearch -update writes it)", err)
	}
	if b.String() != string(want) {
		t.Fatalf("DSL differs from testdata/dsl.golden:\n%s", b.String())
	}
}

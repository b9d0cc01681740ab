package rules

import (
	"os"
	"testing"

	"github.com/kusanagi-dev/kusanagi/logs/query"
)

func BenchmarkParseExampleCatalogue(b *testing.B) {
	src, err := os.ReadFile("../examples/catalogue.yml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, errs := Parse(File{Name: "catalogue.yml", Src: src}); errs != nil {
			b.Fatal(errs)
		}
	}
}

func BenchmarkParseLogQuery(b *testing.B) {
	q := `event.code:"LINK-3-UPDOWN" AND message:"changed state to down" AND NOT host.ip:(fd00::1 OR 10.0.0.*)`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := query.Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecuteTrapLabel(b *testing.B) {
	tmpl, err := parseTemplate("ifName", `{{ varbind "IF-MIB::ifDescr" }}`, trapTemplateFuncs)
	if err != nil {
		b.Fatal(err)
	}
	lookup := testVarbinds{"IF-MIB::ifDescr": {"", "GigabitEthernet0/1"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.ExecuteTrap(TemplateData{}, lookup); err != nil {
			b.Fatal(err)
		}
	}
}

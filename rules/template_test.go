package rules

import "testing"

func TestTemplates(t *testing.T) {
	data := TemplateData{Labels: map[string]string{"instance": "fd00::1", "ifName": "Gi0/1"}, Value: 1234567}
	tests := []struct{ text, want string }{
		{"plain text", "plain text"},
		{"{{ .Labels.ifName }} on {{ $labels.instance }}", "Gi0/1 on fd00::1"},
		{"{{ $value }}", "1.234567e+06"},
		{"{{ $value | humanize }}", "1.235M"},
		{"{{ humanize 0.0021 }}", "2.1m"},
		{"{{ humanizeDuration 3725 }}", "1h 2m 5s"},
		{"{{ humanizeDuration 90061 }}", "1d 1h 1m 1s"},
		{"{{ .Labels.missing }}", ""},
		{`{{ reReplaceAll "^Gi" "GigabitEthernet" .Labels.ifName }}`, "GigabitEthernet0/1"},
		{`{{ toUpper "down" }} {{ title "link down" }}`, "DOWN Link Down"},
	}
	for _, tt := range tests {
		tmpl, err := parseTemplate("t", tt.text, templateFuncs)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		got, err := tmpl.Execute(data)
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
}

func TestTrapTemplateVarbinds(t *testing.T) {
	tmpl, err := parseTemplate("ifName", `{{ varbind "IF-MIB::ifDescr" }}/{{ varbind "1.3.6.1.2.1.2.2.1.1" }}/{{ varbind "absent" }}`, trapTemplateFuncs)
	if err != nil {
		t.Fatal(err)
	}
	varbinds := map[string]string{"IF-MIB::ifDescr": "ge-0/0/1", "1.3.6.1.2.1.2.2.1.1": "529"}
	got, err := tmpl.ExecuteTrap(TemplateData{}, func(k string) (string, bool) { v, ok := varbinds[k]; return v, ok })
	if err != nil || got != "ge-0/0/1/529/" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := tmpl.Execute(TemplateData{}); err == nil {
		t.Fatal("varbind outside a trap must fail")
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		in       string
		holds    []float64
		fails    []float64
		flatline bool
	}{
		{"count > 0", []float64{1, 5}, []float64{0}, false},
		{"count>=10", []float64{10}, []float64{9}, false},
		{"count < 1", []float64{0}, []float64{1}, true},
		{"count == 0", []float64{0}, []float64{2}, true},
		{"spike >= 3", []float64{3, 4}, []float64{2.9}, false},
	}
	for _, tt := range tests {
		c, err := ParseCondition(tt.in)
		if err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		for _, v := range tt.holds {
			if !c.Holds(v) {
				t.Errorf("%q does not hold for %v", tt.in, v)
			}
		}
		for _, v := range tt.fails {
			if c.Holds(v) {
				t.Errorf("%q holds for %v", tt.in, v)
			}
		}
		if c.Flatline() != tt.flatline {
			t.Errorf("%q Flatline() = %v", tt.in, c.Flatline())
		}
	}
	for _, bad := range []string{"", "count", "count > x", "rate > 1", "count ~ 1", "count < 0", "count > -1", "count > NaN"} {
		if _, err := ParseCondition(bad); err == nil {
			t.Errorf("ParseCondition(%q) = nil error", bad)
		}
	}
}

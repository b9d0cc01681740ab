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
	varbinds := testVarbinds{"IF-MIB::ifDescr": {"3", "ge-0/0/1"}, "1.3.6.1.2.1.2.2.1.1": {"3", "529"}}
	got, err := tmpl.ExecuteTrap(TemplateData{}, varbinds)
	if err != nil || got != "ge-0/0/1/529/" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := tmpl.Execute(TemplateData{}); err == nil {
		t.Fatal("varbind outside a trap must fail")
	}
}

// testVarbinds maps an object to its varbind's instance and value.
type testVarbinds map[string][2]string

func (v testVarbinds) Varbind(name string) (string, bool) { x, ok := v[name]; return x[1], ok }
func (v testVarbinds) VarbindIndex(name string) (string, bool) {
	x, ok := v[name]
	return x[0], ok
}

// TestTrapTemplateIndexes: varbindIndex gives the instance an object's
// varbind carries, and inetAddress and ipAddress the address an index
// holds (CISCO-BGP4-MIB's cbgpPeer2RemoteAddr, OSPF-MIB's ospfNbrIpAddr).
func TestTrapTemplateIndexes(t *testing.T) {
	varbinds := testVarbinds{
		"CISCO-BGP4-MIB::cbgpPeer2State":        {"1.4.192.0.2.1", "1"},
		"1.3.6.1.4.1.9.9.187.1.2.5.1.3":         {"2.16.32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1", "1"},
		"OSPF-MIB::ospfNbrState":                {"10.0.0.2.0", "1"},
		"CISCO-ENVMON-MIB::ciscoEnvMonFanState": {"2", "3"},
	}
	for _, c := range []struct{ text, want string }{
		{`{{ varbindIndex "CISCO-ENVMON-MIB::ciscoEnvMonFanState" }}`, "2"},
		{`{{ varbindIndex "CISCO-BGP4-MIB::cbgpPeer2State" | inetAddress }}`, "192.0.2.1"},
		{`{{ varbindIndex "1.3.6.1.4.1.9.9.187.1.2.5.1.3" | inetAddress }}`, "2001:db8::1"},
		{`{{ varbindIndex "OSPF-MIB::ospfNbrState" | ipAddress }}`, "10.0.0.2"},
		{`{{ varbindIndex "absent" }}{{ varbindIndex "absent" | inetAddress }}`, ""},
	} {
		tmpl, err := parseTemplate("x", c.text, trapTemplateFuncs)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tmpl.ExecuteTrap(TemplateData{}, varbinds); err != nil || got != c.want {
			t.Errorf("%s = %q, %v; want %q", c.text, got, err, c.want)
		}
	}
	for _, bad := range []string{"1.5.1.2.3.4.5", "x.y", "1.4.300.0.0.1"} {
		if _, err := InetAddressIndex(bad); err == nil {
			t.Errorf("inetAddress %q: no error", bad)
		}
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

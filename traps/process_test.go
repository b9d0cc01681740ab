package traps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/rules"
)

const forwardedCatalogue = `alerts:
  - name: CoreLinkDown
    severity: critical
    summary: core link down
    traps:
      - oid: IF-MIB::linkDown
        sources: ['2001:db8:c0::/48', 192.0.2.0/24]
        key: [ifIndex]
        labels:
          ifIndex: '{{ varbind "IF-MIB::ifIndex" }}'
`

func newProcessor(t *testing.T, catalogue string, o Options) (*Receiver, *captured) {
	t.Helper()
	c, errs := rules.Parse(rules.File{Name: "c.yml", Src: []byte(catalogue)})
	if errs != nil {
		t.Fatal(errs)
	}
	sent := &captured{}
	o.Catalogue = func() *rules.Catalogue { return c }
	o.Sender = sent
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r, sent
}

func linkDownTrap(src string, extra ...Varbind) *Trap {
	return &Trap{
		Source: netip.MustParseAddrPort(src), Version: "2c", OID: linkDown, Received: time.Now(),
		Varbinds: append([]Varbind{{OID: "1.3.6.1.2.1.2.2.1.1.7", Value: "7"}}, extra...),
	}
}

func TestSourcesAndTrustedForwarders(t *testing.T) {
	r, sent := newProcessor(t, forwardedCatalogue, Options{TrustedForwarders: []string{"2001:db8:f::1"}})
	relayed := Varbind{OID: snmpTrapAddress0, Value: "192.0.2.9"}

	// A device in the sources: matches.
	r.Process(linkDownTrap("[2001:db8:c0::5]:162"))
	// A device outside them: no alert.
	r.Process(linkDownTrap("[2001:db8:99::5]:162"))
	// An untrusted sender claiming to relay a core device: its own address counts.
	r.Process(linkDownTrap("[2001:db8:99::6]:162", relayed))
	// The trusted forwarder relaying a core device: the device counts.
	r.Process(linkDownTrap("[2001:db8:f::1]:162", relayed))
	// A v4-mapped IPv4 sender is unmapped before matching.
	r.Process(linkDownTrap("[::ffff:192.0.2.10]:162"))

	got := sent.wait(t, 3)
	want := []string{"2001:db8:c0::5", "192.0.2.9", "192.0.2.10"}
	if len(got) != 3 {
		t.Fatalf("got %d alerts, want 3: %+v", len(got), got)
	}
	for i, w := range want {
		if got[i].Labels["instance"] != w {
			t.Errorf("alert %d instance %q, want %q", i, got[i].Labels["instance"], w)
		}
	}
}

func TestClearAfterRestartResolvesByLabels(t *testing.T) {
	r, sent := newProcessor(t, `alerts:
  - name: InterfaceDown
    severity: major
    summary: down
    traps:
      - oid: IF-MIB::linkDown
        clear: IF-MIB::linkUp
        key: [ifIndex]
        labels:
          ifIndex: '{{ varbind "IF-MIB::ifIndex" }}'
`, Options{})
	up := linkDownTrap("192.0.2.1:162")
	up.OID = linkUp
	r.Process(up) // this process never saw the linkDown
	a := sent.wait(t, 1)[0]
	if a.EndsAt.After(time.Now()) || a.Labels["alertname"] != "InterfaceDown" || a.Labels["ifIndex"] != "7" || a.Labels["instance"] != "192.0.2.1" {
		t.Fatalf("resolve without state: %+v", a)
	}
}

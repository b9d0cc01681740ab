package traps

import (
	"testing"
)

// TestVendorMIBNames: the MIB directory's vendor modules, which import
// one another (CISCO-SMI, JUNIPER-SMI), resolve their notifications and
// objects by name, and a v1 spelling comes back in the MIB's.
func TestVendorMIBNames(t *testing.T) {
	n := NewNames()
	if errs := n.LoadDir("testdata/vendor-mibs"); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, want := range map[string]string{
		"CISCO-ENVMON-MIB::ciscoEnvMonFanStatusChangeNotif":  "1.3.6.1.4.1.9.9.13.3.0.8",
		"CISCO-ENVMON-MIB::ciscoEnvMonFanState":              "1.3.6.1.4.1.9.9.13.1.4.1.3",
		"CISCO-BGP4-MIB::cbgpPeer2BackwardTransNotification": "1.3.6.1.4.1.9.9.187.0.8",
		"CISCO-BGP4-MIB::cbgpPeer2EstablishedNotification":   "1.3.6.1.4.1.9.9.187.0.7",
		"CISCO-BGP4-MIB::cbgpPeer2State":                     "1.3.6.1.4.1.9.9.187.1.2.5.1.3",
		"JUNIPER-MIB::jnxPowerSupplyFailure":                 "1.3.6.1.4.1.2636.4.1.1",
		"JUNIPER-MIB::jnxPowerSupplyOK":                      "1.3.6.1.4.1.2636.4.2.1",
		"JUNIPER-MIB::jnxContentsDescr":                      "1.3.6.1.4.1.2636.3.1.8.1.6",
	} {
		if got, err := n.Resolve(name); err != nil || got != want {
			t.Errorf("%s = %s, %v; want %s", name, got, err, want)
		}
	}
	if got := n.Notification("1.3.6.1.4.1.2636.4.1.0.1"); got != "1.3.6.1.4.1.2636.4.1.1" {
		t.Errorf("the v1 spelling of jnxPowerSupplyFailure comes back as %s", got)
	}
	if got := n.Notification("1.3.6.1.4.1.9.9.13.3.0.8"); got != "1.3.6.1.4.1.9.9.13.3.0.8" {
		t.Errorf("ciscoEnvMonFanStatusChangeNotif comes back as %s", got)
	}
	if got := n.Name("1.3.6.1.4.1.9.9.187.1.2.5.1.3.1.4.192.0.2.1"); got != "CISCO-BGP4-MIB::cbgpPeer2State.1.4.192.0.2.1" {
		t.Errorf("name of a peer's state: %s", got)
	}
}

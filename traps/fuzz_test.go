package traps

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

func encodedTraps(tb testing.TB) [][]byte {
	tb.Helper()
	vars := []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(42)},
		{Name: "." + snmpTrapOID0, Type: gosnmp.ObjectIdentifier, Value: "." + linkDown},
		{Name: ".1.3.6.1.2.1.2.2.1.1.3", Type: gosnmp.Integer, Value: 3},
		{Name: ".1.3.6.1.2.1.2.2.1.2.3", Type: gosnmp.OctetString, Value: []byte("Gi0/3")},
	}
	v2 := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "s3cret", PDUType: gosnmp.SNMPv2Trap, Variables: vars}
	inform := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "s3cret", PDUType: gosnmp.InformRequest, Variables: vars, RequestID: 7}
	v1 := &gosnmp.SnmpPacket{Version: gosnmp.Version1, Community: "s3cret", PDUType: gosnmp.Trap, Variables: vars[2:],
		SnmpTrap: gosnmp.SnmpTrap{Enterprise: ".1.3.6.1.4.1.8072", AgentAddress: "192.0.2.7", GenericTrap: 2, Variables: vars[2:]}}
	var out [][]byte
	for _, p := range []*gosnmp.SnmpPacket{v2, inform, v1} {
		b, err := p.MarshalMsg()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestDecodeEncodedTraps(t *testing.T) {
	d, err := NewDecoder([]string{"s3cret"}, testUsers)
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("[2001:db8::7]:40000")
	for i, b := range encodedTraps(t) {
		tr, _, err := d.Decode(b, src, time.Now())
		if err != nil {
			t.Fatalf("trap %d: %v", i, err)
		}
		if tr.OID != linkDown {
			t.Fatalf("trap %d: OID %s", i, tr.OID)
		}
		if v, _ := tr.Lookup("1.3.6.1.2.1.2.2.1.1"); v != "3" {
			t.Fatalf("trap %d: ifIndex %q", i, v)
		}
	}
}

// FuzzDecode: untrusted datagrams never panic the decoder, and a decoded
// trap always has an OID.
func FuzzDecode(f *testing.F) {
	for _, b := range encodedTraps(f) {
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	d, err := NewDecoder([]string{"s3cret"}, testUsers)
	if err != nil {
		f.Fatal(err)
	}
	e := newEngine()
	src := netip.MustParseAddrPort("192.0.2.1:162")
	f.Fuzz(func(t *testing.T, b []byte) {
		e.discoveryReport(b, 1)
		tr, _, err := d.Decode(b, src, time.Time{})
		if err == nil && tr.OID == "" {
			t.Fatal("decoded a trap without an OID")
		}
	})
}

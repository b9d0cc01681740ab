// Package traps receives SNMP traps and informs (v1, v2c, v3) on sockets
// it owns, matches them against the alert catalogue and raises and
// resolves the catalogue's alerts.
package traps

import (
	"net/netip"
	"time"
)

// Trap is a decoded trap or inform in SNMPv2 form (v1 traps converted per
// RFC 3584).
type Trap struct {
	// Source is the sender's address, unmapped from v4-mapped IPv6.
	Source netip.AddrPort
	// Version is "1", "2c" or "3".
	Version string
	// Community (v1, v2c) or User (v3) the trap was sent with.
	Community, User string
	// OID is snmpTrapOID.0, numeric.
	OID      string
	Varbinds []Varbind
	Inform   bool
	Received time.Time
}

// Varbind is one variable of a trap, numeric OID and value as text.
type Varbind struct {
	OID   string
	Type  string
	Value string
}

// Lookup finds a varbind's value by numeric OID: an exact match, or the
// object with any instance suffix (IF-MIB::ifDescr matches ifDescr.3).
func (t *Trap) Lookup(oid string) (string, bool) {
	for _, v := range t.Varbinds {
		if v.OID == oid {
			return v.Value, true
		}
	}
	for _, v := range t.Varbinds {
		if len(v.OID) > len(oid) && v.OID[len(oid)] == '.' && v.OID[:len(oid)] == oid {
			return v.Value, true
		}
	}
	return "", false
}

// Index is the instance suffix of the first varbind of the object oid:
// "2" for ciscoEnvMonFanState.2, "1.4.192.0.2.1" for
// cbgpPeer2State.1.4.192.0.2.1; "" with false when the trap carries no
// varbind of the object.
func (t *Trap) Index(oid string) (string, bool) {
	for _, v := range t.Varbinds {
		if v.OID == oid {
			return "", true
		}
		if len(v.OID) > len(oid) && v.OID[len(oid)] == '.' && v.OID[:len(oid)] == oid {
			return v.OID[len(oid)+1:], true
		}
	}
	return "", false
}

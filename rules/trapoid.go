package rules

import "strings"

// A notification has two spellings. RFC 3584 (section 3.1) turns an
// SNMPv1 trap with enterprise E and specific-trap S into the SNMPv2
// snmpTrapOID E.0.S, so an SMIv2 notification defined as E.0.S (as
// CISCO-ENVMON-MIB's are, to be v1-compatible) arrives as itself from
// either version, but one defined as E.S (JUNIPER-MIB's
// jnxPowerSupplyFailure 1.3.6.1.4.1.2636.4.1.1, OSPF-TRAP-MIB's
// ospfNbrStateChange) arrives as E.0.S from a v1 sender. A catalogue entry
// matches its notification in both spellings.

// TrapOIDSpellings returns a numeric notification OID's other spelling
// under RFC 3584: E.S for E.0.S, else E.0.S for E.S. ok is false for an
// OID too short to have one.
func TrapOIDSpellings(oid string) (other string, ok bool) {
	oid = strings.TrimPrefix(oid, ".")
	last := strings.LastIndexByte(oid, '.')
	if last <= 0 {
		return "", false
	}
	parent, s := oid[:last], oid[last+1:]
	if e, ok := strings.CutSuffix(parent, ".0"); ok && strings.Contains(e, ".") {
		return e + "." + s, true
	}
	return parent + ".0." + s, true
}

// SameTrapOID tells whether two catalogue OIDs name the same
// notification: the same text, or numeric spellings of one another.
func SameTrapOID(a, b string) bool {
	a, b = strings.TrimPrefix(a, "."), strings.TrimPrefix(b, ".")
	if a == b {
		return true
	}
	other, ok := TrapOIDSpellings(a)
	return ok && other == b
}

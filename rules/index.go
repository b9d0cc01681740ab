package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Tables of network gear are indexed by addresses written as OID arcs: a
// BGP peer of CISCO-BGP4-MIB's cbgpPeer2Table by InetAddressType, length
// and octets (1.4.192.0.2.1), an OSPF neighbour of OSPF-MIB's ospfNbrTable
// by its IpAddress and an address-less index (10.0.0.2.0). These
// functions give the address back, for labels operators can read.

// InetAddressIndex reads an index that starts with an InetAddressType and
// an InetAddress of its length (RFC 4001): "1.4.192.0.2.1" is 192.0.2.1,
// "2.16.32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1" is 2001:db8::1. Also the
// form of an index without the type (IMPLIED lengths vary): "4.192.0.2.1".
func InetAddressIndex(index string) (string, error) {
	if index == "" {
		return "", nil // the trap does not carry the object: no label
	}
	arcs, err := indexArcs(index)
	if err != nil {
		return "", err
	}
	switch {
	case len(arcs) >= 6 && (arcs[0] == 1 || arcs[0] == 3) && arcs[1] == 4:
		return addrOf(arcs[2:6], index)
	case len(arcs) >= 18 && (arcs[0] == 2 || arcs[0] == 4) && arcs[1] == 16:
		return addrOf(arcs[2:18], index)
	case len(arcs) >= 5 && arcs[0] == 4:
		return addrOf(arcs[1:5], index)
	case len(arcs) >= 17 && arcs[0] == 16:
		return addrOf(arcs[1:17], index)
	}
	return "", fmt.Errorf("inetAddress: %q is not an InetAddressType, a length and an address", index)
}

// IPAddressIndex reads an index that starts with an IpAddress, four arcs:
// "10.0.0.2.0" is 10.0.0.2.
func IPAddressIndex(index string) (string, error) {
	if index == "" {
		return "", nil
	}
	arcs, err := indexArcs(index)
	if err != nil {
		return "", err
	}
	if len(arcs) < 4 {
		return "", fmt.Errorf("ipAddress: %q has fewer than four arcs", index)
	}
	return addrOf(arcs[:4], index)
}

func indexArcs(index string) ([]int, error) {
	if index == "" {
		return nil, nil
	}
	parts := strings.Split(index, ".")
	arcs := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%q is not an OID index", index)
		}
		arcs[i] = v
	}
	return arcs, nil
}

func addrOf(arcs []int, index string) (string, error) {
	b := make([]byte, len(arcs))
	for i, a := range arcs {
		if a > 255 {
			return "", fmt.Errorf("%q: arc %d is not an octet", index, a)
		}
		b[i] = byte(a)
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap().String(), nil
}

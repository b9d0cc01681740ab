package traps

import (
	"fmt"
	"strings"
	"sync"

	"github.com/kusanagi-dev/kusanagi/rules"
)

// Names maps MODULE::name to numeric OIDs and back. It starts with the
// standard names network gear sends every day and takes more from MIB
// modules (LoadDir).
type Names struct {
	mu     sync.RWMutex
	byName map[string]string // "IF-MIB::linkDown" -> "1.3.6.1.6.3.1.1.5.3"
	byOID  map[string]string // and back
}

// wellKnown are OIDs of standard notifications and the objects they carry
// (RFC 3418 SNMPv2-MIB, RFC 2863 IF-MIB, RFC 4273 BGP4-MIB, RFC 3584
// SNMP-COMMUNITY-MIB, RFC 3413 SNMP-NOTIFICATION-MIB): enough to write a
// catalogue for common gear without loading any MIB file.
var wellKnown = map[string]string{
	"SNMPv2-MIB::sysDescr":                   "1.3.6.1.2.1.1.1",
	"SNMPv2-MIB::sysObjectID":                "1.3.6.1.2.1.1.2",
	"SNMPv2-MIB::sysUpTime":                  "1.3.6.1.2.1.1.3",
	"SNMPv2-MIB::sysName":                    "1.3.6.1.2.1.1.5",
	"SNMPv2-MIB::snmpTrapOID":                "1.3.6.1.6.3.1.1.4.1",
	"SNMPv2-MIB::snmpTrapEnterprise":         "1.3.6.1.6.3.1.1.4.3",
	"SNMPv2-MIB::coldStart":                  "1.3.6.1.6.3.1.1.5.1",
	"SNMPv2-MIB::warmStart":                  "1.3.6.1.6.3.1.1.5.2",
	"IF-MIB::linkDown":                       "1.3.6.1.6.3.1.1.5.3",
	"IF-MIB::linkUp":                         "1.3.6.1.6.3.1.1.5.4",
	"SNMPv2-MIB::authenticationFailure":      "1.3.6.1.6.3.1.1.5.5",
	"SNMP-COMMUNITY-MIB::snmpTrapAddress":    "1.3.6.1.6.3.18.1.3",
	"SNMP-COMMUNITY-MIB::snmpTrapCommunity":  "1.3.6.1.6.3.18.1.4",
	"IF-MIB::ifIndex":                        "1.3.6.1.2.1.2.2.1.1",
	"IF-MIB::ifDescr":                        "1.3.6.1.2.1.2.2.1.2",
	"IF-MIB::ifType":                         "1.3.6.1.2.1.2.2.1.3",
	"IF-MIB::ifAdminStatus":                  "1.3.6.1.2.1.2.2.1.7",
	"IF-MIB::ifOperStatus":                   "1.3.6.1.2.1.2.2.1.8",
	"IF-MIB::ifName":                         "1.3.6.1.2.1.31.1.1.1.1",
	"IF-MIB::ifAlias":                        "1.3.6.1.2.1.31.1.1.1.18",
	"BGP4-MIB::bgpEstablishedNotification":   "1.3.6.1.2.1.15.0.1",
	"BGP4-MIB::bgpBackwardTransNotification": "1.3.6.1.2.1.15.0.2",
	"BGP4-MIB::bgpEstablished":               "1.3.6.1.2.1.15.7.1",
	"BGP4-MIB::bgpBackwardTransition":        "1.3.6.1.2.1.15.7.2",
	"BGP4-MIB::bgpPeerState":                 "1.3.6.1.2.1.15.3.1.2",
	"BGP4-MIB::bgpPeerRemoteAddr":            "1.3.6.1.2.1.15.3.1.7",
	"BGP4-MIB::bgpPeerLastError":             "1.3.6.1.2.1.15.3.1.14",
	"ENTITY-MIB::entConfigChange":            "1.3.6.1.2.1.47.2.0.1",
	"SNMP-NOTIFICATION-MIB::snmpNotifyType":  "1.3.6.1.6.3.13.1.1.1.3",
	"DISMAN-EVENT-MIB::mteTriggerFired":      "1.3.6.1.2.1.88.2.0.1",
	"HOST-RESOURCES-MIB::hrSystemUptime":     "1.3.6.1.2.1.25.1.1",
	"OSPF-TRAP-MIB::ospfNbrStateChange":      "1.3.6.1.2.1.14.16.2.2",
	"OSPF-TRAP-MIB::ospfIfStateChange":       "1.3.6.1.2.1.14.16.2.16",
	"OSPF-MIB::ospfNbrState":                 "1.3.6.1.2.1.14.10.1.6",
	"OSPF-MIB::ospfNbrIpAddr":                "1.3.6.1.2.1.14.10.1.1",
	// RFC 3877 ALARM-MIB: an alarm's raise and clear, and the objects that
	// name the alarm model and the resource it is about.
	"ALARM-MIB::alarmActiveState":        "1.3.6.1.2.1.118.0.2",
	"ALARM-MIB::alarmClearState":         "1.3.6.1.2.1.118.0.3",
	"ALARM-MIB::alarmActiveResourceId":   "1.3.6.1.2.1.118.1.2.2.1.10",
	"ALARM-MIB::alarmActiveModelPointer": "1.3.6.1.2.1.118.1.2.2.1.13",
}

// NewNames returns the well-known names.
func NewNames() *Names {
	n := &Names{byName: map[string]string{}, byOID: map[string]string{}}
	for name, oid := range wellKnown {
		n.add(name, oid)
	}
	return n
}

func (n *Names) add(name, oid string) {
	n.byName[name] = oid
	if _, ok := n.byOID[oid]; !ok {
		n.byOID[oid] = name
	}
}

// Add registers a name; a later module's name for the same OID does not
// replace the first.
func (n *Names) Add(name, oid string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.add(name, strings.TrimPrefix(oid, "."))
}

// Resolve turns a numeric OID or MODULE::name[.index] into a numeric OID.
func (n *Names) Resolve(s string) (string, error) {
	s = strings.TrimPrefix(s, ".")
	if !strings.Contains(s, "::") {
		return s, nil
	}
	name, index := s, ""
	if i := strings.IndexByte(s[strings.Index(s, "::")+2:], '.'); i >= 0 {
		cut := strings.Index(s, "::") + 2 + i
		name, index = s[:cut], s[cut:]
	}
	n.mu.RLock()
	oid, ok := n.byName[name]
	n.mu.RUnlock()
	if !ok {
		return "", fmt.Errorf("unknown name %q: load the MIB module that defines it (traps: mib_dirs) or write the numeric OID", name)
	}
	return oid + index, nil
}

// Name returns MODULE::name for an OID, with the remaining sub-identifiers
// (the instance) appended, or the numeric OID when no prefix is known.
func (n *Names) Name(oid string) string {
	oid = strings.TrimPrefix(oid, ".")
	n.mu.RLock()
	defer n.mu.RUnlock()
	for prefix := oid; prefix != ""; {
		if name, ok := n.byOID[prefix]; ok {
			return name + oid[len(prefix):]
		}
		i := strings.LastIndexByte(prefix, '.')
		if i < 0 {
			break
		}
		prefix = prefix[:i]
	}
	return oid
}

// Notification returns the spelling of a notification OID that a name is
// known for: a v1 trap converted to E.0.S (RFC 3584) whose MIB defines it
// as E.S comes back as E.S, so that records carry the SMIv2 form and its
// name. An OID neither spelling of which is known is returned unchanged.
func (n *Names) Notification(oid string) string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if _, ok := n.byOID[oid]; ok {
		return oid
	}
	if other, ok := rules.TrapOIDSpellings(oid); ok {
		if _, known := n.byOID[other]; known {
			return other
		}
	}
	return oid
}

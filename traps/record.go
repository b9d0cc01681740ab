package traps

import (
	"sort"
	"strconv"
	"strings"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// record is the trap as a log record, with ECS-style field names, so that
// operators search raw traps the way they search logs:
// event.dataset:snmp.trap AND event.code:"IF-MIB::linkDown".
func (t *Trap) record(names *Names, inst string) logs.Record {
	name := names.Name(t.OID)
	f := map[string]string{
		"event.dataset": "snmp.trap",
		"event.code":    name,
		"source.ip":     t.Source.Addr().String(),
		"source.port":   strconv.Itoa(int(t.Source.Port())),
		"snmp.version":  t.Version,
		"snmp.trap.oid": t.OID,
	}
	if t.Community != "" {
		f["snmp.community"] = t.Community
	}
	if t.User != "" {
		f["snmp.user"] = t.User
	}
	if t.Inform {
		f["snmp.inform"] = "true"
	}
	var parts []string
	for _, v := range t.Varbinds {
		vname := names.Name(v.OID)
		parts = append(parts, vname+"="+v.Value)
		// One field per object, its instance suffix left out, so that the
		// set of field names stays bounded by the MIBs, not by the devices.
		key := "snmp.varbind." + strings.ReplaceAll(objectName(names, v.OID, vname), "::", ".")
		if old, ok := f[key]; ok {
			f[key] = old + ", " + v.Value
		} else {
			f[key] = v.Value
		}
	}
	sort.Strings(parts)
	return logs.Record{
		Timestamp: t.Received, // a trap carries no wall time of its sender's
		Received:  t.Received,
		HostIP:    inst,
		Message:   name + " from " + inst + ": " + strings.Join(parts, " "),
		Fields:    f,
	}
}

// objectName is the varbind's object: its name without the instance, or
// the numeric OID when no MIB names it.
func objectName(names *Names, oid, name string) string {
	if name == oid {
		return oid
	}
	if i := strings.Index(name, "::"); i >= 0 {
		if j := strings.IndexByte(name[i+2:], '.'); j >= 0 {
			return name[:i+2+j]
		}
	}
	return name
}

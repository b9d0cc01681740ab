package syslog

import (
	"fmt"
	"time"
)

//go:generate go run ./internal/zonesgen -o zones_iana.go

// Gear prints its zone as an abbreviation (Cisco's `service timestamps
// log datetime localtime show-timezone`, NX-OS, Junos), which Go reads
// only for the zone it is given. An abbreviation is looked up in the
// sender's profile (for the ones gear invents: MEZ, or CST meaning China),
// then in the universal ones, then in every abbreviation the IANA database
// has used since 1970 (zones_iana.go). Several of those stand for more
// than one offset (CST: US Central, Cuba or China; IST: India, Ireland or
// Israel): of them, the one that puts the line nearest to its arrival is
// taken, as the clock that wrote it most likely runs about right.

// universalZones are the abbreviations for UTC that are not zones of
// their own in the IANA database.
var universalZones = map[string]bool{"UTC": true, "GMT": true, "UT": true, "Z": true, "ZULU": true}

// ZoneTable maps a zone abbreviation to its UTC offset in seconds.
type ZoneTable map[string]int

// ParseOffset reads a UTC offset as a profile gives it: "+05:30", "-0800",
// "+08", or "UTC".
func ParseOffset(s string) (int, error) {
	if universalZones[s] {
		return 0, nil
	}
	end, off, ok := scanOffset(s, 0, false)
	if !ok || end != len(s) {
		return 0, fmt.Errorf("%q is not a UTC offset (+05:30, -0800, +08)", s)
	}
	return off, nil
}

// zoneKnown tells whether abbr names a zone, for telling a zone from a
// short hostname after a timestamp.
func (p *Profile) zoneKnown(abbr string) bool {
	if abbr == "UTC" {
		return true // what most gear prints: no lookups
	}
	if _, ok := p.Zones[abbr]; ok {
		return true
	}
	_, ok := ianaZones[abbr]
	return ok || universalZones[abbr]
}

// zoneTime is the time of st read in the zone abbr names.
func (p *Profile) zoneTime(st *stamp, abbr string, now time.Time) (time.Time, bool) {
	if abbr == "UTC" && p.Zones == nil {
		return st.time(time.UTC, now)
	}
	if off, ok := p.Zones[abbr]; ok {
		return st.time(time.FixedZone(abbr, off), now)
	}
	if universalZones[abbr] {
		return st.time(time.UTC, now)
	}
	var best time.Time
	found := false
	for _, off := range ianaZones[abbr] {
		ts, ok := st.time(time.FixedZone(abbr, int(off)), now)
		if ok && (!found || absDuration(ts.Sub(now)) < absDuration(best.Sub(now))) {
			best, found = ts, true
		}
	}
	return best, found
}

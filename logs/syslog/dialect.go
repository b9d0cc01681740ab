package syslog

import (
	"slices"
	"strings"
)

// hostRule says whether the word after a header's timestamp is the
// sender's hostname.
type hostRule int

const (
	hostGuess  hostRule = iota // unless it is a tag or a vendor code
	hostAlways                 // RFC 3164: always
	hostNever                  // gear that writes none
)

// dialectRules are what a named dialect decides that a line alone
// cannot tell.
type dialectRules struct {
	host hostRule
}

// Dialects are the values of a profile's dialect. Every one of them is
// read by the same parser; naming one settles the shapes it cannot tell
// from a line: whether the word after the timestamp is a hostname
// ("Nov 25 10:00:06 kernel: eth0 down" is a tag, not a host, for gear
// that sends none; "Nov 25 10:00:06 web1: up" a host for a BSD syslogd).
var Dialects = map[string]dialectRules{
	"":         {host: hostGuess},
	"auto":     {host: hostGuess},
	"rfc3164":  {host: hostAlways},
	"linux":    {host: hostAlways},
	"junos":    {host: hostAlways},
	"arista":   {host: hostAlways},
	"huawei":   {host: hostAlways},
	"comware":  {host: hostAlways},
	"nokia":    {host: hostAlways},
	"paloalto": {host: hostAlways},
	"cisco":    {host: hostGuess},
	"nxos":     {host: hostGuess},
	"asa":      {host: hostGuess},
	"fortinet": {host: hostNever},
	"no-host":  {host: hostNever},
}

// DialectNames lists the dialects, for error messages.
func DialectNames() string {
	var names []string
	for n := range Dialects {
		if n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (p *Profile) dialect() dialectRules {
	if p.Dialect == "" {
		return dialectRules{} // most senders have no profile: no map lookup per line
	}
	return Dialects[p.Dialect]
}

package storetest

import (
	"fmt"
	"time"
)

// SyslogLines returns n syslog lines, without framing, in the dialects
// the parser tests of logs/syslog cover: Cisco IOS (with and without a
// hostname), NX-OS, ASA, Juniper, Arista, Linux (BSD form) and RFC 5424.
// Line first+j is stamped start+j*spacing, as live gear stamps lines
// about when it sends them. Sequence numbers, addresses and ids vary with
// first+j, so that a store does not index the same line over and over.
func SyslogLines(first, n int, start time.Time, spacing time.Duration) [][]byte {
	start = start.UTC()
	out := make([][]byte, 0, n)
	for i := first; i < first+n; i++ {
		t := start.Add(time.Duration(i-first) * spacing)
		var line string
		switch i % 10 {
		case 0: // Cisco IOS: no hostname, sequence number, unsynchronized clock
			line = fmt.Sprintf("<187>%d: *%s UTC: %%LINK-3-UPDOWN: Interface GigabitEthernet0/%d, changed state to down",
				i, t.Format("Jan _2 15:04:05.000"), i%48)
		case 1: // Cisco IOS with a hostname
			line = fmt.Sprintf("<189>%s core-sw%d %d: %%LINEPROTO-5-UPDOWN: Line protocol on Interface Gi0/%d, changed state to up",
				t.Format(time.Stamp), i%16, i, i%48)
		case 2: // NX-OS: empty sequence number, year first, zone
			line = fmt.Sprintf("<189>: %s UTC: %%BGP-5-ADJCHANGE: neighbor 2001:db8::%x Down BGP Notification sent",
				t.Format("2006 Jan _2 15:04:05"), i%4096)
		case 3: // ASA: year after the day
			line = fmt.Sprintf("<166>%s: %%ASA-6-302013: Built outbound TCP connection %d for outside:192.0.2.%d/443 (192.0.2.%d/443) to inside:10.1.%d.%d/%d (10.1.%d.%d/%d)",
				t.Format("Jan _2 2006 15:04:05"), 100000+i, i%250+1, i%250+1, i%200, i%250+1, 30000+i%30000, i%200, i%250+1, 30000+i%30000)
		case 4: // Juniper
			line = fmt.Sprintf("<28>%s mx%d mib2d[1234]: SNMP_TRAP_LINK_DOWN: ifIndex %d, ifAdminStatus up(1), ifOperStatus down(2), ifName ge-0/0/%d",
				t.Format(time.Stamp), i%8, 500+i%100, i%48)
		case 5: // Arista: RFC 3339 timestamp
			line = fmt.Sprintf("<187>%s leaf%d Ebra: %%LINEPROTO-5-UPDOWN: Line protocol on Interface Ethernet%d, changed state to down",
				t.Format("2006-01-02T15:04:05.000000-07:00"), i%32, i%48+1)
		case 6: // Linux, BSD form with a tag and pid
			line = fmt.Sprintf("<86>%s web%d sshd[%d]: Accepted publickey for deploy from 2001:db8::%x port %d ssh2: ED25519 SHA256:Wq8dX0y2b1Tz",
				t.Format(time.Stamp), i%20, 1000+i%30000, i%4096, 40000+i%20000)
		case 7: // RFC 5424 with structured data
			line = fmt.Sprintf(`<165>1 %s r%d.example.net bgpd %d ADJ [origin ip="2001:db8::%x"][meta sequenceId="%d"] neighbor 2001:db8::%x Down`,
				t.Format("2006-01-02T15:04:05.000000Z07:00"), i%16, 4000+i%1000, i%4096, i, (i+1)%4096)
		case 8: // Linux kernel line without a hostname
			line = fmt.Sprintf("<6>%s kernel: [%d.%06d] eth%d: Link is Down", t.Format(time.Stamp), i/1000, i%1000000, i%4)
		case 9: // Cisco IOS with a hostname, config change
			line = fmt.Sprintf("<189>%s dist-rtr%d %d: %%SYS-5-CONFIG_I: Configured from console by admin on vty0 (2001:db8::%x)",
				t.Format(time.Stamp), i%8, i, i%4096)
		}
		out = append(out, []byte(line))
	}
	return out
}

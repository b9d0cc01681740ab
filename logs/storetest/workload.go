package storetest

import (
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

// SyslogCodes are the mnemonics of the syslog workload, one record in
// len(SyslogCodes) each.
var SyslogCodes = []string{"LINK-3-UPDOWN", "LINEPROTO-5-UPDOWN", "BGP-5-ADJCHANGE", "SYS-5-CONFIG_I", "SEC-6-IPACCESSLOGP"}

// SyslogSpacing is the time between two records of the syslog workload.
const SyslogSpacing = 10 * time.Millisecond

// Syslog fills recs with records first, first+1, … of the syslog
// workload the store benchmarks share: 500 devices (IPv4 and IPv6), the
// mnemonics of SyslogCodes, one line every SyslogSpacing from start.
func Syslog(start time.Time, first int, recs []logs.Record) {
	for j := range recs {
		i := first + j
		code := SyslogCodes[i%len(SyslogCodes)]
		host := fmt.Sprintf("10.%d.%d.1", i%500/250, i%250)
		if i%500 >= 400 {
			host = "2001:db8::" + strconv.FormatInt(int64(i%500), 16)
		}
		state := []string{"down", "up"}[i%2]
		recs[j] = logs.Record{
			Timestamp: start.Add(time.Duration(i) * SyslogSpacing),
			HostIP:    host,
			Message:   fmt.Sprintf("Interface GigabitEthernet0/%d, changed state to %s", i%48, state),
			Original:  fmt.Sprintf("<187>%d: *Nov 25 10:00:00.000: %%%s: Interface GigabitEthernet0/%d, changed state to %s", i, code, i%48, state),
			Fields:    map[string]string{"event.code": code, "log.syslog.severity.code": "3", "log.syslog.facility.code": "23"},
		}
	}
}

// ProcessCPU is the CPU time (user and system) the process has used. On a
// machine shared with other work, store benchmarks report CPU time beside
// the wall clock, which says as much about the neighbours as about the
// store.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

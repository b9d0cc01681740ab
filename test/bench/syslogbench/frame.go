package main

import (
	"fmt"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// frame joins lines into one TCP stream, newline delimited or RFC 6587
// octet counted.
func frame(lines [][]byte, octetCounting bool) []byte {
	var b []byte
	for _, l := range lines {
		if octetCounting {
			b = fmt.Appendf(b, "%d ", len(l))
			b = append(b, l...)
		} else {
			b = append(b, l...)
			b = append(b, '\n')
		}
	}
	return b
}

// lineSource hands out corpus lines never sent before, stamped from the
// moment they are asked for: a receiver sees what live gear sends, lines
// about as old as the time they took to arrive. (Replaying one recording
// over and over makes every record late, stored between records already
// in the store; BenchmarkWriteParsedSyslog in logs/embedded measures
// what that costs.)
type lineSource struct{ sent int }

func (s *lineSource) next(n int, spacing time.Duration) [][]byte {
	lines := storetest.SyslogLines(s.sent, n, time.Now(), spacing)
	s.sent += n
	return lines
}

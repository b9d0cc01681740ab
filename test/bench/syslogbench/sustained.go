package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"path/filepath"
	"sync"
	"time"
)

// profiledSteady is set once the first steady run has been profiled.
var profiledSteady bool

// sustainedRun is kusanagi receiving lines over one TCP connection at a
// steady rate, as a busy aggregation point sends them, rather than as fast
// as a socket can carry: does its store index them as fast as they come?
type sustainedRun struct {
	rate    int
	sent    int
	reached float64       // lines/s the sender reached
	indexed float64       // records/s written to the store while the lines came
	backlog float64       // most records received but not yet stored, sampled every 100 ms
	catchUp time.Duration // from the last line sent until every one was stored
	cores   float64       // kusanagi's CPU seconds over the sending time
	before  float64       // records in the store before
}

// keptUp reports whether the store indexed the lines at the rate asked, as
// they came: the sender reached the rate, the store wrote at least 95% of
// it while they came, and had the rest within a second.
func (r sustainedRun) keptUp() bool {
	return r.reached >= 0.97*float64(r.rate) && r.indexed >= 0.95*r.reached && r.catchUp <= time.Second
}

// sustainedTCP sends rate lines/s for d over one connection, newline framed.
func sustainedTCP(k *kusanagi, lines *lineSource, rate int, d time.Duration) (sustainedRun, error) {
	run := sustainedRun{rate: rate}
	before, err := k.settle(3 * time.Minute)
	if err != nil {
		return run, err
	}
	run.before = before.written
	total := int(float64(rate) * d.Seconds())
	ls := lines.next(total, time.Second/time.Duration(rate))
	stream := frame(ls, false)
	ends := make([]int, len(ls)) // ends[i]: bytes of stream up to and including line i
	off := 0
	for i, l := range ls {
		off += len(l) + 1
		ends[i] = off
	}
	c, err := net.Dial("tcp", k.syslog)
	if err != nil {
		return run, fmt.Errorf("cannot connect: %w", err)
	}
	defer c.Close()

	sampler := sampleBacklog(k, before)
	defer sampler.stop()

	if profileDir != "" && !profiledSteady {
		// The paths are made now: the fast TCP runs clear profileDir
		// while this profile is still being taken.
		profile := filepath.Join(profileDir, fmt.Sprintf("kusanagi-steady-%d.pprof", rate))
		trace := filepath.Join(profileDir, fmt.Sprintf("kusanagi-steady-%d.trace", rate))
		go func() {
			k.profile(profile, 5*time.Second)
			k.trace(trace, 2*time.Second)
		}()
		profiledSteady = true
	}
	cpu0 := mustCPU(k.pid())
	start := time.Now()
	written := 0 // bytes
	for run.sent < total {
		due := min(int(float64(rate)*time.Since(start).Seconds()), total)
		if due > run.sent {
			n, err := c.Write(stream[written:ends[due-1]])
			written += n
			if err != nil {
				return run, fmt.Errorf("cannot send: %w", err)
			}
			run.sent = due
		}
		time.Sleep(time.Millisecond)
	}
	sending := time.Since(start)
	run.reached = float64(run.sent) / sending.Seconds()
	atEnd, err := k.counters()
	cpu := mustCPU(k.pid()) - cpu0
	if err != nil {
		return run, err
	}
	run.indexed = (atEnd.written - before.written) / sending.Seconds()
	run.cores = cpu / sending.Seconds()
	for deadline := time.Now().Add(5 * time.Minute); ; {
		now, err := k.counters()
		if err != nil {
			return run, err
		}
		if now.dropped > before.dropped {
			return run, fmt.Errorf("%v records dropped over TCP, which should push back instead", now.dropped-before.dropped)
		}
		if now.written-before.written >= float64(total) {
			run.catchUp = time.Since(start) - sending
			break
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("%d lines not stored within 5 minutes", total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if run.backlog, err = sampler.stop(); err != nil {
		return run, err
	}
	log.Printf("kusanagi tcp at %d lines/s for %s: reached %.0f, indexed %.0f records/s while sending, backlog at most %.0f, caught up %s after the last line",
		rate, d, run.reached, run.indexed, run.backlog, run.catchUp.Round(time.Millisecond))
	return run, nil
}

// backlogSampler reads kusanagi's metrics every 100 ms in the background
// and keeps the most records received but not yet stored.
type backlogSampler struct {
	done    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once
	most    float64
	err     error
}

func sampleBacklog(k *kusanagi, before counters) *backlogSampler {
	b := &backlogSampler{done: make(chan struct{})}
	b.stopped.Go(func() {
		for {
			select {
			case <-b.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			now, err := k.counters()
			if err != nil {
				b.err = err
				return
			}
			received := now.tcp + now.udp - before.tcp - before.udp
			stored := now.written + now.dropped - before.written - before.dropped
			b.most = max(b.most, received-stored)
		}
	})
	return b
}

// stop ends the sampling (once) and returns the most records waiting.
func (b *backlogSampler) stop() (float64, error) {
	b.once.Do(func() { close(b.done) })
	b.stopped.Wait()
	return b.most, b.err
}

func reportSustained(w io.Writer, runs []sustainedRun, d time.Duration) {
	fmt.Fprintf(w, "### TCP at a steady rate: indexing while receiving\n\n")
	fmt.Fprintf(w, "One connection, newline framing, lines sent at a steady rate for %s (as gear behind a relay sends them, not as fast as a socket carries them), to the same kusanagi process. *Indexed while receiving* is records written to the embedded store during the sending time, per second; *backlog* the most records received but not yet in the store, sampled every 100 ms from kusanagi's metrics; *caught up* the time from the last line sent until every line was in the store (the writer commits every 200 ms). The store *kept up* when the sender reached the rate, the store wrote at least 95%% of it while the lines came, and had the rest within a second.\n\n", d)
	fmt.Fprintf(w, "| lines/s asked | sender reached | indexed while receiving (records/s) | backlog at most | caught up after (s) | cores used | records in the store before | kept up |\n")
	fmt.Fprintf(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, r := range runs {
		kept := "no"
		if r.keptUp() {
			kept = "yes"
		}
		fmt.Fprintf(w, "| %d | %.0f | %.0f | %.0f | %.2f | %.2f | %.0f | %s |\n", r.rate, r.reached, r.indexed, r.backlog, r.catchUp.Seconds(), r.cores, r.before, kept)
	}
	fmt.Fprintf(w, "\n")
}

// highestKeptUp is the highest rate the store kept up with, or 0.
func highestKeptUp(runs []sustainedRun) int {
	best := 0
	for _, r := range runs {
		if r.keptUp() {
			best = max(best, r.rate)
		}
	}
	return best
}

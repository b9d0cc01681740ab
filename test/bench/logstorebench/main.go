// Command logstorebench measures the two candidates for the embedded log
// store, SQLite FTS5 (logs/embedded, the product's) and Bleve, on the same
// syslog workload and the same catalogue queries, each in a process of its
// own, and prints a Markdown section for bench/RESULTS.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/embedded"
	"github.com/kusanagi-dev/kusanagi/logs/query"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

// result is what one backend's process reports.
type result struct {
	Backend       string
	Records       int
	IndexSeconds  float64
	IndexCPU      float64
	Bytes         int64
	CountMillis   float64 // one rule: phrase + keyword, grouped by host.ip, 5m window
	CountMatched  int64
	CountGroups   int
	SearchMillis  float64 // newest 100 matching records in the last hour
	SearchMatched int
	MaxRSSKiB     int64 `json:"-"`
}

type store interface {
	Write(ctx context.Context, recs []logs.Record) error
	Count(ctx context.Context, q query.Node, groupBy []string, from, to time.Time) ([]logs.GroupCount, error)
	Search(ctx context.Context, q query.Node, from, to time.Time, limit int) ([]logs.Record, error)
	Close() error
}

const batch = 5000 // the log writer's batch size

var start = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func main() {
	backend := flag.String("backend", "", "measure one backend (sqlite or bleve) and print JSON; empty runs both and prints Markdown")
	records := flag.Int("records", 1_000_000, "records to index")
	dir := flag.String("dir", "", "where the stores are built (default: a temporary directory)")
	flag.Parse()
	if *backend != "" {
		r, err := measure(*backend, *records, *dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "logstorebench:", err)
			os.Exit(1)
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	if err := compare(*records, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "logstorebench:", err)
		os.Exit(1)
	}
}

func open(backend, dir string) (store, error) {
	switch backend {
	case "sqlite":
		return embedded.Open(dir)
	case "bleve":
		return newBleve(dir)
	}
	return nil, fmt.Errorf("unknown backend %q", backend)
}

func reopen(backend, dir string) (store, error) {
	if backend == "bleve" {
		return openBleve(dir)
	}
	return open(backend, dir)
}

func measure(backend string, n int, dir string) (*result, error) {
	ctx := context.Background()
	s, err := open(backend, dir)
	if err != nil {
		return nil, err
	}
	res := &result{Backend: backend, Records: n}
	recs := make([]logs.Record, batch)
	// Indexing is timed from the first write to the index being closed:
	// Bleve persists its segments in the background after a batch
	// returns, and SQLite checkpoints its WAL on closing. Making the
	// records is not timed.
	var wall, cpu time.Duration
	for i := 0; i < n; i += batch {
		storetest.Syslog(start, i, recs[:min(batch, n-i)])
		t, c := time.Now(), storetest.ProcessCPU()
		if err := s.Write(ctx, recs[:min(batch, n-i)]); err != nil {
			return nil, err
		}
		wall, cpu = wall+time.Since(t), cpu+storetest.ProcessCPU()-c
	}
	t, c := time.Now(), storetest.ProcessCPU()
	if err := s.Close(); err != nil {
		return nil, err
	}
	wall, cpu = wall+time.Since(t), cpu+storetest.ProcessCPU()-c
	res.IndexSeconds = wall.Seconds()
	res.IndexCPU = cpu.Seconds()
	res.Bytes, err = dirBytes(dir)
	if err != nil {
		return nil, err
	}
	if s, err = reopen(backend, dir); err != nil {
		return nil, err
	}
	defer s.Close()

	end := start.Add(time.Duration(n) * storetest.SyslogSpacing)
	const counts = 100
	var took time.Duration
	for i := range counts {
		code := storetest.SyslogCodes[i%2] // the two UPDOWN mnemonics
		q, err := query.Parse(`event.code:"` + code + `" AND message:"changed state to down"`)
		if err != nil {
			return nil, err
		}
		t := time.Now()
		got, err := s.Count(ctx, q, []string{"host.ip"}, end.Add(-5*time.Minute), end)
		took += time.Since(t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			for _, gc := range got {
				res.CountMatched += gc.Count
			}
			res.CountGroups = len(got)
		}
	}
	res.CountMillis = float64(took.Microseconds()) / 1000 / counts
	q, err := query.Parse(`event.code:LINK-3-UPDOWN AND message:down`)
	if err != nil {
		return nil, err
	}
	const searches = 50
	took = 0
	for range searches {
		t := time.Now()
		got, err := s.Search(ctx, q, end.Add(-time.Hour), end, 100)
		took += time.Since(t)
		if err != nil {
			return nil, err
		}
		res.SearchMatched = len(got)
	}
	res.SearchMillis = float64(took.Microseconds()) / 1000 / searches
	return res, nil
}

func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func compare(n int, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "logstorebench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	var results []*result
	for _, b := range []string{"sqlite", "bleve"} {
		cmd := exec.Command(os.Args[0], "-backend", b, "-records", fmt.Sprint(n), "-dir", filepath.Join(dir, b))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSKiB = ru.Maxrss
		}
		results = append(results, &r)
		os.RemoveAll(filepath.Join(dir, b))
	}
	printMarkdown(results)
	return nil
}

func printMarkdown(rs []*result) {
	sq, bl := rs[0], rs[1]
	fmt.Printf("## Embedded log store: SQLite FTS5 and Bleve\n\n")
	fmt.Printf("The same %d syslog records (`storetest.Syslog`: 500 devices, 5 mnemonics, one line every 10 ms) written in batches of %d, then the same catalogue queries, each backend in a process of its own, one run on this machine (`test/bench/logstorebench`). ", sq.Records, batch)
	fmt.Printf("Count: one log rule, `event.code:\"…UPDOWN\" AND message:\"changed state to down\"` grouped by host.ip over the last 5 minutes (mean of 100). Search: the newest 100 of `event.code:LINK-3-UPDOWN AND message:down` in the last hour (mean of 50). Disk: the files after closing. RSS: the process's peak.\n\n")
	fmt.Println("| backend | records/s indexed | records per CPU-second | Count per rule (ms) | Search (ms) | disk bytes/record | peak RSS (MiB) | rule matched (records, groups) |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rs {
		name := map[string]string{"sqlite": "SQLite FTS5 (modernc.org/sqlite, logs/embedded)", "bleve": "Bleve v2 (scorch)"}[r.Backend]
		fmt.Printf("| %s | %.0f | %.0f | %.2f | %.2f | %.0f | %.0f | %d, %d |\n", name,
			float64(r.Records)/r.IndexSeconds, float64(r.Records)/r.IndexCPU, r.CountMillis, r.SearchMillis,
			float64(r.Bytes)/float64(r.Records), float64(r.MaxRSSKiB)/1024, r.CountMatched, r.CountGroups)
	}
	fmt.Printf("\nBleve / SQLite: indexing time %.3g×, Count time %.3g×, Search time %.3g×, disk %.3g×, RSS %.3g×.\n",
		bl.IndexSeconds/sq.IndexSeconds, bl.CountMillis/sq.CountMillis, bl.SearchMillis/sq.SearchMillis,
		float64(bl.Bytes)/float64(sq.Bytes), float64(bl.MaxRSSKiB)/float64(sq.MaxRSSKiB))
	if sq.CountMatched != bl.CountMatched || sq.CountGroups != bl.CountGroups || sq.SearchMatched != bl.SearchMatched {
		fmt.Printf("\n**The backends disagree**: SQLite matched %d records in %d groups and found %d; Bleve %d in %d groups and found %d.\n",
			sq.CountMatched, sq.CountGroups, sq.SearchMatched, bl.CountMatched, bl.CountGroups, bl.SearchMatched)
	}
}

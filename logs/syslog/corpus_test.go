package syslog

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kusanagi-dev/kusanagi/logs"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

// gearLine is a line of testdata/gear.jsonl: a line from public test
// suites, vendor documentation and RFCs, its source, and what a reader
// of the line (and of its source's own expectations) says it holds.
type gearLine struct {
	Vendor string         `json:"vendor"`
	Source string         `json:"source"`
	Line   string         `json:"line"`
	Expect map[string]any `json:"expect"`
}

func readGear(t testing.TB) []gearLine {
	t.Helper()
	f, err := os.Open("testdata/gear.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []gearLine
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for n := 1; s.Scan(); n++ {
		var g gearLine
		if err := json.Unmarshal(s.Bytes(), &g); err != nil {
			t.Fatalf("testdata/gear.jsonl:%d: %v", n, err)
		}
		out = append(out, g)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// gearArrival is when the corpus's lines arrive: after every stamp in it.
var gearArrival = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

var clockRE = regexp.MustCompile(`\d{2}:\d{2}:\d{2}`)
var uptimeRE = regexp.MustCompile(`^(\d{1,2}:\d{2}:\d{2}|(\d+[ywdh])+)$`)

// TestGearCorpus parses every line of the corpus and checks each field
// its expectation names; a field it does not name must not be made up
// (no event.code, no host.name).
func TestGearCorpus(t *testing.T) {
	lines := readGear(t)
	vendors := map[string]int{}
	for _, g := range lines {
		vendors[g.Vendor]++
	}
	if len(lines) < 150 || len(vendors) < 12 {
		t.Fatalf("the corpus has %d lines from %d vendors, want at least 150 from 12", len(lines), len(vendors))
	}
	src := netip.MustParseAddr("2001:db8::7")
	failed := 0
	for i, g := range lines {
		r := Parse([]byte(g.Line), src, gearArrival, Profile{})
		if problems := checkGear(g, r); len(problems) > 0 {
			failed++
			t.Errorf("testdata/gear.jsonl:%d (%s, %s):\n  %s\n  %s\n  got host=%q ts=%v fields=%v", i+1, g.Vendor, g.Source, g.Line, strings.Join(problems, "\n  "), r.HostName, r.Timestamp, r.Fields)
		}
	}
	t.Logf("%d lines from %d vendors, %d with a field wrong", len(lines), len(vendors), failed)
}

func checkGear(g gearLine, r logs.Record) []string {
	var problems []string
	field := func(name, want string) {
		if got := r.Fields[name]; got != want {
			problems = append(problems, fmt.Sprintf("%s = %q, want %q", name, got, want))
		}
	}
	e := func(k string) string { s, _ := g.Expect[k].(string); return s }
	field("event.code", e("code"))
	if got := r.HostName; got != e("host") {
		problems = append(problems, fmt.Sprintf("host.name = %q, want %q", got, e("host")))
	}
	for k, f := range map[string]string{"seq": "event.sequence", "seq2": "cisco.sequence2", "app": "log.syslog.appname", "pid": "log.syslog.procid",
		"node": "cisco.node", "msgid": "log.syslog.msgid", "repeated": "log.syslog.repeated"} {
		if _, ok := g.Expect[k]; ok {
			field(f, e(k))
		}
	}
	if kv, ok := g.Expect["kv"].(map[string]any); ok {
		prefix := "fortinet."
		if g.Vendor == "paloalto" {
			prefix = "panw."
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range kv {
				if !yield(k) {
					return
				}
			}
		}) {
			field(prefix+k, kv[k].(string))
		}
	}
	if text := e("time"); text != "" {
		switch {
		case uptimeRE.MatchString(text):
			if r.Fields["host.uptime"] == "" {
				problems = append(problems, fmt.Sprintf("uptime %q not read", text))
			}
		case r.Timestamp.Equal(r.Received):
			problems = append(problems, fmt.Sprintf("the sender's time %q not read", text))
		default:
			// A leap second is read as the second before it (header5424).
			if c := strings.Replace(clockRE.FindString(text), ":60", ":59", 1); c != "" && r.Timestamp.Format("15:04:05") != c {
				problems = append(problems, fmt.Sprintf("the sender's time %q read as %v", text, r.Timestamp))
			}
			if y := regexp.MustCompile(`(19|20)\d\d`).FindString(text); y != "" && strconv.Itoa(r.Timestamp.Year()) != y {
				problems = append(problems, fmt.Sprintf("the sender's time %q read in %d", text, r.Timestamp.Year()))
			}
			if off, ok := testZoneOffset(e("zone")); ok {
				if _, got := r.Timestamp.Zone(); got != off {
					problems = append(problems, fmt.Sprintf("zone %s read as offset %ds, want %ds", e("zone"), got, off))
				}
			}
		}
	}
	return problems
}

// testZoneOffset is the offset of a zone the corpus names, where it has
// one offset only.
func testZoneOffset(zone string) (int, bool) {
	if zone == "" {
		return 0, false
	}
	if universalZones[zone] {
		return 0, true
	}
	if rest, ok := strings.CutPrefix(zone, "UTC"); ok {
		if off, err := ParseOffset(rest); err == nil {
			return off, true
		}
		if h, err := strconv.Atoi(rest); err == nil {
			return h * 3600, true
		}
	}
	if offs := ianaZones[zone]; len(offs) == 1 {
		return int(offs[0]), true
	}
	return 0, false
}

// TestGearCorpusGolden keeps the whole record of every corpus line in
// testdata/gear.golden (go test -run GearCorpusGolden -update rewrites it),
// so that any change to what a line gives shows in review.
func TestGearCorpusGolden(t *testing.T) {
	var b strings.Builder
	src := netip.MustParseAddr("2001:db8::7")
	for _, g := range readGear(t) {
		r := Parse([]byte(g.Line), src, gearArrival, Profile{})
		fmt.Fprintf(&b, "%s\n  @timestamp=%s host.name=%q\n", g.Line, r.Timestamp.Format(time.RFC3339Nano), r.HostName)
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range r.Fields {
				if !yield(k) {
					return
				}
			}
		}) {
			fmt.Fprintf(&b, "  %s=%q\n", k, r.Fields[k])
		}
		fmt.Fprintf(&b, "  message=%q\n", r.Message)
	}
	compareGolden(t, "testdata/gear.golden", b.String())
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s:%d differs:\n got %s\nwant %s\n(go test -run %s -update rewrites it)", path, i+1, gl[i], wl[i], t.Name())
			}
		}
		t.Fatalf("%s: %d lines, want %d (go test -run %s -update rewrites it)", path, len(gl), len(wl), t.Name())
	}
}

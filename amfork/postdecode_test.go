package amfork

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/common/model"
)

var alertListSeeds = []string{
	`[{"labels":{"alertname":"A","instance":"h1"},"annotations":{"summary":"s"},"startsAt":"2026-11-25T10:00:00Z","endsAt":"2026-11-25T11:00:00+01:00","generatorURL":"http://prom:9090/graph?g0.expr=up"}]`,
	" [ { \"labels\" : { \"alertname\" : \"Spaces\" } } , {\"labels\":{}} ] \n",
	`[]`,
	`[{}]`,
	`[{"labels":{"alertname":"Dup","alertname":"Later"}}]`,
	`[{"labels":{"a":"1"},"labels":{"b":"2"}}]`,
	`[{"Labels":{"alertname":"Case"}}]`,
	`[{"labels":{"alertname":"Unknown"},"status":"firing"}]`,
	`[{"labels":{"alertname":"Escaped","instance":"h\u00e9"}}]`,
	`[{"labels":{"alertname":"Utf8","instance":"hé"}}]`,
	"[{\"labels\":{\"alertname\":\"Bad\xffUtf8\"}}]",
	`[{"labels":{"alertname":"Millis"},"startsAt":"2026-11-25T10:00:00.123+0100"}]`,
	`[{"labels":{"alertname":"BadTime"},"startsAt":"yesterday"}]`,
	`[{"labels":{"alertname":"NullTime"},"startsAt":null}]`,
	`[{"labels":null}]`,
	`[{"labels":{"n":1}}]`,
	`[{"labels":{"alertname":"Trailing"}}] x`,
	`[{"labels":{"alertname":"Open"}`,
	`null`,
	``,
}

// FuzzDecodeAlertList: wherever the fast path answers, encoding/json
// decodes the same body to the same alerts.
func FuzzDecodeAlertList(f *testing.F) {
	for _, s := range alertListSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeAlertList(body)
		if !ok {
			return
		}
		var std []postableAlert
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("fast path decoded %q, encoding/json refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q:\nfast %+v\nstd  %+v", body, fast, std)
		}
	})
}

func TestDecodeAlertListLeavesTheUnusualToEncodingJSON(t *testing.T) {
	for _, tc := range []struct {
		body string
		fast bool
	}{
		{alertListSeeds[0], true},
		{alertListSeeds[1], true},
		{`[]`, true},
		{`[{}]`, true},
		{`[{"labels":{"alertname":"Dup","alertname":"Later"}}]`, true},
		{`[{"labels":{"alertname":"Utf8","instance":"hé"}}]`, true},
		{`[{"labels":{"a":"1"},"labels":{"b":"2"}}]`, false},
		{`[{"Labels":{"alertname":"Case"}}]`, false},
		{`[{"labels":{"alertname":"Unknown"},"status":"firing"}]`, false},
		{`[{"labels":{"alertname":"Escaped","instance":"h\u00e9"}}]`, false},
		{"[{\"labels\":{\"alertname\":\"Bad\xffUtf8\"}}]", false},
		{`[{"labels":{"alertname":"BadTime"},"startsAt":"yesterday"}]`, false},
		{`[{"labels":{"alertname":"NullTime"},"startsAt":null}]`, false},
		{`[{"labels":null}]`, false},
		{`[{"labels":{"alertname":"Trailing"}}] x`, false},
		{`null`, false},
	} {
		got, ok := decodeAlertList([]byte(tc.body))
		if ok != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.body, ok, tc.fast)
			continue
		}
		if !ok {
			continue
		}
		var std []postableAlert
		if err := json.Unmarshal([]byte(tc.body), &std); err != nil || !reflect.DeepEqual(got, std) {
			t.Errorf("%s:\nfast %+v\nstd  %+v (%v)", tc.body, got, std, err)
		}
	}
}

func TestDecodeAlertListSharesRepeatedStrings(t *testing.T) {
	posted, ok := decodeAlertList([]byte(benchAlertBody(3)))
	if !ok || len(posted) != 3 {
		t.Fatalf("decoded %d alerts, fast path %v", len(posted), ok)
	}
	for _, name := range []string{"alertname", "job"} {
		a, b := string(posted[0].Labels[model.LabelName(name)]), string(posted[2].Labels[model.LabelName(name)])
		if a == "" || unsafe.StringData(a) != unsafe.StringData(b) {
			t.Errorf("label %s: %q and %q are not one string", name, a, b)
		}
	}
	if a, b := posted[0].Labels["instance"], posted[1].Labels["instance"]; a == b {
		t.Errorf("distinct instances decoded equal: %q", a)
	}
}

func benchAlertBody(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).Format(time.RFC3339)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"labels":{"alertname":"BenchDown","instance":"host-%06d","job":"bench","severity":"major"},"annotations":{"summary":"host-%06d is down"},"startsAt":%q,"endsAt":%q}`,
			i, i, start, start)
	}
	b.WriteByte(']')
	return b.String()
}

func BenchmarkDecodePostable100(b *testing.B) {
	body := []byte(benchAlertBody(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, ok := decodePostable(body); !ok {
			b.Fatal("not decoded")
		}
	}
}

func BenchmarkDecodePostable100EncodingJSON(b *testing.B) {
	body := []byte(benchAlertBody(100))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var posted []postableAlert
		if err := json.Unmarshal(body, &posted); err != nil {
			b.Fatal(err)
		}
	}
}

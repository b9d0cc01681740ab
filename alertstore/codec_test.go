package alertstore

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/common/model"
)

func TestCodecRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.UTC)
	for _, a := range []*alert.Alert{
		alert.New(model.Alert{
			Labels:       model.LabelSet{"alertname": "InterfaceDown", "instance": "fd00::1", "ifName": "Gi0/1"},
			Annotations:  model.LabelSet{"summary": "Interface Gi0/1 is down", "runbook_url": "https://wiki/x"},
			StartsAt:     now,
			EndsAt:       now.Add(time.Hour),
			GeneratorURL: "http://[::1]:9180/graph?q=x",
		}, now.Add(time.Second), true),
		alert.New(model.Alert{Labels: model.LabelSet{"alertname": "Minimal"}}, time.Time{}, false),
	} {
		b, err := encodeAlert(a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeAlert(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Fingerprint() != a.Fingerprint() || got.Fingerprint() == 0 ||
			!got.StartsAt.Equal(a.StartsAt) || !got.EndsAt.Equal(a.EndsAt) || !got.UpdatedAt.Equal(a.UpdatedAt) ||
			got.Timeout != a.Timeout || got.GeneratorURL != a.GeneratorURL || !got.Annotations.Equal(a.Annotations) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, a)
		}
	}
}

// FuzzDecodeAlert feeds arbitrary bytes, as a corrupted or foreign etcd
// value would be, to the decoder: it must fail cleanly, never panic.
func FuzzDecodeAlert(f *testing.F) {
	a := alert.New(model.Alert{Labels: model.LabelSet{"alertname": "A"}, StartsAt: time.Unix(1, 0)}, time.Unix(2, 0), false)
	b, _ := encodeAlert(a)
	f.Add(b)
	f.Add([]byte{1, 0})
	f.Add([]byte(`{"labels":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, err := decodeAlert(b); err == nil && got.Fingerprint() != got.Labels.Fingerprint() {
			t.Fatal("decoded alert with a wrong fingerprint")
		}
	})
}

func BenchmarkDecodeAlert(b *testing.B) {
	now := time.Now()
	a := alert.New(model.Alert{
		Labels:      model.LabelSet{"alertname": "BenchDown", "instance": "host-000001", "job": "bench", "severity": "major"},
		Annotations: model.LabelSet{"summary": "host-000001 is down"},
		StartsAt:    now, EndsAt: now.Add(time.Hour),
	}, now, false)
	v, _ := encodeAlert(a)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeAlert(v); err != nil {
			b.Fatal(err)
		}
	}
}

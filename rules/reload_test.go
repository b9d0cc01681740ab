package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const goodCatalogue = `alerts:
  - name: TargetDown
    severity: major
    summary: down
    metrics: [{expr: up == 0}]
`

func diskReader(paths ...string) func() ([]File, error) {
	return func() ([]File, error) {
		var files []File
		for _, p := range paths {
			src, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, File{Name: p, Src: src})
		}
		return files, nil
	}
}

// writeAtomically replaces a file the way editors and Kubernetes do: write
// a temporary file and rename it over the old one.
func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestReloadKeepsLastGoodCatalogue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalogue.yml")
	writeAtomically(t, path, goodCatalogue)
	reg := prometheus.NewRegistry()
	r, err := NewReloader(ReloaderOptions{Read: diskReader(path), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	first := r.Current()
	if first.Alert("TargetDown") == nil {
		t.Fatal("TargetDown not loaded")
	}
	if v := metricValue(t, reg, "kusanagi_catalogue_last_reload_successful"); v != 1 {
		t.Fatalf("last_reload_successful = %v after a good load", v)
	}
	goodTS := metricValue(t, reg, "kusanagi_catalogue_last_reload_success_timestamp_seconds")

	writeAtomically(t, path, strings.Replace(goodCatalogue, "major", "urgent", 1))
	err = r.Reload()
	if err == nil || !strings.Contains(err.Error(), `catalogue.yml:3:15: alert "TargetDown": unknown severity "urgent"`) {
		t.Fatalf("Reload of a bad catalogue: err = %v", err)
	}
	if r.Current() != first {
		t.Fatal("a rejected reload replaced the catalogue in force")
	}
	if v := metricValue(t, reg, "kusanagi_catalogue_last_reload_successful"); v != 0 {
		t.Fatalf("last_reload_successful = %v after a rejected reload", v)
	}
	if v := metricValue(t, reg, "kusanagi_catalogue_last_reload_success_timestamp_seconds"); v != goodTS {
		t.Fatalf("success timestamp moved on a rejected reload: %v -> %v", goodTS, v)
	}

	os.Remove(path)
	if err := r.Reload(); err == nil || r.Current() != first {
		t.Fatalf("a missing file must be rejected and keep the last catalogue (err %v)", err)
	}

	changed := r.Changed()
	writeAtomically(t, path, strings.Replace(goodCatalogue, "TargetDown", "InstanceDown", 1))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("Changed() not closed after a successful reload")
	}
	if r.Current().Alert("InstanceDown") == nil {
		t.Fatal("fixed catalogue not in force")
	}
}

func TestNewReloaderFailsOnBadFirstLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalogue.yml")
	writeAtomically(t, path, "alerts: [{name: x}]\n")
	if _, err := NewReloader(ReloaderOptions{Read: diskReader(path)}); err == nil {
		t.Fatal("want an error")
	}
}

func TestRunReloadsOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "catalogue.yml")
	writeAtomically(t, path, goodCatalogue)
	reg := prometheus.NewRegistry()
	r, err := NewReloader(ReloaderOptions{
		Read: diskReader(path), Watch: []string{path}, Debounce: 10 * time.Millisecond, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond) // let the watch start

	// A bad edit is rejected without replacing the catalogue...
	changed := r.Changed()
	writeAtomically(t, path, goodCatalogue+"  - name: Broken\n")
	waitFor(t, func() bool {
		return testutil.ToFloat64(r.reloads.WithLabelValues("failure")) == 1
	})
	if r.Current().Alert("TargetDown") == nil {
		t.Fatal("last good catalogue dropped")
	}
	// ...and the next good edit is picked up by itself.
	writeAtomically(t, path, strings.Replace(goodCatalogue, "TargetDown", "NodeDown", 1))
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("file change not reloaded within 5s")
	}
	if r.Current().Alert("NodeDown") == nil {
		t.Fatal("new catalogue not in force")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

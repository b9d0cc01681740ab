package alertstore

import (
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

func TestKeysAreFingerprintStrings(t *testing.T) {
	a := &Alerts{prefix: "/p/alerts/"}
	for _, fp := range []model.Fingerprint{0, 1, 0xabcdef, 1 << 63, ^model.Fingerprint(0)} {
		if got, want := a.key(fp), a.prefix+fp.String(); got != want {
			t.Errorf("key(%d) = %q, want %q", fp, got, want)
		}
	}
}

func TestGuardedPutsCompareEachKeyAtItsRevision(t *testing.T) {
	batch := []write{
		{fp: 1, modRev: 0, value: []byte("one")},
		{fp: 2, modRev: 7, value: []byte("two")},
	}
	req := guardedPuts("/p/", batch)
	if len(req.Compare) != 2 || len(req.Success) != 2 || len(req.Failure) != 0 {
		t.Fatalf("got %d compares, %d puts, %d else ops; want 2, 2, 0", len(req.Compare), len(req.Success), len(req.Failure))
	}
	for i, w := range batch {
		c, put := req.Compare[i], req.Success[i].GetRequestPut()
		if string(c.Key) != "/p/"+w.fp.String() || c.GetModRevision() != w.modRev || c.Target.String() != "MOD" || c.Result.String() != "EQUAL" {
			t.Errorf("compare %d = %v", i, c)
		}
		if string(put.Key) != string(c.Key) || string(put.Value) != string(w.value) {
			t.Errorf("put %d = %q: %q", i, put.Key, put.Value)
		}
	}
}

func TestAnInProcessClientNeedsItsKV(t *testing.T) {
	e := startEtcd(t)
	client := v3client.New(e.Etcd.Server)
	t.Cleanup(func() { client.Close() })
	_, err := NewAlerts(AlertsOptions{Client: client, Prefix: "/p/"})
	if err == nil || !strings.Contains(err.Error(), "KV is required") {
		t.Fatalf("NewAlerts without KV = %v, want an error asking for it", err)
	}
	if _, err := NewAlerts(AlertsOptions{Client: client, KV: e.KV(), Prefix: "/p/"}); err != nil {
		t.Fatal(err)
	}
}

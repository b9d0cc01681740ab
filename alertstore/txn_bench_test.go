package alertstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkTxn100Puts is the raw cost of one write batch: 100 guarded puts.
func BenchmarkTxn100Puts(b *testing.B) {
	e := startEtcd(b)
	c := newClient(b, e.Endpoints())
	val := string(make([]byte, 150))
	b.ResetTimer()
	n := 0
	for b.Loop() {
		cmps := make([]clientv3.Cmp, 100)
		puts := make([]clientv3.Op, 100)
		for i := range 100 {
			k := fmt.Sprintf("/b/%d", n)
			n++
			cmps[i] = clientv3.Compare(clientv3.ModRevision(k), "=", 0)
			puts[i] = clientv3.OpPut(k, val)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.Txn(ctx).If(cmps...).Then(puts...).Commit(); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}

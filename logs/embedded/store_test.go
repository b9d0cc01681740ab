package embedded

import (
	"context"
	"fmt"
	"testing"

	"github.com/kusanagi-dev/kusanagi/logs"
	"github.com/kusanagi-dev/kusanagi/logs/storetest"
)

func TestStoreContract(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) logs.Store {
				s, err := New(context.Background(), Options{Dir: t.TempDir(), Shards: shards})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

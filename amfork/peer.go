package amfork

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/kusanagi-dev/kusanagi/alertstore"
)

// clusterPeer reports the replicas in /api/v2/status the way upstream
// reports its gossip peers: the replicas are the candidates of the
// notification election, which every live replica joins.
type clusterPeer struct {
	name   string
	client *clientv3.Client
	prefix string
	coord  *alertstore.Coordinator
}

func (p *clusterPeer) Name() string { return p.name }

func (p *clusterPeer) Status() string {
	select {
	case <-p.coord.Ready():
		return "ready"
	default:
		return "settling"
	}
}

func (p *clusterPeer) Peers() []cluster.ClusterMember {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := p.client.Get(ctx, p.prefix+"leader/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return []cluster.ClusterMember{member{name: p.name}}
	}
	var out []cluster.ClusterMember
	for _, kv := range resp.Kvs {
		out = append(out, member{name: string(kv.Value), address: strings.TrimPrefix(string(kv.Key), p.prefix+"leader/")})
	}
	return out
}

type member struct{ name, address string }

func (m member) Name() string    { return m.name }
func (m member) Address() string { return m.address }

// readyPeer holds notifications back until the replica has an etcd
// session, without which it could not claim them.
type readyPeer struct{ coord *alertstore.Coordinator }

func (p readyPeer) WaitReady(ctx context.Context) error {
	select {
	case <-p.coord.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

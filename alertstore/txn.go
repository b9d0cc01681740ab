package alertstore

import (
	"encoding/binary"
	"encoding/hex"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3rpc"
	"go.etcd.io/etcd/server/v3/proxy/grpcproxy/adapter"
	"google.golang.org/grpc"

	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The write path builds its etcd transactions itself: clientv3's builder
// copies every key and value twice and clones every comparison through
// protobuf reflection, which was more than half of what storing an alert
// cost this process outside etcd.

// kvCallOptions are what clientv3's KV passes on every call by default.
var kvCallOptions = []grpc.CallOption{grpc.WaitForReady(true)}

// KV returns the member's KV API as in-process calls, for AlertsOptions.KV
// when the client is one of this member's in-process clients.
func (e *Embedded) KV() pb.KVClient {
	return adapter.KvServerToKvClient(v3rpc.NewQuotaKVServer(e.Etcd.Server))
}

// defaultKV is the KV API behind c's connection, with clientv3's retries
// and credentials (they are on the connection). It is nil for an
// in-process client, which has no connection.
func defaultKV(c *clientv3.Client) pb.KVClient {
	if c.ActiveConnection() == nil {
		return nil
	}
	return clientv3.RetryKVClient(c)
}

// appendKey appends the etcd key of the alert with fingerprint fp: the
// fingerprint as 16 hex digits, as model.Fingerprint.String writes it.
func appendKey(b []byte, prefix string, fp model.Fingerprint) []byte {
	b = append(b, prefix...)
	var raw [8]byte
	binary.BigEndian.PutUint64(raw[:], uint64(fp))
	return hex.AppendEncode(b, raw[:])
}

// guardedPuts is one transaction: each alert's value is put only if its
// key is still at the revision the alert was read at. Its parts are
// allocated once per transaction, not once per alert.
func guardedPuts(prefix string, batch []write) *pb.TxnRequest {
	n := len(batch)
	keys := make([]byte, 0, n*(len(prefix)+16))
	cmps := make([]pb.Compare, n)
	revs := make([]pb.Compare_ModRevision, n)
	puts := make([]pb.PutRequest, n)
	putOps := make([]pb.RequestOp_RequestPut, n)
	ops := make([]pb.RequestOp, n)
	req := &pb.TxnRequest{Compare: make([]*pb.Compare, n), Success: make([]*pb.RequestOp, n)}
	for i, w := range batch {
		start := len(keys)
		keys = appendKey(keys, prefix, w.fp)
		key := keys[start:len(keys):len(keys)]

		revs[i].ModRevision = w.modRev
		c := &cmps[i]
		c.Result, c.Target, c.Key, c.TargetUnion = pb.Compare_EQUAL, pb.Compare_MOD, key, &revs[i]
		req.Compare[i] = c

		puts[i].Key, puts[i].Value = key, w.value
		putOps[i].RequestPut = &puts[i]
		ops[i].Request = &putOps[i]
		req.Success[i] = &ops[i]
	}
	return req
}

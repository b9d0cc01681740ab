package alertstore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"
)

// readDelimited reads every length-delimited message of b, the form both
// silences and the notification log broadcast.
func readDelimited[M proto.Message](b []byte, newMsg func() M, each func(M) error) error {
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		m := newMsg()
		err := protodelim.UnmarshalFrom(br, m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(m); err != nil {
			return err
		}
	}
}

func delimited(m proto.Message) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := protodelim.MarshalTo(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SplitSilences splits a silences broadcast into one entry per silence,
// keyed by silence ID.
func SplitSilences(b []byte) ([]MeshEntry, error) {
	var out []MeshEntry
	err := readDelimited(b, func() *silencepb.MeshSilence { return &silencepb.MeshSilence{} }, func(m *silencepb.MeshSilence) error {
		if m.GetSilence().GetId() == "" {
			return errors.New("silence without an ID")
		}
		data, err := delimited(m)
		if err != nil {
			return err
		}
		out = append(out, MeshEntry{
			Key:     m.GetSilence().GetId(),
			Updated: m.GetSilence().GetUpdatedAt().AsTime(),
			Expires: m.GetExpiresAt().AsTime(),
			Data:    data,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot decode silences: %w", err)
	}
	return out, nil
}

// SplitNotificationLog splits a notification log broadcast into one entry
// per group and receiver, keyed by a hash of both (group keys hold any
// characters).
func SplitNotificationLog(b []byte) ([]MeshEntry, error) {
	var out []MeshEntry
	err := readDelimited(b, func() *nflogpb.MeshEntry { return &nflogpb.MeshEntry{} }, func(m *nflogpb.MeshEntry) error {
		e := m.GetEntry()
		if e == nil || e.GetReceiver() == nil {
			return errors.New("notification log entry without receiver")
		}
		r := e.GetReceiver()
		sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s/%s/%d", e.GetGroupKey(), r.GetGroupName(), r.GetIntegration(), r.GetIdx()))
		data, err := delimited(m)
		if err != nil {
			return err
		}
		out = append(out, MeshEntry{
			Key:     hex.EncodeToString(sum[:16]),
			Updated: e.GetTimestamp().AsTime(),
			Expires: m.GetExpiresAt().AsTime(),
			Data:    data,
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot decode notification log: %w", err)
	}
	return out, nil
}

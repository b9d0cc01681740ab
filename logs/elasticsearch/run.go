package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kusanagi-dev/kusanagi/internal/ctxutil"
	"github.com/kusanagi-dev/kusanagi/logs/spool"
)

// Run connects to the cluster, installs the index template, then replays
// the spool whenever it holds records, until ctx ends. It fails only when
// the cluster refuses the setup for good (wrong flavor, missing
// privileges); while the cluster is unreachable it keeps trying.
func (s *Store) Run(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := s.setup(ctx)
		if err == nil {
			break
		}
		var re *retryableError
		if !errors.As(err, &re) {
			return fmt.Errorf("cannot set up the Elasticsearch log store: %w", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger.Warn("Elasticsearch is not reachable yet; records are spooled meanwhile", "err", err)
		if !ctxutil.Sleep(ctx, s.backoff.ForAttempt(float64(attempt))) {
			return nil
		}
	}
	s.replay(ctx)
	close(s.ready)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		s.replay(ctx)
	}
}

func (s *Store) setup(ctx context.Context) error {
	info, err := probe(ctx, s.raw)
	if err != nil {
		return err
	}
	if err := checkFlavor(s.opts.Flavor, info); err != nil {
		return err
	}
	if err := s.install(ctx); err != nil {
		return err
	}
	// Only here, not when install puts a deleted data stream back: the
	// policy outlives the data stream, and its ism_template reaches the
	// new backing index.
	if err := s.installISM(ctx); err != nil {
		return err
	}
	s.logger.Info("connected", "server", info.String(), "target", s.target, "template", s.templateName())
	return nil
}

// replay sends the spool to Elasticsearch, oldest segment first, deleting
// each segment once all its records are acknowledged; when the spool is
// empty, Write indexes directly again.
func (s *Store) replay(ctx context.Context) {
	started := time.Now()
	var replayed int64
	for ctx.Err() == nil {
		seg, err := s.spool.Oldest()
		if err != nil {
			s.logger.Error("cannot read the spool", "err", err)
			ctxutil.Sleep(ctx, s.opts.RetryBackoffMax)
			continue
		}
		if seg == nil {
			s.mu.Lock()
			if s.spool.Empty() {
				s.spooling = false
				s.full = false
				s.mu.Unlock()
				if replayed > 0 {
					s.logger.Info("spool replayed; writing to Elasticsearch directly again", "records", replayed, "took", time.Since(started))
				}
				return
			}
			s.mu.Unlock()
			continue
		}
		entries, skipped, err := spool.ReadSegment(seg.Path())
		if err != nil {
			s.logger.Error("cannot read a spool segment", "file", seg.Path(), "err", err)
			ctxutil.Sleep(ctx, s.opts.RetryBackoffMax)
			continue
		}
		if skipped > 0 {
			s.logger.Debug("spool segment has a torn tail (counted when the spool was opened)", "file", seg.Path(), "bytes", skipped)
		}
		if len(entries) > 0 {
			if pending, _ := s.index(ctx, entries, 0); len(pending) > 0 {
				return // ctx ended; the segment stays for the next start
			}
		}
		s.metrics.replayed.Add(float64(len(entries)))
		replayed += int64(len(entries))
		if err := s.spool.Remove(seg); err != nil {
			s.logger.Error("cannot delete a replayed spool segment", "err", err)
			ctxutil.Sleep(ctx, s.opts.RetryBackoffMax)
		}
	}
}

package embedded

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// checkpointer copies a shard's write-ahead log into its database file
// beside the writer. SQLite would do it in the connection whose commit
// takes the log past wal_autocheckpoint pages, inside the writer's time:
// its page copies and fsyncs were 15% of the writer's time at a steady 50k
// lines/s (an execution trace of kusanagi syslog). Here a goroutine does
// it every checkpointRecords, without the write lock (PASSIVE), while the
// next batches are indexed.
//
// A checkpoint that runs while the writer appends never catches up with
// the end of the log, and SQLite starts the log over only when a write
// begins with every frame copied: so once the log holds walRestartFrames,
// the writer waits for the checkpoint in progress, finishes it, and the
// next write starts the log from its beginning again.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	done chan struct{}

	mu     sync.Mutex   // held while a checkpoint runs
	frames atomic.Int64 // frames in the log after the last checkpoint
	// records written since the checkpointer was last kicked; guarded by
	// the partition's write lock.
	records int
}

// checkpointRecords records are written between two checkpoints: about
// 1000 pages of log, what SQLite's wal_autocheckpoint waits for. A
// checkpoint after every commit would copy pages that the next commits
// change again (the B-trees' inner pages, FTS5's structure).
const checkpointRecords = 10000

// walRestartFrames is 32 MiB of 16 KiB pages.
var walRestartFrames int64 = 2048

func startCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	for range c.kick {
		c.mu.Lock()
		c.checkpointLocked()
		c.mu.Unlock()
	}
}

// checkpointLocked copies what it can of the log; an error (the database
// closing under it) leaves the work to the next one.
func (c *checkpointer) checkpointLocked() {
	var busy, frames, copied int64
	// The context is not cancellable: see partition.write.
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err == nil {
		c.frames.Store(frames)
	}
}

// committed tells the checkpointer that a write added n records to the log.
func (c *checkpointer) committed(n int) {
	c.records += n
	if c.records < checkpointRecords {
		return
	}
	c.records = 0
	select {
	case c.kick <- struct{}{}:
	default: // one is due already
	}
}

// beforeWrite runs under the partition's write lock before a transaction
// begins: when the log is long it completes a checkpoint first, so that
// the write starts the log over.
func (c *checkpointer) beforeWrite() {
	if c.frames.Load() < walRestartFrames {
		return
	}
	c.mu.Lock()
	c.checkpointLocked()
	c.mu.Unlock()
}

// stop waits for the checkpoint in progress; the database is closed after.
func (c *checkpointer) stop() {
	close(c.kick)
	<-c.done
}

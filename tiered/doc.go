// Package tiered is the walker-facing layer of Anchorage: Memory, an L1
// identity map per walker over a durable backend.Store.
//
// # Reading
//
// Get, Field and Edges read through L1: an anchor is loaded from the store
// once (Read access checked) and the walker keeps working on its copy, which
// may go stale while other walkers commit. Edges merges the stored adjacency
// with this walker's uncommitted connects and disconnects.
//
// # Writing
//
// Create, Connect, Disconnect, Set, Grant and Delete change only L1. Put
// writes one anchor now (with a new edge's never-stored endpoints: the
// cascade-save path); Commit writes every change in one atomic batch; Abort
// drops them. Both Put and Commit turn the walker's changes into a
// delta.Batch by diffing each anchor against its load-time snapshot, and
// hand it to Store.Apply, which merges it into the current stored state: a
// stale copy never erases what others wrote.
//
// # Concurrency
//
// A Memory belongs to one walker and is not safe for concurrent use. Any
// number of Memories may share a Store.
package tiered

// Package tiered is the walker-facing layer of Anchorage: Memory, an L1
// identity map per walker over a durable backend.Store.
//
// # Reading
//
// Get, Field and Edges read through L1: an anchor is loaded from the store
// once (Read access checked) and the walker keeps working on its copy, which
// may go stale while other walkers commit. Get hands out that copy without
// copying it again: treat it as read-only (Memory copies before it changes
// an anchor it has handed out). EdgesSeq streams a node's edges from one
// read snapshot, merged with this walker's uncommitted connects,
// disconnects and deletes; it re-checks Read on the node there and leaves
// out edges this walker may not read. Edges collects it into a slice.
//
// # Writing
//
// Create, Connect, Disconnect, Set, Grant, SetAccess and Delete change only
// L1; access changes are the owner's, and are written entry by entry. Put
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

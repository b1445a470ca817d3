// Package tiered is the walker-facing layer of Anchorage: Memory, an L1
// identity map per walker over a durable backend.Store.
//
// # Reading
//
// Get and Field read through L1: an anchor is loaded from the store once
// (Read access checked) and the walker keeps working on its copy, which
// may go stale while other walkers commit. Get hands out that copy without
// copying it again: treat it as read-only (Memory copies before it changes
// an anchor it has handed out).
//
// EdgesOf lists a node's edges of one type and direction, in creation
// order, a page at a time through the store's edge index (it reads the
// rows it returns, not the node's other edges), merged with this walker's
// uncommitted connects, disconnects and deletes; it re-checks Read on the
// node and leaves out edges this walker may not read. EdgePage returns one
// page and a cursor, Peers a page's peers loaded in one read, Edges
// everything. OfType pages anchors by archetype; Lookup finds anchors by a
// field through an index the store declares (delta.Declare).
//
// By default every read sees the latest committed state.
// Options.Snapshot makes all of a walker's reads come from one snapshot
// until it writes; Options.ValidateReads makes its commit fail with
// anchor.ErrConflict if what it read changed meanwhile.
//
// # Creating once
//
// CreateRoot makes a user's root node (owning itself). FindOrCreate finds
// a node's edge of a create-once type (delta.Indexes.Once) or creates it
// and its peer, in one write that every concurrent walker may make: one
// creates, all get the same peer. A unique field index
// (delta.FieldIndex.Unique) refuses a second holder of a value with a
// *delta.UniqueError.
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

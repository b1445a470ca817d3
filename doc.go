// Package anchorage opens an Anchorage store by name, whatever its
// backend, so that switching a program from the embedded bolt store to
// SQLite or PostgreSQL is a change of one string:
//
//	store, err := anchorage.Open("graph.db")                  // bolt
//	store, err := anchorage.Open("graph.sqlite")              // SQLite
//	store, err := anchorage.Open("postgres://app@db/graph")   // PostgreSQL
//
// Open uses each backend's default options; a program that needs other
// options calls the backend's own Open (packages backend/bolt,
// backend/sqlite, backend/postgres). The anchorage command chooses its
// backend with the same rules (Locate) when given --backend auto.
//
// The graph itself is written through package tiered (a walker's memory:
// Create, Connect, Set, Commit) and read through tiered or a store's View.
package anchorage

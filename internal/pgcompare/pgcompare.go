// Package pgcompare keeps the PostgreSQL backend's previous write design
// runnable, for benchmarks that compare against it and for nothing else.
package pgcompare

import "sync/atomic"

// StoreWideLock, when set before a PostgreSQL store is opened, makes that
// store's write transactions lock the store's meta row at begin
// (SELECT ... FOR UPDATE), serialising every writer on every machine as
// the design before issue 12 did. Stores opened while it is unset are not
// affected.
var StoreWideLock atomic.Bool

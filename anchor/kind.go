package anchor

import "fmt"

// Kind is what an anchor is.
type Kind uint8

// The four kinds of anchor.
const (
	KindNode Kind = iota + 1
	KindEdge
	KindWalker
	KindObject
)

func (k Kind) String() string {
	switch k {
	case KindNode:
		return "node"
	case KindEdge:
		return "edge"
	case KindWalker:
		return "walker"
	case KindObject:
		return "object"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k >= KindNode && k <= KindObject }

// Level is an access level. Levels are ordered: a higher level implies every
// lower one.
type Level uint8

// Access levels, lowest first.
const (
	NoAccess Level = iota
	Read
	Connect
	Write
	// Own is held only by an anchor's owner and the system root; it
	// cannot be granted. Changing an anchor's access needs it.
	Own
)

func (l Level) String() string {
	switch l {
	case NoAccess:
		return "no-access"
	case Read:
		return "read"
	case Connect:
		return "connect"
	case Write:
		return "write"
	case Own:
		return "owner"
	}
	return fmt.Sprintf("level(%d)", uint8(l))
}

// Access says who may do what to an anchor besides its owner and the system
// root. A per-root grant, when present, replaces All for that root (so a
// grant can also revoke: Roots[r] = NoAccess).
type Access struct {
	All   Level        `msgpack:"a"`
	Roots map[ID]Level `msgpack:"r,omitempty"`
}

// Clone returns a deep copy.
func (a Access) Clone() Access {
	c := Access{All: a.All}
	if len(a.Roots) > 0 {
		c.Roots = make(map[ID]Level, len(a.Roots))
		for k, v := range a.Roots {
			c.Roots[k] = v
		}
	}
	return c
}

// Equal reports whether a and b grant the same levels.
func (a Access) Equal(b Access) bool {
	if a.All != b.All || len(a.Roots) != len(b.Roots) {
		return false
	}
	for k, v := range a.Roots {
		if w, ok := b.Roots[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Direction of an adjacency row, seen from the node that holds it.
type Direction uint8

// Directions.
const (
	Out  Direction = iota + 1 // the node is the edge's source
	In                        // the node is the edge's target
	Both                      // the edge is undirected
)

func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case In:
		return "in"
	case Both:
		return "both"
	}
	return fmt.Sprintf("dir(%d)", uint8(d))
}

// Adj is one adjacency index row: node --edge--> peer. Adjacency rows are
// written by delta.Apply in the same transaction as the edge anchor itself;
// nodes never store edge lists.
type Adj struct {
	Node ID // the node holding the row
	Edge ID
	Peer ID
	Dir  Direction
	Type string // the edge's archetype name
}

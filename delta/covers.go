package delta

import (
	"github.com/anchorage-db/anchorage/anchor"
)

// Covers reports whether merging remote (from replica from) into stored
// (held by replica local) would change nothing: stored has every field and
// access entry of remote at the same or a winning (stamp, origin, value),
// an Updated stamp at least as late, and remote's liveness (coversLife).
// A sender may leave such a record out.
func Covers(stored, remote *anchor.Anchor, from, local anchor.ID) bool {
	s, r := stored, remote
	if s == nil || s.Kind != r.Kind || s.Owner != r.Owner || s.Type != r.Type ||
		s.Source != r.Source || s.Target != r.Target || s.Undirected != r.Undirected {
		return false
	}
	if r.Updated > s.Updated || !coversLife(s, r) {
		return false
	}
	for name, rf := range r.Fields {
		sf, had := s.Fields[name]
		if !had {
			return false
		}
		rm, sm := anchor.Mark{At: rf.Stamp, Origin: rf.Origin}, anchor.Mark{At: sf.Stamp, Origin: sf.Origin}
		if wins(rm, sm, rf.Value, sf.Value, from, local) {
			return false
		}
	}
	for _, key := range accessKeys(r) {
		rl, _ := r.Access.Entry(key)
		sl, had := s.Access.Entry(key)
		rm, sm := MarkOf(r, key), MarkOf(s, key)
		if !had || (wins(rm, sm, []byte{byte(rl)}, []byte{byte(sl)}, from, local) && !(rl == sl && rm == sm)) {
			return false
		}
	}
	return true
}

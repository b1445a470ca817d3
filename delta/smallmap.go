package delta

import "iter"

// smallMapMax is how many keys a smallMap keeps in its arrays before it
// moves them to a Go map.
const smallMapMax = 8

// smallMap maps the few keys most plans hold (a connect reads three
// anchors and plans two adjacency rows) without allocating: its keys and
// values live in arrays inside the plan, searched in order, until an
// entry past smallMapMax moves them all to a Go map. Allocations in the
// committer's serial section cost twice: once to make, and again as the
// garbage collector's work charged to whoever allocates next (measured:
// bbolt's own puts ran 1.6x slower beside a plan that allocated its maps).
// The zero value is empty; a smallMap must not be copied once used.
type smallMap[K comparable, V any] struct {
	n    int
	keys [smallMapMax]K
	vals [smallMapMax]V
	m    map[K]V
}

// get returns k's value and whether k is present.
func (s *smallMap[K, V]) get(k K) (V, bool) {
	if s.m != nil {
		v, ok := s.m[k]
		return v, ok
	}
	for i := range s.n {
		if s.keys[i] == k {
			return s.vals[i], true
		}
	}
	var zero V
	return zero, false
}

// at returns k's value, or the zero value if k is absent.
func (s *smallMap[K, V]) at(k K) V {
	v, _ := s.get(k)
	return v
}

// set gives k the value v.
func (s *smallMap[K, V]) set(k K, v V) {
	if s.m != nil {
		s.m[k] = v
		return
	}
	for i := range s.n {
		if s.keys[i] == k {
			s.vals[i] = v
			return
		}
	}
	if s.n < smallMapMax {
		s.keys[s.n], s.vals[s.n] = k, v
		s.n++
		return
	}
	s.m = make(map[K]V, 2*smallMapMax)
	for i := range s.n {
		s.m[s.keys[i]] = s.vals[i]
	}
	s.m[k] = v
	s.n = 0
	clear(s.keys[:])
	clear(s.vals[:])
}

// del removes k.
func (s *smallMap[K, V]) del(k K) {
	if s.m != nil {
		delete(s.m, k)
		return
	}
	for i := range s.n {
		if s.keys[i] == k {
			copy(s.keys[i:s.n], s.keys[i+1:s.n])
			copy(s.vals[i:s.n], s.vals[i+1:s.n])
			s.n--
			var zk K
			var zv V
			s.keys[s.n], s.vals[s.n] = zk, zv
			return
		}
	}
}

// all yields every key and its value: in the order they were first set
// while the map is small, in no particular order after.
func (s *smallMap[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if s.m != nil {
			for k, v := range s.m {
				if !yield(k, v) {
					return
				}
			}
			return
		}
		for i := range s.n {
			if !yield(s.keys[i], s.vals[i]) {
				return
			}
		}
	}
}

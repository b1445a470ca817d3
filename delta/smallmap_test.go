package delta

import (
	"maps"
	"testing"

	"pgregory.net/rapid"
)

// TestSmallMapMatchesMap: any sequence of sets and deletes leaves a
// smallMap holding what a Go map holds, before and after it outgrows its
// arrays, and all yields each entry once (in insertion order while small).
func TestSmallMapMatchesMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s smallMap[int, int]
		model := map[int]int{}
		var order []int // keys in first-set order, while small
		for i := range rapid.IntRange(0, 40).Draw(t, "ops") {
			k := rapid.IntRange(0, 2*smallMapMax).Draw(t, "key")
			if rapid.Bool().Draw(t, "del") {
				s.del(k)
				delete(model, k)
				for j, o := range order {
					if o == k {
						order = append(order[:j], order[j+1:]...)
						break
					}
				}
			} else {
				if _, had := model[k]; !had {
					order = append(order, k)
				}
				s.set(k, i)
				model[k] = i
			}
			for k := range 2*smallMapMax + 1 {
				v, ok := s.get(k)
				w, wok := model[k]
				if ok != wok || v != w || s.at(k) != w {
					t.Fatalf("key %d: smallMap has %d, %v; map has %d, %v", k, v, ok, w, wok)
				}
			}
			got := map[int]int{}
			var seen []int
			for k, v := range s.all() {
				if _, dup := got[k]; dup {
					t.Fatalf("all yields %d twice", k)
				}
				got[k] = v
				seen = append(seen, k)
			}
			if !maps.Equal(got, model) {
				t.Fatalf("all yields %v, want %v", got, model)
			}
			if s.m == nil && len(seen) == len(order) {
				for j := range seen {
					if seen[j] != order[j] {
						t.Fatalf("small map yields %v, want insertion order %v", seen, order)
					}
				}
			}
		}
	})
}

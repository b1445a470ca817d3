package delta

import (
	"github.com/anchorage-db/anchorage/anchor"
)

// accessKey names an access entry in messages.
func accessKey(key anchor.ID) string {
	if key.IsZero() {
		return "all"
	}
	return key.String()
}

func setMark(a *anchor.Anchor, key anchor.ID, m anchor.Mark) {
	if a.AccessStamps == nil {
		a.AccessStamps = make(map[anchor.ID]anchor.Mark)
	}
	a.AccessStamps[key] = m
}

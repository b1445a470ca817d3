package anchor

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest archetype (type) or field name, in bytes.
const MaxNameLen = 255

// ValidName reports whether s may name an archetype or a field: 1 to
// MaxNameLen bytes of valid UTF-8 without control characters (no NUL, tab
// or newline), so that every backend stores it the same way and every tool
// prints it on one line. A bad name yields an error wrapping ErrInvalid;
// what says whether it names a type or a field.
func ValidName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty %s name", ErrInvalid, what)
	case len(s) > MaxNameLen:
		return fmt.Errorf("%w: %s name of %d bytes (at most %d)", ErrInvalid, what, len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s name %q is not valid UTF-8", ErrInvalid, what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s name %q contains control character %U", ErrInvalid, what, s, r)
		}
	}
	return nil
}

package main

import (
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
)

// writeTable writes rows as left-aligned columns two spaces apart, each
// line starting with indent. Widths are display widths (go-runewidth), so
// names in wide scripts (CJK, emoji) keep the columns aligned, which
// text/tabwriter, counting runes, does not. Tabs and newlines in a cell
// are shown as spaces: they would break the table.
func writeTable(w io.Writer, indent string, rows [][]string) error {
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			r[i] = clean.Replace(c)
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], runewidth.StringWidth(r[i]))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(indent)
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(runewidth.FillRight(c, widths[i]))
			b.WriteString("  ")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

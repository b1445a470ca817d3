package replica

import "errors"

// ErrNotExport: the input is not an Anchorage export file (no magic).
// Damaged exports yield anchor.ErrCorrupt; exports of a newer format
// anchor.ErrVersion.
var ErrNotExport = errors.New("anchorage: not an anchorage export file")

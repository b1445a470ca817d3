package replica

import (
	"fmt"
	"io"

	"github.com/anchorage-db/anchorage/anchor"
)

// Progress reports how far an export or import has got.
type Progress struct {
	Chunks  int // chunks written or applied so far
	Records int // anchor records so far
	Total   int // records in all (export: known up front; import: 0 until the end)
}

// CheckResult describes an export file that Check found intact.
type CheckResult struct {
	Header  Header
	Chunks  int
	Records int
}

// Check reads a whole export without applying it: every section's checksum,
// the chunk order, the trailer's counts and every anchor record. Callers
// that must not modify a store on bad input (the anchorage command) check
// a file before importing it. Errors are as Import's.
func Check(r io.Reader) (*CheckResult, error) {
	fr, h, err := openExport(r)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Header: h}
	for {
		tag, payload, err := fr.next()
		if err != nil {
			return nil, err
		}
		switch tag {
		case tagTrailer:
			var tr trailer
			if err := decode(payload, &tr, "trailer"); err != nil {
				return nil, err
			}
			if tr.Chunks != res.Chunks || tr.Records != res.Records {
				return nil, corrupt("trailer counts %d chunks and %d records, file holds %d and %d", tr.Chunks, tr.Records, res.Chunks, res.Records)
			}
			return res, nil
		case tagChunk:
			ch, err := decodeChunk(payload, res.Chunks)
			if err != nil {
				return nil, err
			}
			for _, rec := range ch.Records {
				if _, err := anchor.Unmarshal(rec.ID, rec.Rec); err != nil {
					return nil, fmt.Errorf("export %s: %w", res.Header.ExportID, err)
				}
			}
			res.Chunks++
			res.Records += len(ch.Records)
		default:
			return nil, corrupt("unknown section %q", tag)
		}
	}
}

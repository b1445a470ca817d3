package sqlite

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

var _ backend.StorageChecker = (*view)(nil)

// CheckStorage reports, for backend.Verify, as corrupt records, what the
// anchor, index and change-log scans cannot see: field rows whose anchor row is missing
// (their anchor's key was damaged, or the anchor row lost), kv and meta
// rows whose checksum does not match, and whatever SQLite's own
// PRAGMA integrity_check finds in the B-trees and the log's index.
// integrity_check reads every page, so CheckStorage costs about a full scan.
func (v *view) CheckStorage(reportKind func(kind string, id anchor.ID, detail string)) error {
	report := func(id anchor.ID, detail string) { reportKind(backend.ProblemCorrupt, id, detail) }
	if err := v.checkVals(reportKind); err != nil {
		return v.err("verify", err)
	}
	rows, err := v.tx.QueryContext(v.ctx, `SELECT DISTINCT f.id FROM fields f
		WHERE NOT EXISTS (SELECT 1 FROM anchors a WHERE a.id = f.id)`)
	if err != nil {
		return v.err("verify", err)
	}
	for rows.Next() {
		var raw any
		if err := rows.Scan(&raw); err != nil {
			rows.Close()
			return v.err("verify", err)
		}
		var id anchor.ID
		idCol(&id, raw)
		report(id, fmt.Sprintf("field rows under key %x belong to no anchor", raw))
	}
	if err := rows.Close(); err != nil {
		return v.err("verify", err)
	}
	for _, table := range []string{"kv", "meta"} {
		if err := v.checkKeyValues(table, report); err != nil {
			return err
		}
	}
	ic, err := v.tx.QueryContext(v.ctx, "PRAGMA integrity_check")
	if err != nil {
		return v.err("verify", err)
	}
	defer ic.Close()
	for ic.Next() {
		var msg string
		if err := ic.Scan(&msg); err != nil {
			return v.err("verify", err)
		}
		if msg != "ok" {
			report(anchor.ID{}, "SQLite integrity check: "+msg)
		}
	}
	return v.err("verify", ic.Err())
}

// checkKeyValues reports each row of table (kv or meta) whose checksum
// does not match.
func (v *view) checkKeyValues(table string, report func(anchor.ID, string)) error {
	rows, err := v.tx.QueryContext(v.ctx, "SELECT key, value, crc FROM "+table)
	if err != nil {
		return v.err("verify", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, value, crc any
		if err := rows.Scan(&key, &value, &crc); err != nil {
			return v.err("verify", err)
		}
		if !crcOK(crc, rowSum(table, key, value)) {
			report(anchor.ID{}, fmt.Sprintf("checksum mismatch: %s row %q", table, key))
		}
	}
	return v.err("verify", rows.Err())
}

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/replica"
)

type exportJSON struct {
	File     string `json:"file"`
	ExportID string `json:"export_id"`
	Source   string `json:"source_store"`
	After    uint64 `json:"after_seq"`
	Through  uint64 `json:"through_seq"`
	Chunks   int    `json:"chunks"`
	Records  int    `json:"records"`
}

func newExportCmd() *cobra.Command {
	var (
		out           string
		after         uint64
		chunk         int
		asJSON, quiet bool
		force         bool
	)
	cmd := &cobra.Command{
		Use:   "export --db PATH --out FILE",
		Short: "Write a store's changes (since --after) to a checksummed export file",
		Long: `export reads the store read-only, in one consistent snapshot, and writes
every anchor changed after change-log sequence --after (0: everything) to
FILE: a versioned header, chunks of anchor records, and a trailer, each
section with its own checksum. The file is written under a temporary name
and renamed into place once complete, so FILE is never half-written. An
existing FILE is replaced only with --force.`,
		Example: `  anchorage export --db graph.db --out graph.anchx
  anchorage export --db graph.db --out delta.anchx --after 1200`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError("export: no output file given (use --out FILE)")
			}
			if err := checkOutput(out, force); err != nil {
				return err
			}
			s, _, err := openReadOnly(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
			if err != nil {
				return fail(err)
			}
			defer os.Remove(tmp.Name())
			bar := newBar(cmd.ErrOrStderr(), -1, quiet || asJSON, "export")
			res, err := replica.Export(ctxOf(cmd), s, tmp, &replica.ExportOptions{After: after, ChunkRecords: chunk,
				Progress: func(p replica.Progress) { bar.ChangeMax(p.Total); bar.Set(p.Records) }})
			bar.Finish()
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = placeFile(tmp.Name(), out, force)
			}
			if err != nil {
				return fail(err)
			}
			j := exportJSON{File: out, ExportID: res.Header.ExportID.String(), Source: res.Header.SourceStore.String(),
				After: res.Header.After, Through: res.Header.Through, Chunks: res.Chunks, Records: res.Records}
			return emit(cmd, asJSON, j, func(w io.Writer, j exportJSON) {
				fmt.Fprintf(w, "exported %s in %s (changes after seq %d through %d) to %s\n",
					plural(j.Records, "anchor"), plural(j.Chunks, "chunk"), j.After, j.Through, j.File)
			})
		},
	}
	addStoreFlags(cmd, "the store to export")
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "the export file to write")
	f.BoolVar(&force, "force", false, "replace --out if it exists")
	f.Uint64Var(&after, "after", 0, "export the changes after this change-log sequence number")
	f.IntVar(&chunk, "chunk", 1000, "anchors per chunk")
	addJSON(cmd, &asJSON, "the result")
	addQuiet(cmd, &quiet)
	return cmd
}

// checkOutput checks, before any work, that a file can be written at path:
// its directory exists, it is not a directory, and it does not exist
// unless force.
func checkOutput(path string, force bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return usageError("%s is a directory, not a file", path)
	case err == nil && !force:
		return usageError("%s exists (use --force to replace it)", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fail(err)
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageError("cannot write %s: no directory %s", path, dir)
	}
	return nil
}

// placeFile moves the complete file tmp to path; unless force, a file that
// appeared at path meanwhile stays (a hard link cannot replace a file; on a
// file system without links, the check is done again just before).
func placeFile(tmp, path string, force bool) error {
	if force {
		return os.Rename(tmp, path)
	}
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		if err != nil {
			return usageError("%s exists (use --force to replace it)", path)
		}
		return nil
	}
	if err := checkOutput(path, false); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// withView opens the --db store read-only and calls fn with one consistent
// snapshot of it.
func withView(cmd *cobra.Command, fn func(s backend.Store, name string, v backend.View) error) error {
	s, name, err := openReadOnly(cmd)
	if err != nil {
		return err
	}
	defer s.Close()
	return fail(s.View(ctxOf(cmd), func(v backend.View) error { return fn(s, name, v) }))
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// emit prints a command's result v: as JSON with --json, else with text.
func emit[T any](cmd *cobra.Command, asJSON bool, v T, text func(io.Writer, T)) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	text(cmd.OutOrStdout(), v)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return fail(enc.Encode(v))
}

// parseID parses a command-line anchor ID; a malformed one is bad input.
func parseID(s string) (anchor.ID, error) {
	id, err := anchor.ParseID(strings.TrimSpace(s))
	if err != nil {
		return id, usageError("%v", err)
	}
	return id, nil
}

// lookup reads one anchor; an unknown ID is bad input (exit 2).
func lookup(cmd *cobra.Command, v backend.View, id anchor.ID) (*anchor.Anchor, error) {
	a, err := v.Anchor(id)
	if errors.Is(err, anchor.ErrNotFound) {
		path, _ := cmd.Flags().GetString("db")
		return nil, usageError("no anchor %s in %s", id, path)
	}
	return a, err
}

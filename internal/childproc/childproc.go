// Package childproc lets a test run its own test binary again as a child
// process that plays one role of the test: a second process trying a
// locked file, a client to kill in the middle of a commit, code that may
// crash the process it runs in.
//
// The parent builds the child's command with Command, naming the test the
// child runs and the role it plays; that test (or TestMain, for a child
// that runs no test) calls Role to learn whether it is the child and which
// role it plays. Anything more the child needs travels in environment
// variables passed to Command, or on its standard input.
package childproc

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// envRole carries the role from the parent to the child.
const envRole = "ANCHORAGE_CHILD_ROLE"

// Command returns a command that runs the running test binary again with
// role set, running only the top-level test named test (none if test is
// empty: the role is then played in TestMain), verbosely, once, and within
// what is left of t's deadline if t has one (see testing.T.Deadline). The child's environment is the
// parent's plus env ("KEY=value" entries, which win over the parent's).
// role must not be empty.
func Command(t testing.TB, test, role string, env ...string) *exec.Cmd {
	t.Helper()
	if role == "" {
		t.Fatal("childproc: a child needs a role")
	}
	run := "^$"
	if test != "" {
		run = "^" + regexp.QuoteMeta(test) + "$"
	}
	args := []string{"-test.run=" + run, "-test.count=1", "-test.v"}
	if dt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if d, ok := dt.Deadline(); ok && time.Until(d) > 0 {
			args = append(args, "-test.timeout="+time.Until(d).String())
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), envRole+"="+role), env...)
	return cmd
}

// Role returns the role this process was started with by Command, and
// whether it was started by Command at all.
func Role() (string, bool) {
	role := os.Getenv(envRole)
	return role, role != ""
}

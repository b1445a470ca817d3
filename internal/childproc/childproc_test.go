package childproc_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/anchorage-db/anchorage/internal/childproc"
)

// TestCommand: the child runs only the named test, in the role given, with
// the extra environment; the parent, started without a role, has none.
func TestCommand(t *testing.T) {
	if role, ok := childproc.Role(); ok {
		fmt.Printf("child: role %s, extra %s\n", role, os.Getenv("CHILDPROC_EXTRA"))
		return
	}
	out, err := childproc.Command(t, "TestCommand", "the-role", "CHILDPROC_EXTRA=x").CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "child: role the-role, extra x") {
		t.Errorf("the child did not play its role:\n%s", out)
	}
	if strings.Contains(string(out), "TestOther") {
		t.Errorf("the child ran another test:\n%s", out)
	}
}

// TestOther must not run in TestCommand's child.
func TestOther(t *testing.T) {
	if _, ok := childproc.Role(); ok {
		fmt.Println("TestOther ran in a child")
	}
}

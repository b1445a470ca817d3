package anchorage_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeBlocks returns the README's fenced code blocks in language lang.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	re := regexp.MustCompile("(?ms)^```" + lang + "\n(.*?)^```$")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// exampleBodies returns the bodies of the Example functions of this
// package, one tab of indentation removed: the text a README shows.
func exampleBodies(t *testing.T) map[string]string {
	t.Helper()
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	require.NoError(t, err)
	out := map[string]string{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fd.Name.Name, "Example") {
			continue
		}
		body := string(src[fset.Position(fd.Body.Lbrace).Offset+2 : fset.Position(fd.Body.Rbrace).Offset])
		lines := strings.Split(body, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimPrefix(l, "\t")
		}
		out[fd.Name.Name] = strings.Join(lines, "\n")
	}
	return out
}

// TestReadmeSnippetsAreExamples: every Go snippet of the README is the body
// of an Example of this package, to the letter, so it compiles, checks its
// errors and runs (with its output checked) in every go test.
func TestReadmeSnippetsAreExamples(t *testing.T) {
	snippets := readmeBlocks(t, "go")
	require.NotEmpty(t, snippets)
	bodies := exampleBodies(t)
	for _, s := range snippets {
		found := false
		for _, b := range bodies {
			found = found || b == s
		}
		require.True(t, found, "README snippet is not the body of an Example in example_test.go:\n%s", s)
		require.NotRegexp(t, `(?m)^[^/]*, _ :?= `, s, "a README snippet drops an error")
	}
}

// readmeSkipped lists the README's shell blocks that this test does not
// run, and why: CI runs both as its own steps.
var readmeSkipped = map[string]string{
	"./scripts/setup.sh\n": "installs system packages; CI's first step",
	"./scripts/test.sh\n":  "the whole test suite, this test included; CI's second step",
}

// TestReadmeCommands runs every shell block of the README, in order, from
// the repository's root, as a newcomer would: go install puts the command
// in a temporary GOBIN that is first on PATH. The commands must not leave
// files in the repository.
func TestReadmeCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the README's commands (builds and runs the demo)")
	}
	blocks := readmeBlocks(t, "sh")
	require.NotEmpty(t, blocks)
	for b := range readmeSkipped {
		require.Contains(t, blocks, b, "a skipped block is no longer in the README")
	}
	before := gitStatus(t)
	gobin := t.TempDir()
	env := append(os.Environ(), "GOBIN="+gobin, "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, b := range blocks {
		if why, ok := readmeSkipped[b]; ok {
			t.Logf("not run (%s): %s", why, strings.TrimSpace(b))
			continue
		}
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", b)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "README block failed:\n%s\noutput:\n%s", b, out)
	}
	_, err := os.Stat(filepath.Join(gobin, "anchorage"))
	require.NoError(t, err, "the README's go install put no anchorage in GOBIN")
	require.Equal(t, before, gitStatus(t), "the README's commands left files in the repository")
}

func gitStatus(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=all").Output()
	if err != nil {
		t.Skip("not a git checkout: cannot tell whether the README's commands leave files behind")
	}
	return string(out)
}

// TestDocsStandAlone: the README links only files inside the repository,
// and the package documentation of every package (what go doc and a
// package site show) names no source or Markdown file, which would mean
// nothing there.
func TestDocsStandAlone(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	links := regexp.MustCompile(`\]\(([^)#]+)`).FindAllStringSubmatch(string(b), -1)
	require.NotEmpty(t, links)
	for _, l := range links {
		target := l[1]
		if strings.Contains(target, "://") {
			continue
		}
		clean := filepath.Clean(target)
		require.False(t, filepath.IsAbs(clean) || strings.HasPrefix(clean, ".."), "README links outside the repository: %s", target)
		if _, err := os.Stat(clean); err != nil {
			t.Errorf("README links a missing file: %s", target)
		}
	}
	fileRef := regexp.MustCompile(`\b[\w./-]+\.(go|md)\b`)
	dirs, err := filepath.Glob(filepath.Join("*", "doc.go"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join("*", "*", "doc.go"))
	require.NoError(t, err)
	for _, dir := range append([]string{"doc.go"}, append(dirs, more...)...) {
		dir = filepath.Dir(dir)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(dir, "doc.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
		require.NoError(t, err)
		require.NotNil(t, f.Doc, dir)
		doc := f.Doc.Text()
		require.NotRegexp(t, fileRef, doc, "%s: go doc names a file", dir)
		require.NotContains(t, doc, "../", dir)
	}
}

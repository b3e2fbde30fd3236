package compat

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/compat/*/expected.txt")

// report is what `bondingfs check-config` prints: the writes, then the
// errors, with the case directory cut from the paths.
func report(t *testing.T, dir string) string {
	t.Helper()
	p, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	p.Describe(&b)
	for _, e := range p.Errors {
		fmt.Fprintln(&b, e)
	}
	return strings.ReplaceAll(b.String(), dir+string(filepath.Separator), "")
}

// TestGolden loads every case under testdata/compat and compares the
// check-config report with its expected.txt (go test -update rewrites them).
func TestGolden(t *testing.T) {
	root := filepath.Join("..", "testdata", "compat")
	cases, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root, c.Name())
		t.Run(c.Name(), func(t *testing.T) {
			got := report(t, dir)
			golden := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("report differs from %s (go test ./compat -run TestGolden -update)\n--- got:\n%s\n--- want:\n%s", golden, got, want)
			}
		})
	}
	if n < 10 {
		t.Errorf("only %d cases under %s", n, root)
	}
}

package bpf

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestGeneratedCurrent fails when c/bond.c changed after the object and
// bindings were last generated: `make generate` rebuilds them and records
// the source's hash in bond.c.sha256 (sha256sum format).
func TestGeneratedCurrent(t *testing.T) {
	src, err := os.ReadFile("c/bond.c")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile("bond.c.sha256")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	got := hex.EncodeToString(sum[:])
	want, _, _ := strings.Cut(string(rec), " ")
	if got != want {
		t.Fatalf("c/bond.c has sha256 %s, the generated object was built from %s: run `make generate` and commit bond_bpfel.o, bond_bpfel.go and bond.c.sha256", got, want)
	}
	if _, err := os.Stat("bond_bpfel.o"); err != nil {
		t.Fatal(err)
	}
}

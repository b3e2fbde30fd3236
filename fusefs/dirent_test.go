package fusefs

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// direntRecord encodes one struct linux_dirent64 as the kernel does (the
// record padded to 8 bytes).
func direntRecord(ino uint64, typ uint8, name string) []byte {
	n := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, n)
	binary.NativeEndian.PutUint64(b[0:8], ino)
	binary.NativeEndian.PutUint64(b[8:16], 1)
	binary.NativeEndian.PutUint16(b[16:18], uint16(n))
	b[18] = typ
	copy(b[19:], name)
	return b
}

func TestParseDirents(t *testing.T) {
	var b []byte
	for _, r := range []struct {
		ino  uint64
		typ  uint8
		name string
	}{{1, unix.DT_DIR, "."}, {2, unix.DT_DIR, ".."}, {7, unix.DT_REG, "mtu"}, {8, unix.DT_LNK, "subsystem"},
		{9, unix.DT_DIR, "statistics"}, {10, unix.DT_UNKNOWN, "a-name-of-twenty-one"}} {
		b = append(b, direntRecord(r.ino, r.typ, r.name)...)
	}
	got := parseDirents(append(b, 1, 2, 3), nil) // a truncated record at the end is left out
	want := []dirent{{"mtu", 7, syscall.S_IFREG}, {"subsystem", 8, syscall.S_IFLNK}, {"statistics", 9, syscall.S_IFDIR}, {"a-name-of-twenty-one", 10, 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// readDirents agrees with os.ReadDir and lstat on a real directory.
func TestReadDirents(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"f1", "f2"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f1", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	got, err := readDirents(dir)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].name < got[j].name })
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(des) {
		t.Fatalf("readDirents %v, os.ReadDir %v", got, des)
	}
	for i, d := range des {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(dir, d.Name()), &st); err != nil {
			t.Fatal(err)
		}
		want := dirent{name: d.Name(), ino: st.Ino, mode: st.Mode & syscall.S_IFMT}
		if got[i] != want {
			t.Errorf("got %+v, want %+v", got[i], want)
		}
	}
	if _, err := readDirents(filepath.Join(dir, "f1")); err != syscall.ENOTDIR {
		t.Errorf("readDirents of a file: %v, want ENOTDIR", err)
	}
}

// FuzzParseDirents: any buffer parses without a panic into entries whose
// names are non-empty, NUL-free and neither "." nor "..".
func FuzzParseDirents(f *testing.F) {
	f.Add(direntRecord(7, unix.DT_REG, "mtu"))
	f.Add(append(direntRecord(1, unix.DT_DIR, "."), direntRecord(8, unix.DT_LNK, "subsystem")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range parseDirents(b, nil) {
			if e.name == "" || e.name == "." || e.name == ".." {
				t.Fatalf("entry %+v", e)
			}
			for i := 0; i < len(e.name); i++ {
				if e.name[i] == 0 {
					t.Fatalf("NUL in %q", e.name)
				}
			}
		}
	})
}

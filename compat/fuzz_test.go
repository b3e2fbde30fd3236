package compat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkParse is what every fuzz target asserts: no panic, every error a
// *ParseError for the file with a line inside it, every setting from the
// file, inside it, with a valid bond name and a key the plan can write.
func checkParse(t *testing.T, file string, data []byte, s []Setting, errs []error) {
	t.Helper()
	lines := strings.Count(string(data), "\n") + 1
	for _, e := range errs {
		var pe *ParseError
		if !errors.As(e, &pe) || pe.File != file || pe.Line < 0 || pe.Line > lines {
			t.Fatalf("bad error %#v (file has %d lines)", e, lines)
		}
	}
	for _, x := range s {
		if x.File != file || x.Line < 1 || x.Line > lines {
			t.Fatalf("bad position in %+v (file has %d lines)", x, lines)
		}
		if x.Bond != "" && !validIfName(x.Bond) {
			t.Fatalf("bad bond name in %+v", x)
		}
		if x.Key == "" {
			t.Fatalf("empty key in %+v", x)
		}
		if x.Key == KeySlaves && (!strings.HasPrefix(x.Value, "+") || !validIfName(x.Value[1:])) {
			t.Fatalf("bad slave write %+v", x)
		}
	}
}

// addSeeds adds the testdata/compat inputs of the given format to the corpus.
func addSeeds(f *testing.F, format Format) {
	root := filepath.Join("..", "testdata", "compat")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "expected.txt" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err == nil && DetectFormat(p, data) == format {
			f.Add(data)
		}
		return nil
	})
}

func FuzzModprobe(f *testing.F) {
	addSeeds(f, FormatModprobe)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := ParseModprobe("m.conf", data, nil)
		checkParse(t, "m.conf", data, s, errs)
	})
}

func FuzzIfcfg(f *testing.F) {
	addSeeds(f, FormatIfcfg)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := ParseIfcfg("ifcfg-bond0", data, nil)
		checkParse(t, "ifcfg-bond0", data, s, errs)
	})
}

func FuzzSysconfig(f *testing.F) {
	addSeeds(f, FormatSysconfig)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := ParseSysconfig("ifcfg-bond0", data, nil)
		checkParse(t, "ifcfg-bond0", data, s, errs)
	})
}

func FuzzInterfaces(f *testing.F) {
	addSeeds(f, FormatInterfaces)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := ParseInterfaces("interfaces", data, nil)
		checkParse(t, "interfaces", data, s, errs)
	})
}

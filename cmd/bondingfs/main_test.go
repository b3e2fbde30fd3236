package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run(nil, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "usage:") {
		t.Errorf("no arguments: rc %d, stderr %q", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"frobnicate"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: rc %d, stderr %q", rc, errb.String())
	}
	if rc := run([]string{"help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "check-config") {
		t.Errorf("help: rc %d, stdout %q", rc, out.String())
	}
}

func TestServeHelpListsModuleOptions(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"serve", "--help"}, &out, &errb); rc != 0 {
		t.Fatalf("serve --help: rc %d", rc)
	}
	for _, want := range []string{"-root", "-netns", "parm:           max_bonds:", "parm:           miimon:", "parm:           xmit_hash_policy:"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("serve --help does not list %q", want)
		}
	}
}

// An invalid module option stops the daemon before it touches anything, as
// the kernel refuses to load (bond_check_params).
func TestServeRejectsInvalidModuleOption(t *testing.T) {
	var out, errb bytes.Buffer
	rc := run([]string{"serve", "--root", t.TempDir(), "mode=9"}, &out, &errb)
	if rc != 1 {
		t.Fatalf("serve mode=9: rc %d, want 1", rc)
	}
	if !strings.Contains(errb.String(), `Error: Invalid bonding mode "9"`) {
		t.Errorf("stderr %q lacks the kernel's message", errb.String())
	}
}

func TestExecUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"exec", "--netns", "x"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "missing -- CMD") {
		t.Errorf("exec without --: rc %d, stderr %q", rc, errb.String())
	}
	errb.Reset()
	if rc := run([]string{"exec", "--"}, &out, &errb); rc != 2 {
		t.Errorf("exec -- (no CMD): rc %d", rc)
	}
	errb.Reset()
	if rc := run([]string{"exec", "--netns", "/nonexistent/ns", "--", "true"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "netns /nonexistent/ns") {
		t.Errorf("exec with a missing netns: rc %d, stderr %q", rc, errb.String())
	}
	if rc := run([]string{"exec", "--help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "-- CMD [ARGS...]") {
		t.Errorf("exec --help: rc %d", rc)
	}
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/run/a\040b`: "/run/a b",
		`/plain`:      "/plain",
		`/x\134y`:     `/x\y`,
		`/trail\04`:   `/trail\04`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

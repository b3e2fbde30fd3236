package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The shipped modprobe.d rule runs `bondingfs modprobe` with modprobe's
// options and `bondingfs modprobe -r`, and the systemd unit's ExecStart
// uses flags serve knows.
func TestDistFiles(t *testing.T) {
	rule, err := os.ReadFile(filepath.Join("..", "..", "dist", "modprobe.d", "bondingfs.conf.in"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ninstall bonding @SBINDIR@/bondingfs modprobe $CMDLINE_OPTS\n", "\nremove bonding @SBINDIR@/bondingfs modprobe -r\n"} {
		if !bytes.Contains(rule, []byte(want)) {
			t.Errorf("bondingfs.conf.in lacks %q", strings.TrimSpace(want))
		}
	}
	unit, err := os.ReadFile(filepath.Join("..", "..", "dist", "systemd", "bondingfs.service.in"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=@SBINDIR@/bondingfs (.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("bondingfs.service.in has no ExecStart=@SBINDIR@/bondingfs …")
	}
	args := strings.Fields(string(m[1]))
	if args[0] != "serve" {
		t.Fatalf("ExecStart runs %q, want serve", args[0])
	}
	for _, want := range []string{"--real-paths", "--unloaded", "--ctl"} {
		if !strings.Contains(string(m[1]), want) {
			t.Errorf("ExecStart lacks %s", want)
		}
	}
	// every flag parses: --help after them ends the parse with status 0
	var out, errb bytes.Buffer
	if rc := run(append(args, "--help"), &out, &errb); rc != 0 {
		t.Errorf("serve rejects the unit's flags %v: rc %d\n%s", args[1:], rc, errb.String())
	}
	for _, want := range []string{"Type=notify", "Before=network-pre.target", "Wants=network-pre.target"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("bondingfs.service.in lacks %s", want)
		}
	}
}

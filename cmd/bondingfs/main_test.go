package main

import (
	"bytes"
	"strings"
	"testing"

	"bondingfs/fusefs"
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

// --unloaded takes its options from `bondingfs modprobe`, never at start.
func TestServeUnloadedRejectsOptions(t *testing.T) {
	for _, args := range [][]string{{"--unloaded", "miimon=100"}, {"--unloaded", "--ctl", "x", "--config", "/etc/modprobe.d"}} {
		var out, errb bytes.Buffer
		if rc := run(append([]string{"serve", "--root", t.TempDir()}, args...), &out, &errb); rc != 2 ||
			!strings.Contains(errb.String(), "--unloaded takes neither module options nor --config") {
			t.Errorf("serve %v: rc %d, stderr %q", args, rc, errb.String())
		}
	}
}

// `bondingfs modprobe` rejects unknown flags and -r with options before it
// dials anything.
func TestModprobeUsage(t *testing.T) {
	for _, args := range [][]string{{"--frob"}, {"-r", "mode=1"}, {"--ctl"}} {
		var out, errb bytes.Buffer
		if rc := run(append([]string{"modprobe"}, args...), &out, &errb); rc != 2 {
			t.Errorf("modprobe %v: rc %d, stderr %q", args, rc, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"modprobe", "--frob"}, &out, &errb); !strings.Contains(errb.String(), "unknown flag --frob") {
		t.Errorf("modprobe --frob: rc %d, stderr %q", rc, errb.String())
	}
}

// The client commands dial --ctl, else the socket of --root, else
// $BONDINGFS_CTL, else the socket of $BONDINGFS_ROOT or the default root.
func TestCtlOf(t *testing.T) {
	t.Setenv("BONDINGFS_CTL", "")
	t.Setenv("BONDINGFS_ROOT", "")
	for _, c := range []struct{ ctl, root, envCtl, envRoot, want string }{
		{want: "/run/bondingfs.ctl"},
		{root: "/srv/bonds", want: "/run/bondingfs-ctl/srv-bonds.ctl"},
		{ctl: "/tmp/x.ctl", root: "/srv/bonds", want: "/tmp/x.ctl"},
		{envCtl: "/tmp/env.ctl", want: "/tmp/env.ctl"},
		{envCtl: "/tmp/env.ctl", root: "/run/bondingfs", want: "/run/bondingfs.ctl"},
		{envRoot: "/srv/b", want: "/run/bondingfs-ctl/srv-b.ctl"},
	} {
		t.Setenv("BONDINGFS_CTL", c.envCtl)
		t.Setenv("BONDINGFS_ROOT", c.envRoot)
		if got := ctlOf(c.ctl, c.root); got != c.want {
			t.Errorf("ctlOf(%q, %q) with $BONDINGFS_CTL=%q $BONDINGFS_ROOT=%q = %q, want %q", c.ctl, c.root, c.envCtl, c.envRoot, got, c.want)
		}
	}
}

// `bondingfs --version` and `bondingfs version` print the program's version
// and the driver's as modinfo bonding shows it.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		var out, errb bytes.Buffer
		if rc := run([]string{arg}, &out, &errb); rc != 0 {
			t.Fatalf("%s: rc %d", arg, rc)
		}
		lines := strings.Split(out.String(), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "bondingfs ") ||
			lines[1] != "description:    Ethernet Channel Bonding Driver" || lines[2] != "vermagic:       "+fusefs.DriverVersion {
			t.Errorf("%s printed %q", arg, out.String())
		}
	}
}

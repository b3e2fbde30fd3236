package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"bondingfs/fusefs"
	"bondingfs/internal/nettest"
)

// packageScript installs the .deb in a throwaway root and exercises it. It
// runs under `unshare --mount --net --pid --fork`: the root is an overlay of
// / whose upper layer is a tmpfs, so dpkg's database, /usr/sbin,
// /etc/modprobe.d, /lib/systemd/system and /usr/share/man are private
// copies; /run and /tmp are fresh tmpfs (no host systemd is reachable: the
// maintainer scripts find no /run/systemd/system), /sys is the new network
// namespace's. The host's files and dpkg database are never written. Each
// step prints "== NAME" and its output; the test reads the sections.
// Arguments: WORKDIR DEB ZSHSCRIPT.
const packageScript = `set -eu
T=$1 DEB=$2 ZT=$3
mkdir -p "$T/ov" "$T/root"
mount -t tmpfs tmpfs "$T/ov"
mkdir "$T/ov/upper" "$T/ov/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/ov/upper,workdir=$T/ov/work" "$T/root"
R=$T/root
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
cp "$DEB" "$R/tmp/pkg.deb"
cp "$ZT" "$R/tmp/zt.zsh"
inroot() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
	BONDINGFS_LOG=/run/bondingfs.log DEBIAN_FRONTEND=noninteractive "$@"; }
files=$(dpkg-deb --fsys-tarfile "$DEB" | tar -t | sed -n 's|^\./|/|p' | grep -v '/$')

echo "== install"; inroot dpkg -i /tmp/pkg.deb 2>&1
echo "== version"; inroot bondingfs --version
echo "== enabled"; readlink "$R/etc/systemd/system/sysinit.target.wants/bondingfs.service" || true
echo "== man-path"; inroot man -w bondingfs ifenslave
echo "== man-warnings"
for p in bondingfs ifenslave; do inroot sh -c "MANWIDTH=80 man --warnings -l /usr/share/man/man8/$p.8.gz 2>&1 >/dev/null"; done
echo "== man-render"; inroot sh -c 'MANWIDTH=80 man -l /usr/share/man/man8/ifenslave.8.gz' | head -n 4
echo "== bash"
inroot bash -c '. /usr/share/bash-completion/bash_completion
	for line in "bondingfs st" "ifenslave --det"; do
		cmd=${line%% *}; __load_completion "$cmd" || exit 1
		f=$(complete -p "$cmd" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		COMP_LINE=$line COMP_POINT=${#line}; read -ra COMP_WORDS <<<"$line"; COMP_CWORD=$((${#COMP_WORDS[@]}-1))
		COMPREPLY=(); "$f" "$cmd" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		echo "$line -> ${COMPREPLY[*]}"
	done'
echo "== zsh"; inroot timeout 60 zsh -f /tmp/zt.zsh "bondingfs st" 2>&1 | tr -d '\033' | tr '\r' '\n' | grep -o 'bondingfs status' | head -n 1 || true
echo "== modprobe-n"; inroot modprobe -n -v bonding 2>&1
echo "== modprobe"; inroot modprobe bonding max_bonds=2 2>&1
echo "== masters"; inroot cat /sys/class/net/bonding_masters
echo "== proc"; inroot head -n 1 /proc/net/bonding/bond1
echo "== modprobe-r"; inroot modprobe -r bonding 2>&1; inroot test ! -e /sys/class/net/bonding_masters && echo unloaded
echo "== stop"
for p in /proc/[0-9]*; do
	case $(readlink "$p/exe" 2>/dev/null) in "$R/usr/sbin/bondingfs")
		# a bondingfs process that exits meanwhile (the reaper, a modprobe
		# helper) has no cmdline left to read
		c=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
		case "$c" in *" serve "*) kill -TERM "${p#/proc/}"; echo "stopped daemon" ;; esac ;;
	esac
done
n=0; while [ -e "$R/run/bondingfs.ctl" ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
echo "== remove"; inroot dpkg -r bondingfs 2>&1
echo "== left-after-remove"
for f in $files; do if [ -e "$R$f" ] || [ -L "$R$f" ]; then echo "$f"; fi; done
echo "== purge"; inroot dpkg -P bondingfs 2>&1
echo "== left-after-purge"
for f in $files; do if [ -e "$R$f" ] || [ -L "$R$f" ]; then echo "$f"; fi; done
find "$T/ov/upper" -name '*bondingfs*' | sed "s|^$T/ov/upper||"
echo "== end"
`

// zshScript types LINE and a tab into an interactive zsh (zpty) whose fpath
// is the distribution's, and prints what the line became.
const zshScript = `zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1='>'; autoload -Uz compinit; compinit -u -D; setopt nobeep"
zpty -w z "print -r -- READY"
zpty -r z out '*READY*'
zpty -w -n z "$1"$'\t'
zpty -r z out '*status*'
print -r -- "$out"
zpty -d z
`

// sections splits the script's output into its "== NAME" sections.
func sections(out string) map[string]string {
	m := map[string]string{}
	name := ""
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "== ") {
			name = strings.TrimSpace(l[3:])
			m[name] = ""
			continue
		}
		m[name] += l
	}
	return m
}

// TestPackage: `make package` builds the .deb and .rpm for amd64 and arm64;
// lintian and rpmlint (with packaging/'s overrides and configuration) find
// nothing; the .deb installs with dpkg -i in a throwaway root, where
// bondingfs --version, both man pages (man --warnings), the bash and zsh
// completion and `modprobe bonding` through the packaged rule work, and
// dpkg -r removes every file (dpkg -P the conffile and the unit's state).
func TestPackage(t *testing.T) {
	nettest.SkipUnlessRoot(t)
	for _, tool := range []string{"make", "scdoc", "lintian", "rpmlint", "rpm", "dpkg", "unshare", "chroot", "zsh", "man"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (scripts/deps.sh installs it)", tool)
		}
	}
	// the version the packages must carry (the tree does not change meanwhile)
	vout, err := exec.Command(filepath.Join(repoRoot, "scripts", "version.sh")).Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(vout))
	pkgdir := t.TempDir()
	start := time.Now()
	mk := exec.Command("make", "--no-print-directory", "package", "PKGDIR="+pkgdir)
	mk.Dir = repoRoot
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	t.Logf("make package: %v", time.Since(start).Round(time.Second))
	pkg := func(name string) string {
		p := filepath.Join(pkgdir, name)
		if _, err := os.Stat(p); err != nil {
			ls, _ := filepath.Glob(filepath.Join(pkgdir, "*"))
			t.Fatalf("make package made no %s: %v", name, ls)
		}
		return p
	}
	debAmd := pkg("bondingfs_" + version + "-1_amd64.deb")
	debArm := pkg("bondingfs_" + version + "-1_arm64.deb")
	rpmAmd := pkg("bondingfs-" + version + "-1.x86_64.rpm")
	rpmArm := pkg("bondingfs-" + version + "-1.aarch64.rpm")

	// contents: the programs, every file of dist/ where make install puts
	// it, the man pages, the completion
	want := []string{"/usr/sbin/bondingfs", "/usr/sbin/ifenslave", "/usr/share/man/man8/bondingfs.8.gz",
		"/usr/share/man/man8/ifenslave.8.gz", "/usr/share/bash-completion/completions/bondingfs",
		"/usr/share/bash-completion/completions/ifenslave", "/usr/share/doc/bondingfs/copyright"}
	distDeb, distRPM := distFiles(t, "/lib/systemd/system"), distFiles(t, "/usr/lib/systemd/system")
	for _, deb := range []string{debAmd, debArm} {
		list := run(t, "dpkg-deb", "-c", deb)
		for _, f := range append(append(want, distDeb...), "/usr/share/zsh/vendor-completions/_bondingfs") {
			if !strings.Contains(list, "."+f+"\n") && !strings.Contains(list, "."+f+" -> ") {
				t.Errorf("%s lacks %s:\n%s", filepath.Base(deb), f, list)
			}
		}
		ctl := run(t, "dpkg-deb", "-I", deb)
		for _, w := range []string{"Version: " + version + "-1\n", "Suggests: ifenslave\n", "Section: net\n"} {
			if !strings.Contains(ctl, w) {
				t.Errorf("%s: control lacks %q:\n%s", filepath.Base(deb), w, ctl)
			}
		}
		if strings.Contains(ctl, "Conflicts:") || strings.Contains(ctl, "Provides:") {
			t.Errorf("%s: Conflicts or Provides against the stance of packaging/README.md:\n%s", filepath.Base(deb), ctl)
		}
	}
	for _, r := range []string{rpmAmd, rpmArm} {
		list := run(t, "rpm", "-qpl", r)
		for _, f := range append(append(want[:6:6], distRPM...), "/usr/share/zsh/site-functions/_bondingfs") {
			if !strings.Contains(list, f+"\n") {
				t.Errorf("%s lacks %s:\n%s", filepath.Base(r), f, list)
			}
		}
		if cfg := run(t, "rpm", "-qpc", r); !strings.Contains(cfg, "/etc/modprobe.d/bondingfs.conf\n") {
			t.Errorf("%s: the modprobe.d rule is not %%config: %s", filepath.Base(r), cfg)
		}
		if s := run(t, "rpm", "-qp", "--scripts", r); !strings.Contains(s, "systemd-update-helper install-system-units bondingfs.service") ||
			!strings.Contains(s, "systemctl daemon-reload") {
			t.Errorf("%s: scriptlets are not %%systemd_post/%%systemd_postun's:\n%s", filepath.Base(r), s)
		}
	}

	// lintian: no error or warning that is not overridden
	start = time.Now()
	lint := exec.Command("lintian", "--fail-on", "error,warning", debAmd, debArm)
	out, err := lint.CombinedOutput()
	if err != nil || regexp.MustCompile(`(?m)^[EW]: `).Match(out) {
		t.Errorf("lintian: %v\n%s", err, out)
	}
	t.Logf("lintian: %v\n%s", time.Since(start).Round(time.Second), out)
	// rpmlint: nothing that packaging/rpmlint.toml does not filter
	out, err = exec.Command("rpmlint", "-c", filepath.Join(repoRoot, "packaging", "rpmlint.toml"), rpmAmd, rpmArm).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " 0 errors, 0 warnings") {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}

	// dpkg -i in a throwaway root
	native := debAmd
	if out := run(t, "dpkg", "--print-architecture"); strings.TrimSpace(out) == "arm64" {
		native = debArm
	}
	work := t.TempDir()
	script := filepath.Join(work, "pkg.sh")
	zt := filepath.Join(work, "zt.zsh")
	if err := os.WriteFile(script, []byte(packageScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zt, []byte(zshScript), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork", "--mount-proc", "sh", script, filepath.Join(work, "t"), native, zt)
	outb, err := cmd.CombinedOutput()
	t.Logf("throwaway root: %v", time.Since(start).Round(time.Second))
	s := sections(string(outb))
	if err != nil {
		t.Fatalf("throwaway root: %v\n%s", err, outb)
	}
	check := func(name string, ok bool, what string) {
		t.Helper()
		if !ok {
			t.Errorf("%s: %s; got:\n%s", name, what, s[name])
		}
	}
	check("version", strings.HasPrefix(s["version"], "bondingfs "+version+" (commit ") &&
		strings.Contains(s["version"], "\nvermagic:       "+fusefs.DriverVersion+"\n"), "want the packaged version and the driver's")
	check("enabled", strings.TrimSpace(s["enabled"]) == "/lib/systemd/system/bondingfs.service", "the postinst enables bondingfs.service (deb-systemd-helper)")
	check("man-path", strings.Contains(s["man-path"], "/usr/share/man/man8/bondingfs.8.gz") &&
		strings.Contains(s["man-path"], "/usr/share/man/man8/ifenslave.8.gz"), "man finds both pages")
	check("man-warnings", s["man-warnings"] == "", "man --warnings is silent")
	check("man-render", strings.Contains(s["man-render"], "ifenslave - attach and detach slave network devices"), "the page renders")
	check("bash", strings.Contains(s["bash"], "bondingfs st -> status\n") &&
		strings.Contains(s["bash"], "ifenslave --det -> --detach\n"), "bash completes bondingfs st to status")
	check("zsh", strings.TrimSpace(s["zsh"]) == "bondingfs status", "zsh completes bondingfs st to status")
	check("modprobe-n", strings.Contains(s["modprobe-n"], "install /usr/sbin/bondingfs modprobe"), "modprobe uses the packaged rule")
	check("masters", strings.TrimSpace(s["masters"]) == "bond0 bond1", "modprobe bonding max_bonds=2 made bond0 and bond1")
	check("proc", s["proc"] == "Ethernet Channel Bonding Driver: v"+fusefs.DriverVersion+"\n", "/proc/net/bonding/bond1 is served")
	check("modprobe-r", strings.TrimSpace(s["modprobe-r"]) == "unloaded", "modprobe -r bonding unloads")
	check("stop", strings.TrimSpace(s["stop"]) == "stopped daemon", "the daemon modprobe started is found")
	check("left-after-remove", strings.TrimSpace(s["left-after-remove"]) == "/etc/modprobe.d/bondingfs.conf", "dpkg -r removes every file but the conffile")
	check("left-after-purge", strings.TrimSpace(s["left-after-purge"]) == "", "dpkg -P leaves nothing with bondingfs in its name")
	if t.Failed() {
		t.Logf("throwaway root output:\n%s", outb)
	}
}

// distFiles is where make install puts each file of dist/, for a systemd
// unit directory (packaging/dist-files.sh).
func distFiles(t *testing.T, unitdir string) []string {
	t.Helper()
	out := run(t, filepath.Join(repoRoot, "packaging", "dist-files.sh"), "/etc", unitdir)
	var fs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			fs = append(fs, f[1])
		}
	}
	if len(fs) == 0 {
		t.Fatal("packaging/dist-files.sh lists nothing")
	}
	return fs
}

// The man page and both completion scripts know every flag of serve,
// status, exec and modprobe and every module option the program has.
func TestPackageDocsCoverProgram(t *testing.T) {
	bin := bondingfsBin(t)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	man, bash, zsh := read("man/bondingfs.8.scd"), read("completion/bondingfs.bash"), read("completion/_bondingfs")
	help := func(args ...string) string {
		out, _ := exec.Command(bin, args...).CombinedOutput() // --help exits 0, status's usage too
		return string(out)
	}
	flagRe := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, cmd := range []string{"serve", "status"} {
		for _, m := range flagRe.FindAllStringSubmatch(help(cmd, "--help"), -1) {
			f := "--" + m[1]
			if !strings.Contains(man, "*"+f+"*") || !strings.Contains(bash, f) || !strings.Contains(zsh, f+"[") && !strings.Contains(zsh, f+"=[") {
				t.Errorf("%s %s: missing from man/bondingfs.8.scd, completion/bondingfs.bash or completion/_bondingfs", cmd, f)
			}
		}
	}
	for _, f := range []string{"--root", "--ctl", "--log", "--remove", "--netns"} {
		if !strings.Contains(man, "*"+f+"*") || !strings.Contains(bash, f) {
			t.Errorf("%s: missing from the man page or the bash completion", f)
		}
	}
	parmRe := regexp.MustCompile(`(?m)^parm:\s+([a-z_]+):`)
	parms := parmRe.FindAllStringSubmatch(help("serve", "--help"), -1)
	if len(parms) < 20 {
		t.Fatalf("serve --help lists %d module options", len(parms))
	}
	for _, m := range parms {
		if !strings.Contains(man, "*"+m[1]+"*=") || !regexp.MustCompile(`(?m)(^|[ '])`+m[1]+`=`).MatchString(bash) ||
			!strings.Contains(zsh, "'"+m[1]+":") {
			t.Errorf("module option %s: missing from the man page or a completion script", m[1])
		}
	}
	for _, c := range []string{"serve", "exec", "modprobe", "status", "check-config", "version"} {
		if !strings.Contains(man, "\n*"+c+"*") || !strings.Contains(bash, c) || !strings.Contains(zsh, "'"+c+":") {
			t.Errorf("command %s: missing from the man page or a completion script", c)
		}
	}
}

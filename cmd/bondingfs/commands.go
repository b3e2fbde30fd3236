package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"bondingfs/daemon"
)

const modprobeUsage = `usage: bondingfs modprobe [-r] [--root DIR] [--ctl PATH] [--log FILE] [module options...]

The emulation's "modprobe bonding": what the install/remove rules of
/etc/modprobe.d/bondingfs.conf run, with modprobe's $CMDLINE_OPTS (the
"options bonding ..." lines of modprobe.d followed by the command line's).

Without -r it loads the module in the daemon serving the control socket, as a
first load of bonding.ko does (bond_check_params, max_bonds bonds, defaults
for later bonds). When the module is loaded already it does nothing and
succeeds, as modprobe does for a live module. When no daemon answers, it
starts one in the background, in the caller's mount and network namespace:
  bondingfs serve --real-paths --unloaded --ctl PATH --root DIR --log FILE
Invalid options change nothing and exit with status 1; modprobe then reports
"could not insert 'bonding': Invalid argument".

With -r it deletes every bond, as rmmod does, and leaves the daemon running
with the module unloaded. When the module is not loaded it fails (status 1)
with "Module bonding is not in kernel.".

Run by modprobe (MODPROBE_MODULE set) it prints nothing on failure: modprobe
reports it. Run by hand it prints modprobe's message.

flags (defaults from the environment, then built in):
  --ctl PATH   control socket (the one of --root when given, else
               $BONDINGFS_CTL, else the one of $BONDINGFS_ROOT or
               /run/bondingfs: /run/bondingfs.ctl for /run/bondingfs,
               /run/bondingfs-ctl/<root with "/" as "-">.ctl for another)
  --root DIR   mount point of the daemon, and of one it starts
               ($BONDINGFS_ROOT, /run/bondingfs)
  --log FILE   kernel log of a daemon it starts ($BONDINGFS_LOG, /var/log/bondingfs.log)
`

const execUsage = `usage: bondingfs exec [--root DIR] [--netns NAME] [--log FILE] [--state DIR] [--ctl SOCKET] [module options...] -- CMD [ARGS...]

Runs CMD in a new private mount namespace where /sys/class/net and /proc/net
are the emulation's (and, with --netns, inside that network namespace, with
/sys remounted for it, as "ip netns exec NAME" does). If a bondingfs daemon
already serves DIR (default /run/bondingfs) it is used as it is; otherwise
"bondingfs serve --root DIR [--netns NAME] [--log FILE] [--state DIR] [module
options]" runs for CMD's lifetime (its crash journal is the one "serve --root
DIR --netns NAME" keeps) and is stopped (SIGTERM, then waited for)
afterwards. The exit status is CMD's (128+N when a signal N ended it).
`

const checkConfigUsage = `usage: bondingfs check-config PATH...

Reads legacy bonding configuration (modprobe.d files, initscripts ifcfg-*,
SUSE sysconfig ifcfg-bondX, Debian interfaces; a directory such as
/etc/sysconfig/network-scripts or /etc/modprobe.d is walked) and prints the
writes "bondingfs serve --config PATH" would make, one per line, in the
order initscripts make them, each with the file and line it comes from.
Then every problem found is printed to standard error as FILE:LINE: MESSAGE.
Nothing is changed. Exit status: 0 when there is no problem, 1 otherwise,
2 for a usage error.
`

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ctlOf is the control socket a client command dials: ctl (--ctl) when
// given, else the one of root (--root) when given, else $BONDINGFS_CTL,
// else the one of $BONDINGFS_ROOT or the default root (daemon.CtlPath).
func ctlOf(ctl, root string) string {
	switch {
	case ctl != "":
		return ctl
	case root != "":
		return daemon.CtlPath(root)
	case os.Getenv("BONDINGFS_CTL") != "":
		return os.Getenv("BONDINGFS_CTL")
	}
	return daemon.CtlPath(envOr("BONDINGFS_ROOT", daemon.DefaultRoot))
}

// runModprobe parses `bondingfs modprobe`'s arguments as modprobe passes
// them (flags and module options mixed; --flag=value or --flag value).
// Exit status: 0 on success, 1 when the load or unload fails, 2 for a usage
// error.
func runModprobe(args []string, stdout, stderr io.Writer) int {
	var c daemon.ModprobeConfig
	var ctl, root string
	c.Log = envOr("BONDINGFS_LOG", "/var/log/bondingfs.log")
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, v, hasV := a, "", false
		if k := strings.IndexByte(a, '='); k >= 0 && strings.HasPrefix(a, "-") {
			name, v, hasV = a[:k], a[k+1:], true
		}
		switch name {
		case "-r", "--remove":
			c.Remove = true
		case "-h", "--help", "-help":
			fmt.Fprint(stdout, modprobeUsage)
			return 0
		case "--ctl", "-ctl", "--root", "-root", "--log", "-log":
			if !hasV && i+1 < len(args) {
				i++
				v, hasV = args[i], true
			}
			if !hasV || v == "" {
				fmt.Fprintf(stderr, "bondingfs modprobe: %s needs a value\n%s", name, modprobeUsage)
				return 2
			}
			switch strings.TrimLeft(name, "-") {
			case "ctl":
				ctl = v
			case "root":
				root = v
			case "log":
				c.Log = v
			}
		case "--":
			c.Opts = append(c.Opts, args[i+1:]...)
			i = len(args)
		default:
			if strings.HasPrefix(a, "-") {
				fmt.Fprintf(stderr, "bondingfs modprobe: unknown flag %s\n%s", a, modprobeUsage)
				return 2
			}
			c.Opts = append(c.Opts, a)
		}
	}
	if c.Remove && len(c.Opts) > 0 {
		fmt.Fprintf(stderr, "bondingfs modprobe: -r takes no module options\n")
		return 2
	}
	c.Ctl = ctlOf(ctl, root)
	c.Root = root
	if c.Root == "" {
		c.Root = envOr("BONDINGFS_ROOT", daemon.DefaultRoot)
	}
	return daemon.Modprobe(c, stderr)
}

// runStatus parses `bondingfs status [--json] [--root DIR] [--ctl PATH]
// [BOND...]`.
func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the documented JSON document (schema in the README)")
	root := fs.String("root", "", "mount point of the daemon, whose control socket it dials (default $BONDINGFS_ROOT, else "+daemon.DefaultRoot+")")
	ctl := fs.String("ctl", "", "control socket of the daemon (default the one of --root; $BONDINGFS_CTL when no --root is given)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bondingfs status [--json] [--root DIR] [--ctl PATH] [BOND...]\n")
		fs.PrintDefaults()
	}
	if rc, ok := parse(fs, args); !ok {
		return rc
	}
	return daemon.Status(ctlOf(*ctl, *root), *asJSON, fs.Args(), stdout, stderr)
}

// runExec parses `bondingfs exec [flags] [module options] -- CMD [ARGS...]`.
func runExec(args []string, stdout, stderr io.Writer) int {
	dash := -1
	for i, a := range args {
		if a == "--" {
			dash = i
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprint(stdout, execUsage)
			return 0
		}
	}
	if dash < 0 || dash == len(args)-1 {
		fmt.Fprintf(stderr, "bondingfs exec: missing -- CMD\n%s", execUsage)
		return 2
	}
	c := daemon.ExecConfig{Cmd: args[dash+1:]}
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Root, "root", daemon.DefaultRoot, "the tree to use, or to mount when no daemon serves it")
	fs.StringVar(&c.Netns, "netns", "", "run CMD (and a started daemon's engine) in this network namespace")
	fs.StringVar(&c.Log, "log", "", "log file of a started daemon (default stderr)")
	fs.StringVar(&c.State, "state", "", "crash journal directory of a started daemon (serve --state; default serve's, which `serve --netns NAME` shares)")
	fs.StringVar(&c.Ctl, "ctl", "", "control socket of the daemon serving --root, which supervises CMD's rtnetlink (default the one of --root; $BONDINGFS_CTL when no --root is given); a started daemon listens there")
	fs.Usage = func() { fmt.Fprint(stderr, execUsage) }
	if rc, ok := parse(fs, args[:dash]); !ok {
		return rc
	}
	c.ModOpts = fs.Args()
	rootSet := false
	fs.Visit(func(f *flag.Flag) { rootSet = rootSet || f.Name == "root" })
	if c.Ctl == "" && !rootSet {
		c.Ctl = os.Getenv("BONDINGFS_CTL") // as ctlOf
	}
	return daemon.Exec(c, stdout, stderr)
}

// runCheckConfig parses `bondingfs check-config PATH…`. Exit status 2 for
// a usage error, else daemon.CheckConfig's.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	var paths []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			paths = append(paths, args[i+1:]...)
			i = len(args)
		case a == "-h" || a == "-help" || a == "--help":
			fmt.Fprint(stdout, checkConfigUsage)
			return 0
		case len(a) > 1 && a[0] == '-':
			fmt.Fprintf(stderr, "bondingfs check-config: unknown flag %s\n%s", a, checkConfigUsage)
			return 2
		default:
			paths = append(paths, a)
		}
	}
	if len(paths) == 0 {
		fmt.Fprint(stderr, checkConfigUsage)
		return 2
	}
	return daemon.CheckConfig(paths, stdout, stderr)
}

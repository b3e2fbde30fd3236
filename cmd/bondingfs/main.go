// Command bondingfs is the Linux bonding driver in userspace: `bondingfs
// serve` mounts the driver's sysfs/procfs interface over FUSE and runs the
// bonding engine behind it. This command parses the flags of each
// subcommand and hands them to package daemon, which does the work.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"bondingfs/bond/modparams"
	"bondingfs/daemon"
)

const usage = `usage:
  bondingfs serve --root DIR [--netns NAME] [--log FILE] [--config PATH]... [--real-paths]
                  [--ctl PATH] [--unloaded] [--state DIR] [--metrics ADDR] [--fuse-debug] [module options...]
  bondingfs exec [--root DIR] [--netns NAME] [--log FILE] [--state DIR] [module options...] -- CMD [ARGS...]
  bondingfs modprobe [-r] [--root DIR] [--ctl PATH] [module options...]
  bondingfs status [--json] [--root DIR] [--ctl PATH] [BOND...]
  bondingfs check-config PATH...
  bondingfs version
  bondingfs help

serve mounts DIR/sys/class/net/{bonding_masters,<bond>/bonding/*,<slave>/bonding_slave/*}
and DIR/proc/net/bonding/<bond>, and runs the bonding engine until SIGINT/SIGTERM.
Module options use modprobe syntax (max_bonds=2 mode=active-backup miimon=100);
"bondingfs serve --help" lists them. With --real-paths the tree is also served at
/sys/class/net and /proc/net of the daemon's mount namespace. exec runs one command
in a private mount namespace with the real paths in place. "bondingfs modprobe"
loads and unloads the emulated module in a running daemon (the modprobe.d
install/remove rule); serve --unloaded starts without it. Every daemon serves a
control socket: ` + daemon.DefaultCtl + ` for the root ` + daemon.DefaultRoot + `,
` + daemon.DefaultCtlDir + `/<root with "/" as "-">.ctl for any other; status and
modprobe find it from --root.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "exec":
		return runExec(args[1:], stdout, stderr)
	case daemon.ExecNSCmd:
		return daemon.ExecNS(args[1:], stderr)
	case daemon.SeccompCmd:
		return daemon.Seccomp(args[1:], stderr)
	case "check-config":
		return runCheckConfig(args[1:], stdout, stderr)
	case "modprobe":
		return runModprobe(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case daemon.ReaperCmd:
		return daemon.Reaper(args[1:])
	case "version", "--version", "-version":
		fmt.Fprint(stdout, versionText())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bondingfs: unknown command %q\n%s", args[0], usage)
	return 2
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parse parses args with fs; ok false means exit with rc (0 after --help,
// 2 for a usage error).
func parse(fs *flag.FlagSet, args []string) (rc int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

func runServe(args []string, stderr io.Writer) int {
	c := daemon.ServeConfig{Stderr: stderr}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Root, "root", daemon.DefaultRoot, "mount point of the sysfs/procfs tree")
	fs.StringVar(&c.Netns, "netns", "", "run the engine in this network namespace (ip netns name or path)")
	fs.StringVar(&c.LogPath, "log", "", "append kernel log lines to this file (default stderr)")
	fs.BoolVar(&c.RealPaths, "real-paths", false, "also serve the tree at /sys/class/net and /proc/net of this mount namespace until exit")
	fs.BoolVar(&c.Unloaded, "unloaded", false, "start with the module unloaded (no bonding_masters) until `bondingfs modprobe` loads it")
	fs.StringVar(&c.Ctl, "ctl", "", "serve the control socket of `bondingfs modprobe` and `bondingfs status` at this path (default "+
		daemon.DefaultCtl+" for the root "+daemon.DefaultRoot+", else "+daemon.DefaultCtlDir+"/<root with \"/\" as \"-\">.ctl)")
	fs.StringVar(&c.State, "state", "", "keep the crash journal in this directory (default "+daemon.DefaultStateDir+"/<root>[@<netns>]; \"none\" for none): after an unclean exit the next start restores every bond")
	fs.BoolVar(&c.FuseDebug, "fuse-debug", false, "log every FUSE request and reply to stderr (go-fuse's debug output)")
	fs.StringVar(&c.Metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (ADDR: host:port or :port, loopback when no host is given)")
	fs.StringVar(&c.DataPath, "datapath", defaultDataPath(), "data path: auto (the in-kernel eBPF fast path when it loads, else userspace; the default), ebpf (fail if it cannot load), or userspace (TAP and AF_PACKET); $"+dataPathEnv+" changes the default")
	var configs multiFlag
	fs.Var(&configs, "config", "legacy configuration file or directory to apply at start (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: bondingfs serve --root DIR [--netns NAME] [--log FILE] [--config PATH]... [--real-paths] [--ctl PATH] [--unloaded] [module options...]\n\nflags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nmodule options (modinfo bonding):\n%s", modparams.Help())
	}
	if rc, ok := parse(fs, args); !ok {
		return rc
	}
	c.Configs, c.ModuleArgs = configs, fs.Args()
	if c.Unloaded && (len(c.ModuleArgs) > 0 || len(c.Configs) > 0) {
		fmt.Fprintf(stderr, "bondingfs: --unloaded takes neither module options nor --config: `bondingfs modprobe` gives the options\n")
		return 2
	}
	return daemon.Serve(c)
}

// dataPathEnv names the environment variable that sets the default of
// serve --datapath (auto without it): the way to run every daemon of a
// system, or of a test suite, on one data path.
const dataPathEnv = "BONDINGFS_DATAPATH"

func defaultDataPath() string {
	if v := os.Getenv(dataPathEnv); v != "" {
		return v
	}
	return "auto"
}

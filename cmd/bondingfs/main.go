// Command bondingfs is the Linux bonding driver in userspace: `bondingfs
// serve` mounts the driver's sysfs/procfs interface over FUSE and runs the
// bonding engine behind it.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  bondingfs serve --root DIR [--netns NAME] [--log FILE] [--config PATH]... [--real-paths]
                  [--ctl PATH] [--unloaded] [--state DIR] [--metrics ADDR] [--fuse-debug] [module options...]
  bondingfs exec [--root DIR] [--netns NAME] [--log FILE] [module options...] -- CMD [ARGS...]
  bondingfs modprobe [-r] [--ctl PATH] [module options...]
  bondingfs status [--json] [--ctl PATH] [BOND...]
  bondingfs check-config PATH...
  bondingfs help

serve mounts DIR/sys/class/net/{bonding_masters,<bond>/bonding/*,<slave>/bonding_slave/*}
and DIR/proc/net/bonding/<bond>, and runs the bonding engine until SIGINT/SIGTERM.
Module options use modprobe syntax (max_bonds=2 mode=active-backup miimon=100);
"bondingfs serve --help" lists them. With --real-paths the tree is also served at
/sys/class/net and /proc/net of the daemon's mount namespace. exec runs one command
in a private mount namespace with the real paths in place. "bondingfs modprobe"
loads and unloads the emulated module in a running daemon (the modprobe.d
install/remove rule); serve --unloaded starts without it.
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
		return runServe(args[1:], stdout, stderr)
	case "exec":
		return runExec(args[1:], stdout, stderr)
	case execNSCmd:
		return runExecNS(args[1:], stderr)
	case "check-config":
		return runCheckConfig(args[1:], stdout, stderr)
	case "modprobe":
		return runModprobe(args[1:], stdout, stderr)
	case "status":
		return runStatus(args[1:], stdout, stderr)
	case reaperCmd:
		return runReaper(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "bondingfs: unknown command %q\n%s", args[0], usage)
	return 2
}

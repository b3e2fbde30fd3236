// Command ifenslave attaches and detaches slave interfaces to a bonding
// master, the classic tool of bonding.txt (2007) §3 and §8 ("Configuring
// Bonding Manually"), with the option set and messages of ifenslave.c
// v1.1.0 (Documentation/networking/ifenslave.c, December 2003).
//
// Unlike the C program, which used SIOCBOND* ioctls, it works only through
// the driver's sysfs files (bonding.txt §3.4): bonding/slaves to enslave and
// release, bonding/active_slave to change the active slave, and the
// device's flags, mtu, address and type attributes. It therefore runs
// unchanged against the kernel driver and against bondingfs with its real
// paths in place. It imports no engine package.
//
// The sysfs class directory is /sys/class/net, or $IFENSLAVE_SYSFS when set
// (tests point it at a tree of their own).
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	root := os.Getenv("IFENSLAVE_SYSFS")
	if root == "" {
		root = "/sys/class/net"
	}
	os.Exit(run(os.Args[1:], dirSysfs(root), os.Stdout, os.Stderr))
}

// run executes one ifenslave command line against sysfs and returns the
// exit status: 0 on success, 2 for a usage error, 1 (or the errno of a
// failed read, as ifenslave.c returns it) otherwise.
func run(args []string, fs sysfs, stdout, stderr io.Writer) int {
	o, operands, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "ifenslave: %v\n", err)
		fmt.Fprint(stderr, usageMsg)
		return 2
	}
	if o.exclusive > 1 {
		fmt.Fprint(stderr, usageMsg)
		return 2
	}
	if o.verbose || o.version {
		fmt.Fprint(stdout, versionMsg)
		if o.version {
			return 0
		}
	}
	if o.usage {
		fmt.Fprint(stdout, usageMsg)
		return 0
	}
	if o.help {
		fmt.Fprint(stdout, usageMsg)
		fmt.Fprint(stdout, helpMsg)
		return 0
	}
	e := &enslaver{fs: newNamedSysfs(fs, operands), o: o, stdout: stdout, stderr: stderr}
	if o.all {
		if len(operands) != 0 {
			fmt.Fprint(stderr, usageMsg)
			return 2
		}
		e.printAll()
		return 0
	}
	if len(operands) == 0 {
		fmt.Fprint(stderr, usageMsg)
		return 2
	}
	return e.main(operands[0], operands[1:])
}

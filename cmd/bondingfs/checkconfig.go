package main

import (
	"fmt"
	"io"

	"bondingfs/compat"
)

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

// runCheckConfig implements `bondingfs check-config PATH…`: it prints the
// plan (compat.Plan.Describe) on stdout, then every error on stderr as
// file:line: message, and touches nothing. It returns 1 if there is any
// error (or a path cannot be read), 2 for a usage error, 0 otherwise.
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
	plan, err := compat.Load(paths...)
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs check-config: %v\n", err)
		return 1
	}
	plan.Describe(stdout)
	for _, e := range plan.Errors {
		fmt.Fprintln(stderr, e)
	}
	if len(plan.Errors) > 0 {
		fmt.Fprintf(stderr, "bondingfs check-config: %d error(s)\n", len(plan.Errors))
		return 1
	}
	return 0
}

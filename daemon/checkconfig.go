package daemon

import (
	"fmt"
	"io"

	"bondingfs/compat"
)

// CheckConfig implements `bondingfs check-config PATH…`: it prints the
// plan (compat.Plan.Describe) on stdout, then every error on stderr as
// file:line: message, and touches nothing. It returns 1 if there is any
// error (or a path cannot be read), 0 otherwise.
func CheckConfig(paths []string, stdout, stderr io.Writer) int {
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

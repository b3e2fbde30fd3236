// Package integration holds the root-only end-to-end tests of bondingfs: the
// daemon (bin/bondingfs, built by the tests) in a network namespace with veth
// slaves to a peer namespace, real traffic (ping, iperf3) in every data-path
// mode, failover timing, and the replay of the kernel oracle's scenarios
// against the FUSE mount. They fail instead of skipping when CI=true.
package integration

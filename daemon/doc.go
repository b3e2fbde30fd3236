// Package daemon is what `bondingfs` runs, below the command's flag
// parsing (cmd/bondingfs), as wireguard-go's device sits below its main:
//
//   - Serve (serve.go): setup (kernel log, module options, the other flags
//     checked, host, reaper, crash journal, engine, control socket, mount,
//     real paths, metrics), run until a signal, teardown.
//   - the emulated module's loaded state and `bondingfs modprobe`
//     (module.go, modprobe.go);
//   - the crash journal's recorder (the engine's bond.Journal and
//     bond.JournalReserver) and the restore after an unclean exit
//     (journal.go), the journal directory's checks and sweep (statedir.go),
//     the engine namespace's identity (netnsid.go);
//   - the real paths /sys/class/net and /proc/net (realpaths.go) and
//     `bondingfs exec`'s private mount namespace (exec.go);
//   - the reaper child that cleans up after a daemon that died, woken by a
//     robust futex (reaper.go);
//   - the control socket, its protocol and `bondingfs status` (ctl.go),
//     at the path paths.go derives from the mount root;
//   - the Prometheus metrics (metrics.go) and `bondingfs check-config`
//     (checkconfig.go).
//
// Entry points return the command's exit status; the package never calls
// back into the command.
package daemon

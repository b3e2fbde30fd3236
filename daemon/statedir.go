package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"bondingfs/internal/state"
)

// checkStateDir checks the crash journal's directory dir before the daemon
// trusts what it reads there: a directory (not a symlink) owned by the
// daemon's user (root) and writable by nobody else, for anyone who can
// write a journal there makes the daemon reconfigure interfaces at its next
// start. A missing dir is fine when create is set (lockJournal makes it,
// mode 0700).
func checkStateDir(dir string, create bool) error {
	st, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) && create {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("journal directory %s: not a directory", dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("journal directory %s: owned by uid %d, not by uid %d (root): another user could write the journal", dir, sys.Uid, os.Geteuid())
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("journal directory %s: mode %04o is writable by group or others: another user could write the journal (chmod go-w)", dir, st.Mode().Perm())
	}
	return nil
}

// removeStateDir removes a journal directory after a clean stop: the
// journal, its lock and the directory (an error is ignored: the next
// start's sweep gets what is left).
func removeStateDir(dir string) {
	for _, f := range []string{state.FileName, lockName} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	_ = os.Remove(dir)
}

// sweepStateDirs removes the journal directories under parent (the default
// state directory) that earlier daemons left after a clean stop (their
// journal says clean, or there is none) and that no daemon holds: one per
// mount root ever used, or they pile up. A journal a crashed daemon left
// stays for its next start. keep is the caller's own directory.
func sweepStateDirs(parent, keep string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		dir := filepath.Join(parent, e.Name())
		if !e.IsDir() || dir == keep {
			continue
		}
		lock, err := lockJournal(dir, 0)
		if err != nil {
			continue // held: a live daemon's, or its reaper's
		}
		if journalClean(dir) {
			removeStateDir(dir)
		}
		lock.Close()
	}
}

// journalClean reports whether the journal in dir has nothing to restore:
// no journal, or one marked clean. A damaged one is kept.
func journalClean(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, state.FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	var s struct {
		Clean bool `json:"clean"`
	}
	return err == nil && json.Unmarshal(data, &s) == nil && s.Clean
}

package fusefs

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"bondingfs/bond"
)

// The entries of enslavement: a slave's master and upper_<bond> links and
// bonding_slave/, a bond's lower_<slave> links, and the real files whose
// node changes with it (flags, rendered on a slave), are cached by the
// kernel (entryTTL, passthroughFile) while the backend reports every
// change it publishes (changeFeed): after each new snapshot, the entries
// that it made stale (staleEntries) are dropped (FUSE_NOTIFY_INVAL_ENTRY)
// before the write(2), netlink request or control command that made the
// change returns (bond.Registry.AfterDo), and soon after a change the
// engine made by itself (bond.Registry.Watch: a slave released because
// its device went away). Names that appear are never cached as missing
// (the negative timeout is 0), so they need nothing.

// changeFeed is implemented by backends that report the snapshots they
// publish (bond.Registry): Watch's channel receives after each one,
// AfterDo's function runs in the goroutine of the caller whose operation
// published one, before the operation returns.
type changeFeed interface {
	Watch() (<-chan struct{}, func())
	AfterDo(fn func(ctx context.Context)) (stop func())
}

// entrySyncWait bounds how long the caller of a change waits for the
// kernel's stale entries to be dropped. The wait ends at once in every
// ordinary case; the bound keeps a caller from waiting on a kernel that
// waits on the caller (a notification takes the directory's lock).
const entrySyncWait = 100 * time.Millisecond

// entrySync drops the kernel's cached entries that each new snapshot made
// stale, on a goroutine of its own (run), never from a FUSE request.
type entrySync struct {
	fsys *filesystem
	kick chan struct{} // wakes run (buffered)
	stop chan struct{} // closed when run returns

	mu   sync.Mutex
	next chan struct{} // closed when the next pass is done

	last *bond.Snapshot // the snapshot of the last pass (run only)
}

func newEntrySync(fsys *filesystem) *entrySync {
	return &entrySync{fsys: fsys, kick: make(chan struct{}, 1), stop: make(chan struct{}),
		next: make(chan struct{}), last: fsys.snapshot()}
}

// noWaitKey marks a context whose caller must not wait for the pass
// (noWait).
type noWaitKey struct{}

// noWait returns ctx marked so that the changes its backend calls publish
// are passed to run without waiting: a READDIR holds its directory's lock,
// which the notifications may need.
func noWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

// afterDo is the backend's AfterDo function: it asks for a pass and waits
// for it (at most entrySyncWait), unless ctx says not to (noWait).
func (e *entrySync) afterDo(ctx context.Context) {
	e.request(ctx.Value(noWaitKey{}) == nil)
}

// request asks run for a pass that sees the latest snapshot and, with
// wait, waits until it is done (at most entrySyncWait).
func (e *entrySync) request(wait bool) {
	e.mu.Lock()
	done := e.next
	e.mu.Unlock()
	select {
	case e.kick <- struct{}{}:
	default: // a pass is asked for already, and starts after this
	}
	if !wait {
		return
	}
	t := time.NewTimer(entrySyncWait)
	defer t.Stop()
	select {
	case <-done:
	case <-e.stop: // unmounted: nothing is cached any more
	case <-t.C:
	}
}

// run makes a pass after each request and each publication (watch) until
// stop is closed.
func (e *entrySync) run(watch <-chan struct{}, stop <-chan struct{}) {
	defer close(e.stop)
	for {
		select {
		case <-e.kick:
		case <-watch:
		case <-stop:
			return
		}
		e.mu.Lock()
		done := e.next
		e.next = make(chan struct{})
		e.mu.Unlock()
		e.pass()
		close(done)
	}
}

// pass drops the cached entries the snapshots published since the last
// pass made stale.
func (e *entrySync) pass() {
	cur := e.fsys.snapshot()
	old := e.last
	e.last = cur
	if old == cur {
		return
	}
	for _, de := range staleEntries(old, cur) {
		e.fsys.forgetDevEntry(de.dev, de.name)
	}
}

// devEntry is the entry name of device dev's directory.
type devEntry struct{ dev, name string }

// staleEntries returns the entries of device directories whose cached
// lookup snapshot cur makes stale after old: for every device whose master
// changed, its flags (a slave's is rendered) and, when it was a slave, its
// master, upper_<old bond> and bonding_slave and the old bond's
// lower_<device>; for every bond made or deleted, its bonding and flags.
func staleEntries(old, cur *bond.Snapshot) []devEntry {
	masters := func(s *bond.Snapshot) map[string]string {
		m := map[string]string{}
		for _, b := range s.Bonds {
			for i := range b.Slaves {
				m[b.Slaves[i].Name] = b.Name
			}
		}
		return m
	}
	mo, mc := masters(old), masters(cur)
	var es []devEntry
	seen := map[string]bool{}
	for _, m := range []map[string]string{mo, mc} {
		for d := range m {
			if seen[d] || mo[d] == mc[d] {
				continue
			}
			seen[d] = true
			es = append(es, devEntry{d, "flags"})
			if b := mo[d]; b != "" {
				es = append(es, devEntry{d, "master"}, devEntry{d, "upper_" + b},
					devEntry{d, "bonding_slave"}, devEntry{b, "lower_" + d})
			}
		}
	}
	for _, p := range [][2]*bond.Snapshot{{old, cur}, {cur, old}} {
		for _, b := range p[0].Bonds {
			if p[1].Bond(b.Name) == nil {
				es = append(es, devEntry{b.Name, "bonding"}, devEntry{b.Name, "flags"})
			}
		}
	}
	return es
}

// forgetDevEntry drops the kernel's cached entry name of device dev's
// directory, in every net directory below sys/devices the kernel has
// looked up (devDirs). Never from a FUSE request.
func (f *filesystem) forgetDevEntry(dev, name string) {
	f.devDirs.Range(func(_, v any) bool {
		in := v.(*fs.Inode)
		if d := in.GetChild(dev); d != nil && d.Mode()&syscall.S_IFMT == syscall.S_IFDIR {
			d.NotifyEntry(name)
		}
		return true
	})
}

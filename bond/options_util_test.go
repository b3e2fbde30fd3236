package bond

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// optFakeHost is a minimal Host for option tests: only LinkByName works.
// The embedded nil Host keeps it compiling when the interface grows; any
// other method panics.
type optFakeHost struct {
	Host
	links map[string]LinkInfo
}

func (h *optFakeHost) LinkByName(name string) (LinkInfo, error) {
	if l, ok := h.links[name]; ok {
		return l, nil
	}
	return LinkInfo{}, fmt.Errorf("link %q: %w", name, syscall.ENODEV)
}

// LinkByIndex finds nothing (WriteOption's look at the bond's IFF_UP).
func (h *optFakeHost) LinkByIndex(int) (LinkInfo, error) { return LinkInfo{}, syscall.ENODEV }

// optFakeMaster is a master TAP that only takes carrier changes.
type optFakeMaster struct{ Master }

func (optFakeMaster) SetCarrier(bool) error { return nil }

// baseModes hands in 802.3ad, balance-tlb and balance-alb as ModeBase, so
// that the option tests can switch to every mode (the real ones live in
// modes, which imports bond).
var baseModes = map[ModeID]ModeFactory{
	Mode8023AD: func(Control) Mode { return ModeBase{} },
	ModeTLB:    func(Control) Mode { return ModeBase{} },
	ModeALB:    func(Control) Mode { return ModeBase{} },
}

// optEnv is one bond built directly (no control goroutine): the set path is
// called as the control goroutine would.
type optEnv struct {
	t    *testing.T
	reg  *Registry
	b    *Bond
	logs []string
}

func newOptEnv(t *testing.T, links ...string) *optEnv {
	e := &optEnv{t: t}
	h := &optFakeHost{links: map[string]LinkInfo{}}
	for i, l := range links {
		h.links[l] = LinkInfo{Index: 10 + i, Name: l, Ether: true}
	}
	e.reg = NewRegistry(Config{Host: h, Log: func(l string) { e.logs = append(e.logs, l) }, Defaults: DefaultParams(), Modes: baseModes})
	e.b = e.addBond("bond0")
	return e
}

func (e *optEnv) addBond(name string) *Bond {
	b := e.reg.newBond(name, 0, optFakeMaster{}, nil, 0)
	e.reg.bonds = append(e.reg.bonds, b)
	return b
}

// addSlave puts a slave into the bond's list without the engine.
func (e *optEnv) addSlave(b *Bond, name string) *Slave {
	s := &Slave{bond: b, name: name, link: LinkDown}
	b.slaves = append(b.slaves, s)
	return s
}

// removeSlave takes a slave out of the bond's list without the engine.
func (e *optEnv) removeSlave(b *Bond, name string) {
	for i, s := range b.slaves {
		if s.name == name {
			b.slaves = append(b.slaves[:i:i], b.slaves[i+1:]...)
			return
		}
	}
}

// status is the snapshot the Show functions read.
func (e *optEnv) status(b *Bond) *BondStatus {
	st := &BondStatus{Name: b.name, Params: b.params.Clone(), Up: b.up}
	for _, s := range b.slaves {
		st.Slaves = append(st.Slaves, SlaveStatus{Name: s.name, QueueID: s.queueID})
	}
	return st
}

// w writes like `echo value > bonding/opt` (value plus newline) and checks
// the errno and the new log lines.
func (e *optEnv) w(opt, value string, want syscall.Errno, logs ...string) {
	e.t.Helper()
	e.wraw(opt, value+"\n", want, logs...)
}

func (e *optEnv) wraw(opt, data string, want syscall.Errno, logs ...string) {
	e.t.Helper()
	e.logs = nil
	err := e.b.SetOption(opt, data)
	if got := ErrnoOf(err); got != want {
		e.t.Errorf("write %s %q: errno %v, want %v", opt, data, errName(got), errName(want))
	}
	if strings.Join(e.logs, "\n") != strings.Join(logs, "\n") {
		e.t.Errorf("write %s %q: log\n%s\nwant\n%s", opt, data, strings.Join(e.logs, "\n"), strings.Join(logs, "\n"))
	}
}

// r checks the text of bonding/opt as root sees it.
func (e *optEnv) r(opt, want string) {
	e.t.Helper()
	o := OptionByName(opt)
	if got := o.Show(e.status(e.b), Caller{NetAdmin: true}); got != want {
		e.t.Errorf("read %s = %q, want %q", opt, got, want)
	}
}

func errName(e syscall.Errno) string {
	if e == 0 {
		return "OK"
	}
	for name, v := range map[string]syscall.Errno{"EPERM": syscall.EPERM, "EINVAL": syscall.EINVAL,
		"EACCES": syscall.EACCES, "EBUSY": syscall.EBUSY, "ENOTEMPTY": syscall.ENOTEMPTY,
		"ENODEV": syscall.ENODEV, "ENOENT": syscall.ENOENT, "E2BIG": syscall.E2BIG} {
		if v == e {
			return name
		}
	}
	return e.Error()
}

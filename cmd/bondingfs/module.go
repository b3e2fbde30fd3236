package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"bondingfs/bond"
	"bondingfs/bond/modparams"
	"bondingfs/status"
)

// DefaultCtl is the control socket of the system's daemon (bondingfs.service).
const DefaultCtl = "/run/bondingfs.ctl"

// moduleState is whether the emulated bonding.ko is loaded. A daemon started
// with --unloaded serves the real paths as a kernel without the module does
// (no bonding_masters, no /proc/net/bonding) until `bondingfs modprobe`
// loads it through the control socket.
type moduleState struct {
	reg    moduleRegistry
	log    func(string)
	mu     sync.Mutex // serialises load and unload
	loaded atomic.Bool
	rec    *recorder // the crash journal, or nil
	// changed runs (under mu) after loaded changed: the mount drops its
	// cached proc/net/bonding entry (fusefs.Server.LoadedChanged).
	changed func()
}

// setLoaded stores the loaded state and reports a change (mu held).
func (m *moduleState) setLoaded(v bool) {
	if m.loaded.Swap(v) != v && m.changed != nil {
		m.changed()
	}
}

// onChange sets the function run after each change of the loaded state.
func (m *moduleState) onChange(fn func()) {
	m.mu.Lock()
	m.changed = fn
	m.mu.Unlock()
}

// moduleRegistry is what loading and unloading needs of *bond.Registry.
type moduleRegistry interface {
	SetDefaults(ctx context.Context, p bond.Params) error
	CreateBond(ctx context.Context, name string) error
	DeleteAllBonds(ctx context.Context) error
}

// Loaded implements fusefs.Loader.
func (m *moduleState) Loaded() bool { return m.loaded.Load() }

// loadResult is the outcome of a load request.
type loadResult int

const (
	loadDone    loadResult = iota // the module was loaded with the options
	loadAlready                   // it was loaded before: a no-op, as for a live module
)

// load loads the module with modprobe-style options as bonding_init does:
// bond_check_params (ParseModuleOptions, with the kernel's log lines), the
// defaults for every later bond, then bond0 … bond<max_bonds-1>. Invalid
// options are EINVAL (the kernel refuses to load) and change nothing.
func (m *moduleState) load(ctx context.Context, args []string) (loadResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loaded.Load() {
		return loadAlready, nil
	}
	mc, err := modparams.Parse(args, m.log)
	if err != nil {
		return 0, syscall.EINVAL
	}
	if err := m.reg.SetDefaults(ctx, mc.Params); err != nil {
		return 0, err
	}
	m.setLoaded(true)
	for i := 0; i < mc.MaxBonds; i++ {
		if err := m.reg.CreateBond(ctx, fmt.Sprintf("bond%d", i)); err != nil {
			m.log(fmt.Sprintf("bonding: Error: couldn't create bond%d: %v", i, err))
		}
	}
	if m.rec != nil {
		m.rec.setModule(true, args)
	}
	return loadDone, nil
}

// reload loads the module again with the options a daemon that died had
// loaded it with, without creating bonds (the journal restores those).
func (m *moduleState) reload(ctx context.Context, args []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mc, err := modparams.Parse(args, func(string) {})
	if err != nil {
		return syscall.EINVAL
	}
	if err := m.reg.SetDefaults(ctx, mc.Params); err != nil {
		return err
	}
	m.setLoaded(true)
	return nil
}

// unload deletes every bond as rmmod does and leaves the module unloaded.
// Unloading a module that is not loaded is ENOENT.
func (m *moduleState) unload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded.Load() {
		return syscall.ENOENT
	}
	m.setLoaded(false)
	err := m.reg.DeleteAllBonds(ctx)
	if m.rec != nil {
		m.rec.setModule(false, nil)
	}
	return err
}

// ctlRequest and ctlReply are one exchange on the control socket: one JSON
// object per line each way.
type ctlRequest struct {
	Op   string   `json:"op"`             // "load", "unload", "status" or "report"
	Args []string `json:"args,omitempty"` // load: module options; report: bond names (none: all)
}

type ctlReply struct {
	Loaded  bool   `json:"loaded"`            // the state after the request
	Already bool   `json:"already,omitempty"` // load: it was loaded before
	Errno   int    `json:"errno,omitempty"`   // 0 on success
	Error   string `json:"error,omitempty"`
	// Report is the answer to "report": the status document of
	// `bondingfs status --json`; Missing the names asked for that are no bond.
	Report  *status.Report `json:"report,omitempty"`
	Missing []string       `json:"missing,omitempty"`
}

// ctlServer serves the control socket of one daemon.
type ctlServer struct {
	ln   *net.UnixListener
	path string
	m    *moduleState
	snap func() *bond.Snapshot
	wg   sync.WaitGroup
}

// listenCtl listens on path. A socket file nobody answers on (left by a
// daemon that died) is replaced; a live one is EADDRINUSE.
func listenCtl(path string, m *moduleState, snap func() *bond.Snapshot) (*ctlServer, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another daemon serves it: %w", path, syscall.EADDRINUSE)
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	_ = os.Chmod(path, 0o600)
	ln.SetUnlinkOnClose(true)
	s := &ctlServer{ln: ln, path: path, m: m, snap: snap}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *ctlServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(c)
		}()
	}
}

// serve answers the requests of one connection; only root (or the
// daemon's own user) may send them (SO_PEERCRED), as only root may load a
// module.
func (s *ctlServer) serve(c *net.UnixConn) {
	defer c.Close()
	if !peerAllowed(c) {
		_ = json.NewEncoder(c).Encode(ctlReply{Loaded: s.m.Loaded(), Errno: int(syscall.EPERM), Error: syscall.EPERM.Error()})
		return
	}
	sc := bufio.NewScanner(c)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		rep := s.m.handle(sc.Bytes())
		var req ctlRequest
		if rep.Errno == int(syscall.EINVAL) && json.Unmarshal(sc.Bytes(), &req) == nil && req.Op == "report" && s.snap != nil {
			r, missing := status.FromSnapshot(s.snap(), bond.Caller{NetAdmin: true}, req.Args...)
			rep = ctlReply{Loaded: s.m.Loaded(), Report: &r, Missing: missing}
		}
		if enc.Encode(rep) != nil {
			return
		}
	}
}

// handle answers one request line (a JSON ctlRequest). A line that is not
// one, or an unknown op, is EINVAL.
func (m *moduleState) handle(line []byte) ctlReply {
	var req ctlRequest
	var rep ctlReply
	var err error
	if jerr := json.Unmarshal(line, &req); jerr != nil {
		err = syscall.EINVAL
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		switch req.Op {
		case "load":
			var r loadResult
			r, err = m.load(ctx, req.Args)
			rep.Already = r == loadAlready
		case "unload":
			err = m.unload(ctx)
		case "status":
		default:
			err = syscall.EINVAL
		}
		cancel()
	}
	rep.Loaded = m.Loaded()
	if err != nil {
		rep.Error = err.Error()
		rep.Errno = int(syscall.EIO)
		var en syscall.Errno
		if errors.As(err, &en) {
			rep.Errno = int(en)
		}
	}
	return rep
}

func peerAllowed(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	return err == nil && cred != nil && (cred.Uid == 0 || int(cred.Uid) == os.Geteuid())
}

// close stops accepting, removes the socket and waits for open requests.
func (s *ctlServer) close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

// ctlCall sends one request to the daemon at path and returns its reply.
func ctlCall(path string, req ctlRequest) (ctlReply, error) {
	var rep ctlReply
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return rep, err
	}
	sc := bufio.NewScanner(c)
	if !sc.Scan() {
		if sc.Err() != nil {
			return rep, sc.Err()
		}
		return rep, errors.New("control socket closed without a reply")
	}
	if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// sdNotify tells systemd (Type=notify) that the daemon is ready, when it
// was started by systemd.
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if addr[0] == '@' {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte(state))
}

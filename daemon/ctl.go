package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"bondingfs/bond"
	"bondingfs/status"
)

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
	// journal is the crash journal's health for report (nil: no journal).
	journal func() *status.Journal
	// idle is how long a connection may take to send a request (ctlIdle).
	idle time.Duration

	// ctx ends with close: requests under way are cancelled.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	conns  map[*net.UnixConn]struct{} // open connections, closed by close
	closed bool
	rtnl   rtnlSups // ctl_rtnl.go
}

// The control socket's deadlines: a client (root only) that sends nothing,
// or reads nothing, must not keep a connection, or the daemon's shutdown,
// waiting.
const (
	// ctlIdle is how long a connection may take to send its next request.
	ctlIdle = 10 * time.Second
	// ctlWrite bounds writing one reply.
	ctlWrite = 10 * time.Second
)

// listenCtl listens on path; start begins answering. A socket file nobody
// answers on (left by a daemon that died) is replaced; a live one is
// EADDRINUSE.
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
	ctx, cancel := context.WithCancel(context.Background())
	return &ctlServer{ln: ln, path: path, m: m, snap: snap, ctx: ctx, cancel: cancel, conns: map[*net.UnixConn]struct{}{}, idle: ctlIdle}, nil
}

// start answers the connections, the ones already queued on the bound
// socket first: a client that connected before start waits for its answer
// instead of failing.
func (s *ctlServer) start() {
	s.wg.Add(1)
	go s.accept()
}

func (s *ctlServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			s.serve(c)
		}()
	}
}

// track adds c to the open connections, unless close has begun.
func (s *ctlServer) track(c *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *ctlServer) untrack(c *net.UnixConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// serve answers the requests of one connection; only root (or the
// daemon's own user) may send them (SO_PEERCRED), as only root may load a
// module. Each request must arrive within ctlIdle of the connection's
// start or of the last reply, and each reply be read within ctlWrite.
func (s *ctlServer) serve(c *net.UnixConn) {
	defer c.Close()
	if !peerAllowed(c) {
		_ = c.SetWriteDeadline(time.Now().Add(ctlWrite))
		_ = json.NewEncoder(c).Encode(ctlReply{Loaded: s.m.Loaded(), Errno: int(syscall.EPERM), Error: syscall.EPERM.Error()})
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(s.idle))
	first, fds := readFirst(c)
	_ = c.SetWriteDeadline(time.Now().Add(ctlWrite))
	if s.serveRtnl(c, first, fds) {
		return
	}
	sc := bufio.NewScanner(io.MultiReader(bytes.NewReader(first), c))
	enc := json.NewEncoder(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(s.idle))
		if !sc.Scan() {
			return
		}
		rep := s.m.handle(s.ctx, sc.Bytes())
		var req ctlRequest
		if rep.Errno == int(syscall.EINVAL) && json.Unmarshal(sc.Bytes(), &req) == nil && req.Op == "report" && s.snap != nil {
			r, missing := status.FromSnapshot(s.snap(), bond.Caller{NetAdmin: true}, req.Args...)
			if s.journal != nil {
				r.Journal = s.journal()
			}
			rep = ctlReply{Loaded: s.m.Loaded(), Report: &r, Missing: missing}
		}
		_ = c.SetWriteDeadline(time.Now().Add(ctlWrite))
		if enc.Encode(rep) != nil {
			return
		}
	}
}

// handle answers one request line (a JSON ctlRequest), within 30 s and
// while base lasts. A line that is not one, or an unknown op, is EINVAL.
func (m *moduleState) handle(base context.Context, line []byte) ctlReply {
	var req ctlRequest
	var rep ctlReply
	var err error
	if jerr := json.Unmarshal(line, &req); jerr != nil {
		err = syscall.EINVAL
	} else {
		ctx, cancel := context.WithTimeout(base, 30*time.Second)
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

// close stops accepting, removes the socket, cancels the requests under
// way, closes every connection and waits for their goroutines. A second
// call does nothing.
func (s *ctlServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	_ = s.ln.Close()
	s.closeRtnl()
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

// Status is `bondingfs status [--json] [--root DIR | --ctl PATH] [BOND...]`:
// the state of the daemon at the control socket ctl (of bonds, or of every
// bond when it is empty), as the status package renders it, in text or
// with asJSON the documented JSON document. It returns the exit status: 1
// when the daemon cannot be reached or a named bond does not exist, else 0.
func Status(ctl string, asJSON bool, bonds []string, stdout, stderr io.Writer) int {
	rep, err := ctlCall(ctl, ctlRequest{Op: "report", Args: bonds})
	if err != nil {
		fmt.Fprintf(stderr, "bondingfs: status: no daemon at %s: %v\n", ctl, err)
		return 1
	}
	if rep.Errno != 0 || rep.Report == nil {
		fmt.Fprintf(stderr, "bondingfs: status: %s\n", orNoneErr(rep.Error))
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep.Report); err != nil {
			fmt.Fprintf(stderr, "bondingfs: status: %v\n", err)
			return 1
		}
	} else if err := status.WriteText(stdout, *rep.Report); err != nil {
		fmt.Fprintf(stderr, "bondingfs: status: %v\n", err)
		return 1
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(stderr, "bondingfs: status: %s: no such bond\n", m)
	}
	if len(rep.Missing) > 0 {
		return 1
	}
	return 0
}

func orNoneErr(s string) string {
	if s == "" {
		return "the daemon sent no report"
	}
	return s
}

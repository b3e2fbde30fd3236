package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
	"bondingfs/rtnl"
	"bondingfs/rtnl/supervisor"
)

// The "rtnl" request of the control socket: `bondingfs exec`'s __seccomp
// hop sends the seccomp listener of the process it is about to exec, as
// SCM_RIGHTS with the request line, and the daemon supervises it
// (rtnl/supervisor) with its own engine: the same option-write path as the
// FUSE files, the same snapshot. The supervisor lives until every process
// under that filter is gone, or the daemon stops; then their notified
// calls fail with ENOSYS (see README, "If the daemon dies").

// rtnlSups are the supervisors a control server runs.
type rtnlSups struct {
	mu   sync.Mutex
	sups map[*supervisor.Supervisor]struct{}
}

// readFirst reads the first request line of a connection together with
// the fds passed with it.
func readFirst(c *net.UnixConn) ([]byte, []int) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, nil
	}
	var fds []int
	if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, cm := range cms {
			if f, err := unix.ParseUnixRights(&cm); err == nil {
				fds = append(fds, f...)
			}
		}
	}
	return buf[:n], fds
}

// serveRtnl answers an "rtnl" request (first is its line, fds what came
// with it) and reports whether it was one; other fds are closed.
func (s *ctlServer) serveRtnl(c *net.UnixConn, first []byte, fds []int) bool {
	var req ctlRequest
	if json.Unmarshal(first, &req) != nil || req.Op != "rtnl" {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return false
	}
	enc := json.NewEncoder(c)
	eng, ok := s.m.reg.(*bond.Registry)
	if len(fds) != 1 || !ok {
		for _, fd := range fds {
			unix.Close(fd)
		}
		_ = enc.Encode(ctlReply{Loaded: s.m.Loaded(), Errno: int(syscall.EINVAL), Error: "rtnl: one seccomp listener expected"})
		return true
	}
	sup, err := supervisor.New(fds[0], supervisor.Config{
		Engine: moduleEngine{eng, s.m},
		Log:    func(l string) { fmt.Fprintln(os.Stderr, l) },
		Watch:  eng.Watch,
	})
	if err != nil {
		unix.Close(fds[0])
		_ = enc.Encode(ctlReply{Loaded: s.m.Loaded(), Errno: int(syscall.EIO), Error: err.Error()})
		return true
	}
	s.rtnl.mu.Lock()
	if s.rtnl.sups == nil {
		s.rtnl.sups = map[*supervisor.Supervisor]struct{}{}
	}
	s.rtnl.sups[sup] = struct{}{}
	s.rtnl.mu.Unlock()
	go func() {
		<-sup.Done()
		s.rtnl.mu.Lock()
		delete(s.rtnl.sups, sup)
		s.rtnl.mu.Unlock()
	}()
	_ = enc.Encode(ctlReply{Loaded: s.m.Loaded()})
	return true
}

// closeRtnl stops every supervisor (the daemon stops).
func (s *ctlServer) closeRtnl() {
	s.rtnl.mu.Lock()
	sups := make([]*supervisor.Supervisor, 0, len(s.rtnl.sups))
	for sup := range s.rtnl.sups {
		sups = append(sups, sup)
	}
	s.rtnl.mu.Unlock()
	for _, sup := range sups {
		sup.Close()
	}
}

// moduleEngine is the registry as the supervisor uses it: creating a bond
// over rtnetlink loads the module first, as the kernel's request_module
// of "rtnl-link-bond" does.
type moduleEngine struct {
	*bond.Registry
	m *moduleState
}

var _ rtnl.Engine = moduleEngine{}

func (e moduleEngine) NewLink(ctx context.Context, name string, opts []bond.LinkOption) (string, error) {
	if !e.m.Loaded() {
		if _, err := e.m.load(ctx, nil); err != nil {
			return "", err
		}
	}
	return e.Registry.NewLink(ctx, name, opts)
}

// sendRtnl hands listener to the daemon at ctl ("rtnl" request with
// SCM_RIGHTS) and waits for its answer.
func sendRtnl(ctl string, listener int) error {
	c, err := net.Dial("unix", ctl)
	if err != nil {
		return err
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	line, _ := json.Marshal(ctlRequest{Op: "rtnl"})
	if _, _, err := uc.WriteMsgUnix(append(line, '\n'), unix.UnixRights(listener), nil); err != nil {
		return err
	}
	var rep ctlReply
	if err := json.NewDecoder(uc).Decode(&rep); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if rep.Errno != 0 {
		return fmt.Errorf("%s", rep.Error)
	}
	return nil
}

package netdev

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

func TestCreateMaster(t *testing.T) {
	p := newPair(t)
	m, li, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	if li.Name != "bond0" || li.Kind != "tun" || !li.Ether || li.Carrier || li.Up {
		t.Errorf("LinkInfo = %+v", li)
	}
	if _, _, err := p.h.CreateMaster("bond0"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second CreateMaster(bond0) = %v, want EEXIST", err)
	}
	if _, _, err := p.h.CreateMaster("eth0"); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("CreateMaster(eth0) = %v, want EEXIST", err)
	}
	// TUNGETIFF reports the flags the TAP was created with.
	rc, _ := m.(*Tap).f.SyscallConn()
	var flags uint16
	rc.Control(func(fd uintptr) {
		ifr, _ := unix.NewIfreq("")
		if err := unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr); err != nil {
			t.Error(err)
		}
		flags = ifr.Uint16()
	})
	if want := uint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR); flags&want != want {
		t.Errorf("TUNGETIFF flags %#x, want %#x set", flags, want)
	}
	if out := p.a.Run(t, "ip", "-d", "link", "show", "bond0"); !strings.Contains(out, "vnet_hdr on") || !strings.Contains(out, "persist off") {
		t.Errorf("ip -d link show bond0:\n%s", out)
	}

	if err := p.h.SetLinkUp(li.Index, true); err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false, true} {
		if err := m.SetCarrier(on); err != nil {
			t.Fatal(err)
		}
		got, err := p.h.LinkByIndex(li.Index)
		if err != nil || got.Carrier != on {
			t.Errorf("after SetCarrier(%v): %+v, %v", on, got, err)
		}
	}
	if out := p.a.Run(t, "cat", "/sys/class/net/bond0/operstate"); strings.TrimSpace(out) != "up" {
		t.Errorf("operstate = %q, want up", out)
	}

	// A blocked ReadFrame returns os.ErrClosed when the master closes.
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		for {
			if _, err := m.ReadFrame(buf); err != nil {
				errc <- err
				return
			}
		}
	}()
	eventually(t, 2*time.Second, blockedIn("netdev.(*Tap).ReadFrame"), "the reader never blocked in ReadFrame")
	if err := p.h.DeleteMaster(m, li.Index); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after DeleteMaster = %v, want os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadFrame still blocked after DeleteMaster")
	}
	if _, err := p.h.LinkByName("bond0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("bond0 after DeleteMaster: %v, want ENODEV", err)
	}
	if err := m.SetCarrier(true); err == nil {
		t.Error("SetCarrier after close succeeded")
	}
}

// TestMasterDeletedFromOutside checks that "ip link del" removes the TAP
// while the daemon holds it, and what the holder then sees.
func TestMasterDeletedFromOutside(t *testing.T) {
	p := newPair(t)
	m, li, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, frameBuf)
		_, err := m.ReadFrame(buf)
		errc <- err
	}()
	eventually(t, 2*time.Second, blockedIn("netdev.(*Tap).ReadFrame"), "the reader never blocked in ReadFrame")
	p.a.Run(t, "ip", "link", "del", "bond0")
	select {
	case err := <-errc:
		if !errors.Is(err, syscall.EBADFD) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after ip link del = %v, want EBADFD and os.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("ReadFrame still blocked after ip link del")
	}
	if err := m.WriteFrame(make([]byte, bond.VnetHdrLen+60)); !errors.Is(err, syscall.EBADFD) || !errors.Is(err, os.ErrClosed) {
		t.Errorf("WriteFrame after ip link del = %v, want EBADFD", err)
	}
	if err := p.h.DeleteMaster(m, li.Index); err != nil {
		t.Errorf("DeleteMaster after ip link del: %v", err)
	}
}

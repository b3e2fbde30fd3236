package netdev

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"bondingfs/bond"
)

func TestLinkErrorsWrapENODEV(t *testing.T) {
	p := newPair(t)
	if _, err := p.h.LinkByName("nosuch0"); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("LinkByName(nosuch0) = %v, want ENODEV", err)
	}
	if _, err := p.h.LinkByIndex(99999); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("LinkByIndex(99999) = %v, want ENODEV", err)
	}
	if err := p.h.SetLinkUp(99999, true); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("SetLinkUp(99999) = %v, want ENODEV", err)
	}
	if _, _, err := p.h.Speed(99999); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("Speed(99999) = %v, want ENODEV", err)
	}
	if _, err := p.h.OpenSlaveDev(bond.LinkInfo{Index: 99999}); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("OpenSlaveDev(99999) = %v, want ENODEV", err)
	}
}

func TestLinkInfoAndSetters(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	if li.Kind != "veth" || !li.Up || !li.Carrier || !li.Ether || li.Loopback || li.MTU != 1500 || len(li.HWAddr) != 6 {
		t.Errorf("eth0 = %+v", li)
	}
	lo := p.link(t, "lo")
	if lo.Kind != "" || !lo.Loopback || lo.Ether {
		t.Errorf("lo = %+v", lo)
	}
	if err := p.h.SetMTU(li.Index, 1400); err != nil {
		t.Fatal(err)
	}
	if err := p.h.SetHWAddr(li.Index, testMAC); err != nil {
		t.Fatal(err)
	}
	if err := p.h.SetLinkUp(li.Index, false); err != nil {
		t.Fatal(err)
	}
	got := p.link(t, "eth0")
	if got.MTU != 1400 || !bytes.Equal(got.HWAddr, testMAC) || got.Up || got.Carrier {
		t.Errorf("after setters eth0 = %+v", got)
	}
	// The host namespace is untouched: no eth0 change leaks out.
	if out := p.a.Run(t, "ip", "link", "show", "eth0"); !strings.Contains(out, "mtu 1400") {
		t.Errorf("ip link show eth0 in ns: %s", out)
	}
}

func TestSpeed(t *testing.T) {
	p := newPair(t)
	li := p.link(t, "eth0")
	if mbps, dup, err := p.h.Speed(li.Index); err != nil || mbps != 10000 || dup != bond.DuplexFull {
		t.Errorf("Speed(veth) = %d, %d, %v; want 10000, full", mbps, dup, err)
	}
	lo := p.link(t, "lo")
	if mbps, dup, err := p.h.Speed(lo.Index); err != nil || mbps != bond.SpeedUnknown || dup != bond.DuplexUnknown {
		t.Errorf("Speed(lo) = %d, %d, %v; want unknown", mbps, dup, err)
	}
	m, tli, err := p.h.CreateMaster("bond0")
	if err != nil {
		t.Fatal(err)
	}
	defer p.h.DeleteMaster(m, tli.Index)
	mbps, dup, err := p.h.Speed(tli.Index)
	t.Logf("Speed(tap) = %d, %d, %v", mbps, dup, err)
	if err != nil {
		t.Error(err)
	}
}

// TestCurrentNamespace runs this test binary inside a test namespace and
// uses NewHost("") there, so the no-switch path never touches the host.
func TestCurrentNamespace(t *testing.T) {
	if os.Getenv("NETDEV_CHILD") == "1" {
		h, err := NewHost("")
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		m, li, err := h.CreateMaster("bond0")
		if err != nil {
			t.Fatal(err)
		}
		defer h.DeleteMaster(m, li.Index)
		eth0, err := h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		dev, err := h.OpenSlaveDev(eth0)
		if err != nil {
			t.Fatal(err)
		}
		dev.Close()
		if mbps, _, err := h.Speed(eth0.Index); err != nil || mbps != 10000 {
			t.Fatalf("Speed = %d, %v", mbps, err)
		}
		return
	}
	p := newPair(t)
	out, err := p.a.Exec("env", "NETDEV_CHILD=1", os.Args[0], "-test.run=^TestCurrentNamespace$", "-test.v")
	if err != nil || !strings.Contains(out, "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestThreadsStayHome checks that switching namespaces never leaves an
// unlocked thread of the process in a test namespace.
func TestThreadsStayHome(t *testing.T) {
	p := newPair(t)
	home, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, _, err := p.h.Speed(p.link(t, "eth0").Index); err != nil {
			t.Fatal(err)
		}
		dev, err := p.h.OpenSlaveDev(p.link(t, "eth0"))
		if err != nil {
			t.Fatal(err)
		}
		dev.Close()
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		ns, err := os.Readlink("/proc/self/task/" + task.Name() + "/ns/net")
		if err == nil && ns != home {
			t.Errorf("thread %s is in %s, not %s", task.Name(), ns, home)
		}
	}
}

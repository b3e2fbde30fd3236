package netdev

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"bondingfs/bond"
)

// subRcvBuf is the netlink receive buffer of a link subscription in bytes
// (SO_RCVBUFFORCE); a bigger buffer makes ENOBUFS overruns rarer. Tests
// shrink it to force overruns.
var subRcvBuf = 4 << 20

// subscription is one rtnetlink RTNLGRP_LINK socket.
type subscription struct {
	ch        chan netlink.LinkUpdate
	done      chan struct{}
	closeOnce sync.Once
}

// stop closes the socket and drains the channel so the library's receive
// goroutine, which may be blocked sending to it, can exit.
func (s *subscription) stop() {
	s.closeOnce.Do(func() { close(s.done) })
	for range s.ch {
	}
}

func (h *Host) subscribe(listExisting bool) (*subscription, error) {
	s := &subscription{ch: make(chan netlink.LinkUpdate, 64), done: make(chan struct{})}
	opts := netlink.LinkSubscribeOptions{
		// Errors that end the subscription (ENOBUFS, socket closed) also
		// close s.ch, which is what runLinks acts on; the others are
		// per-message and skipped.
		ErrorCallback:          func(error) {},
		ListExisting:           listExisting,
		ReceiveBufferSize:      subRcvBuf,
		ReceiveBufferForceSize: true,
	}
	if h.ns.fd >= 0 {
		ns := h.ns.handle()
		opts.Namespace = &ns
	}
	if err := netlink.LinkSubscribeWithOptions(s.ch, s.done, opts); err != nil {
		close(s.done)
		return nil, fmt.Errorf("netdev: subscribe to link events: %w", err)
	}
	return s, nil
}

// SubscribeLinks delivers every RTM_NEWLINK and RTM_DELLINK of the Host's
// namespace to fn as a bond.LinkEvent, in kernel order, from one goroutine,
// until ctx ends or the Host is closed. It returns once the netlink
// subscription is in place (existing links are not replayed). If the
// subscription fails — typically ENOBUFS when fn falls behind — it
// resubscribes with a full dump (ListExisting) and reports links that
// vanished meanwhile as Deleted, so no state is lost; events may then repeat.
func (h *Host) SubscribeLinks(ctx context.Context, fn func(bond.LinkEvent)) error {
	s, err := h.subscribe(false)
	if err != nil {
		return err
	}
	go h.runLinks(ctx, fn, s)
	return nil
}

func (h *Host) runLinks(ctx context.Context, fn func(bond.LinkEvent), s *subscription) {
	known := make(map[int]bond.LinkInfo) // links seen alive, for resync
	defer func() {
		if s != nil {
			s.stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.closed:
			return
		case u, ok := <-s.ch:
			if ok {
				ev := bond.LinkEvent{Link: linkInfo(u.Link), Deleted: u.Header.Type == unix.RTM_DELLINK}
				if ev.Deleted {
					delete(known, ev.Link.Index)
				} else {
					known[ev.Link.Index] = ev.Link
				}
				fn(ev)
				continue
			}
			s.stop()
			h.resubscribed.Add(1)
			s = h.resubscribe(ctx, fn, known)
			if s == nil {
				return
			}
		}
	}
}

// resubscribe opens a new subscription with a dump of all links and reports
// links in known that no longer exist as deleted. It retries every 100 ms
// and returns nil once ctx ends or the Host is closed.
func (h *Host) resubscribe(ctx context.Context, fn func(bond.LinkEvent), known map[int]bond.LinkInfo) *subscription {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		default:
		}
		s, err := h.subscribe(true)
		if err == nil {
			links, lerr := h.nl.LinkList()
			if lerr == nil {
				alive := make(map[int]bool, len(links))
				for _, l := range links {
					alive[l.Attrs().Index] = true
				}
				for idx, li := range known {
					if !alive[idx] {
						delete(known, idx)
						fn(bond.LinkEvent{Link: li, Deleted: true})
					}
				}
				return s
			}
			s.stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.closed:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

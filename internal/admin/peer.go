package admin

import (
	"context"
	"fmt"
	"net"
	"os/user"
	"strconv"
	"syscall"
)

// peer is who is at the other end of a unix socket connection, as the
// kernel tells it (SO_PEERCRED): not what the caller claims.
type peer struct {
	known    bool
	uid, pid int
}

type peerKey struct{}

// withPeer remembers the peer of each connection for the requests on it.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var p peer
	raw.Control(func(fd uintptr) {
		if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			p = peer{known: true, uid: int(cred.Uid), pid: int(cred.Pid)}
		}
	})
	return context.WithValue(ctx, peerKey{}, p)
}

func peerOf(ctx context.Context) peer {
	p, _ := ctx.Value(peerKey{}).(peer)
	return p
}

func (p peer) String() string {
	if !p.known {
		return "peer unknown"
	}
	return fmt.Sprintf("uid %d, pid %d", p.uid, p.pid)
}

// user names the peer's user, or its uid when it has no name.
func (p peer) user() string {
	if !p.known {
		return "unknown"
	}
	if u, err := user.LookupId(strconv.Itoa(p.uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(p.uid)
}

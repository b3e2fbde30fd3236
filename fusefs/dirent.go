package fusefs

import (
	"encoding/binary"
	"syscall"

	"golang.org/x/sys/unix"
)

// Real directories are listed with getdents64 alone: the entry's inode
// number and type come with its name, where os.ReadDir plus Info costs an
// lstat per entry (about 50 in a net device's directory, at every READDIR
// of it).

// dirent is one entry of a real directory: its name, inode number (d_ino,
// which sysfs gives as st_ino) and file type bits (S_IFDIR, S_IFLNK,
// S_IFREG, …; 0 when the filesystem did not say, DT_UNKNOWN).
type dirent struct {
	name string
	ino  uint64
	mode uint32
}

// readDirents lists directory dir (without "." and ".."). Errors are
// open(2)'s and getdents64(2)'s.
func readDirents(dir string) ([]dirent, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var es []dirent
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return es, nil
		}
		es = parseDirents(buf[:n], es)
	}
}

// parseDirents appends the entries of b, records of struct linux_dirent64
// (d_ino u64, d_off s64, d_reclen u16, d_type u8, NUL-terminated d_name),
// to es, leaving out "." and "..". It stops at the first malformed record.
func parseDirents(b []byte, es []dirent) []dirent {
	const head = 19 // d_ino, d_off, d_reclen, d_type
	for len(b) >= head {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < head || reclen > len(b) {
			break
		}
		rec := b[:reclen]
		b = b[reclen:]
		name := rec[head:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		es = append(es, dirent{name: string(name), ino: binary.NativeEndian.Uint64(rec[0:8]), mode: dtMode(rec[18])})
	}
	return es
}

// dtMode returns the file type bits of d_type t (0 for DT_UNKNOWN).
func dtMode(t uint8) uint32 {
	switch t {
	case unix.DT_DIR:
		return syscall.S_IFDIR
	case unix.DT_LNK:
		return syscall.S_IFLNK
	case unix.DT_REG:
		return syscall.S_IFREG
	case unix.DT_CHR:
		return syscall.S_IFCHR
	case unix.DT_BLK:
		return syscall.S_IFBLK
	case unix.DT_FIFO:
		return syscall.S_IFIFO
	case unix.DT_SOCK:
		return syscall.S_IFSOCK
	}
	return 0
}

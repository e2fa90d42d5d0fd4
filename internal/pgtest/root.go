package pgtest

import (
	"syscall"
)

// memoryRoot is where ForTests clusters keep their files when it is a
// tmpfs with room.
const memoryRoot = "/dev/shm"

// minMemoryFree is the room memoryRoot must have left for a cluster to go
// there. A database takes about 8 MB, and a package's clusters hold up to
// a few hundred of them (internal/links about 1.7 GB at its peak), with
// `go test` running packages side by side: a machine with less falls back
// to the disk rather than risk a full tmpfs failing tests.
const minMemoryFree = 6 << 30

// clusterRoot is the directory a new cluster's directory goes in: memory
// for a test cluster (opts.ForTests) when the machine has a tmpfs with
// room, /tmp otherwise. A test's databases are mostly file creation
// (CREATE DATABASE copies about a thousand files), which on a disk
// filesystem costs the kernel several times what it costs on a tmpfs.
func clusterRoot(opts Options) string {
	if !opts.ForTests {
		return "/tmp"
	}
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs(memoryRoot, &st); err != nil || st.Type != tmpfsMagic {
		return "/tmp"
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < minMemoryFree {
		return "/tmp"
	}
	if err := syscall.Access(memoryRoot, 2 /* W_OK */); err != nil {
		return "/tmp"
	}
	return memoryRoot
}

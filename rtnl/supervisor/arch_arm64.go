package supervisor

import "golang.org/x/sys/unix"

// auditArch is the AUDIT_ARCH_* of seccomp_data.arch for this build.
const auditArch = unix.AUDIT_ARCH_AARCH64

// Supported is true on the architectures the filter knows (x86-64, arm64).
const Supported = true

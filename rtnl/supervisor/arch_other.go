//go:build !amd64 && !arm64

package supervisor

// auditArch is unused here: Supported is false and exec runs CMD
// unsupervised.
const auditArch = 0

// Supported is true on the architectures the filter knows (x86-64, arm64).
const Supported = false

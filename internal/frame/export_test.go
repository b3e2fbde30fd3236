package frame

// InetChecksum exposes inetChecksum to the frame_test package.
var InetChecksum = inetChecksum

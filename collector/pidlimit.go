package collector

// MaxPID is the largest pid a Linux kernel gives: one below PID_MAX_LIMIT
// (4 Mi on a 64-bit kernel), the most kernel.pid_max can be set to, since
// pids stay below pid_max. A number above
// it names no process on any machine or in any record, so a command
// taking a pid refuses it as a usage error rather than looking for it
// (`show 99999999999` said "no such process"; tester14).
const MaxPID = 4*1024*1024 - 1

// ValidPID reports whether pid can be a process id: 1 to MaxPID.
func ValidPID(pid int) bool { return pid > 0 && pid <= MaxPID }

package dashboard

import (
	"strconv"
	"strings"
)

// signalNames are the Linux signal names by number (x86 and most
// architectures).
var signalNames = [...]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
	9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
	23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "IO",
	30: "PWR", 31: "SYS",
}

// signalSet names the signals in a /proc status mask (bit n-1 is signal n).
func signalSet(mask uint64) string {
	if mask == 0 {
		return "none"
	}
	var b strings.Builder
	for n := 1; n <= 64; n++ {
		if mask&(1<<(n-1)) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if n < len(signalNames) && signalNames[n] != "" {
			b.WriteString(signalNames[n])
		} else {
			b.WriteString("RT" + strconv.Itoa(n-32))
		}
	}
	return b.String()
}

// capNames are the capability names by bit (capability.h).
var capNames = [...]string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// capSet names the capabilities in a mask; a full set is "all".
func capSet(mask uint64) string {
	if mask == 0 {
		return "none"
	}
	full := uint64(1)<<len(capNames) - 1
	if mask&full == full {
		return "all (" + strconv.FormatUint(mask, 16) + ")"
	}
	var b strings.Builder
	for i := 0; i < 64; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if i < len(capNames) {
			b.WriteString(capNames[i])
		} else {
			b.WriteString("cap" + strconv.Itoa(i))
		}
	}
	return b.String()
}

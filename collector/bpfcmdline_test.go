package collector

// The tests of the cmdline program (TestBackendsAgree,
// TestIterScanHungProcess) run on machines of any size: the program is
// loaded whatever the process count.
func init() { bpfCmdlinesFrom = 0 }

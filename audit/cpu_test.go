package audit

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used. The
// benchmarks report it per record besides wall time: on a machine shared
// with other work, wall time counts the waits for a core too.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time since start per unit (units of them done)
// as cpu-ns/<name>.
func reportCPU(b *testing.B, start time.Duration, units int, name string) {
	b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(units), "cpu-ns/"+name)
}

package runtime

import (
	"os"
	"strconv"
	"strings"
	"sync"
)

// hostMemory is the machine's memory in bytes (MemTotal of /proc/meminfo),
// 0 where it is not known.
var hostMemory = sync.OnceValue(func() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest) // "131072000 kB"
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
})

// checkHostMemory refuses an allocation of n bytes larger than the
// machine's memory with an error naming both: the Go runtime would end the
// process ("fatal error: runtime: out of memory"), which no recover
// catches, and a REPL or notebook session would be lost.
func checkHostMemory(n int64) {
	if total := hostMemory(); total > 0 && n > total {
		panic(errorf("out of memory: a tensor of %s does not fit this machine's %s of memory", byteSize(n), byteSize(total)))
	}
}

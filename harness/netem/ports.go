package netem

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// lowestPort is where FreePort starts looking: well above the privileged and well-known ports.
const lowestPort = 10000

var (
	ephemeralOnce sync.Once
	ephemeralLow  = 32768
)

// ephemeralStart is the first port the kernel hands out to outgoing connections (ip_local_port_range).
func ephemeralStart() int {
	ephemeralOnce.Do(func() {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		if err != nil {
			return
		}
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lowestPort+1000 {
				ephemeralLow = n
			}
		}
	})
	return ephemeralLow
}

// FreePort returns a loopback TCP port that nothing listens on, chosen below the kernel's ephemeral range.
//
// Why not port 0: the harness gives up a listening port and takes it again while a run goes on (a node killed
// and restarted on its port, a proxy repointed at a promoted replica). A port from the ephemeral range can be
// handed, in that gap, to any outgoing connection on the machine as its local port — and under a fault the
// clients redial hundreds of times a second — after which listening on it fails with "address already in use".
// Ports below the ephemeral range are never given to outgoing connections.
func FreePort() (int, error) {
	hi := ephemeralStart()
	var lastErr error
	for range 64 {
		port := lowestPort + rand.IntN(hi-lowestPort)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			continue
		}
		_ = ln.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free loopback port below %d: %w", hi, lastErr)
}

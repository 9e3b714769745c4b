package main

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/taskmaster/taskmaster/fleet/wire"
)

// fleetPeer plays a bad fleet agent: it connects to a fleet manager over
// TLS (checking nothing), sends a garbage or an oversized frame, and
// prints the reason of the Bye it gets ("bye: REASON"), or why it got
// none; it exits 0 when a Bye came.
func fleetPeer(args []string) {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: testprog fleetpeer ADDR garbage|oversized")
		os.Exit(2)
	}
	var frame []byte
	switch args[1] {
	case "garbage":
		frame = append(binary.BigEndian.AppendUint32(nil, 4), 0xff, 0xff, 0xff, 0xff)
	case "oversized":
		frame = binary.BigEndian.AppendUint32(nil, 1<<20)
	default:
		fmt.Fprintln(os.Stderr, "testprog fleetpeer: unknown frame", args[1])
		os.Exit(2)
	}
	c, err := tls.Dial("tcp", args[0], &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		fmt.Println("no connection:", err)
		os.Exit(1)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(frame); err != nil {
		fmt.Println("write:", err)
		os.Exit(1)
	}
	m, err := wire.NewReader(c).Read()
	if err != nil || m.GetBye() == nil {
		fmt.Println("no bye:", m, err)
		os.Exit(1)
	}
	fmt.Println("bye:", m.GetBye().GetReason())
}

package fleet

import (
	"crypto/tls"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"net"
)

func tlsServerConn(nc net.Conn, cert tls.Certificate) net.Conn {
	tc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}})
	return tc
}

type fleetReq = fleetpb.DataRequest

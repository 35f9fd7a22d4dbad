//go:build !linux

package ingest

import "net"

// relayUDPSender writes one datagram at a time where sendmmsg is missing.
type relayUDPSender struct{ c *net.UDPConn }

func newRelayUDPSender(c *net.UDPConn, _ int) (relaySender, error) { return &relayUDPSender{c: c}, nil }

func (s *relayUDPSender) send(dgs []relayDatagram) (int, error) {
	for i, dg := range dgs {
		if _, err := s.c.Write(dg.b); err != nil {
			return i, err
		}
	}
	return len(dgs), nil
}

func (s *relayUDPSender) close() error { return s.c.Close() }

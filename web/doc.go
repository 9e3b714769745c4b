// Package web is taskmasterd's HTTP listener: the live link over
// WebSocket at /api/socket (package link), the dashboard at / (plain
// HTML, CSS and JavaScript embedded in the binary), Prometheus metrics at
// /metrics and a health probe at /healthz. It owns HTTP concerns only:
// who may connect, origins, tokens, limits; the operations and the state
// belong to the packages it is given.
package web

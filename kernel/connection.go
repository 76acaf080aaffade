package kernel

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
)

// ConnectionInfo is the content of a Jupyter connection file.
type ConnectionInfo struct {
	IP              string `json:"ip"`
	Transport       string `json:"transport"`
	ShellPort       int    `json:"shell_port"`
	ControlPort     int    `json:"control_port"`
	StdinPort       int    `json:"stdin_port"`
	IOPubPort       int    `json:"iopub_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name,omitempty"`
}

// ReadConnectionFile parses a connection file. A missing ip means 127.0.0.1 and a missing
// transport means tcp.
func ReadConnectionFile(path string) (ConnectionInfo, error) {
	var ci ConnectionInfo
	b, err := os.ReadFile(path)
	if err != nil {
		return ci, fmt.Errorf("kernel: read connection file: %w", err)
	}
	if err := json.Unmarshal(b, &ci); err != nil {
		return ci, fmt.Errorf("kernel: parse connection file %s: %w", path, err)
	}
	if ci.IP == "" {
		ci.IP = "127.0.0.1"
	}
	if ci.Transport == "" {
		ci.Transport = "tcp"
	}
	if ci.SignatureScheme == "" {
		ci.SignatureScheme = "hmac-sha256"
	}
	return ci, nil
}

// endpoint returns the ZeroMQ endpoint of a port: tcp://IP:PORT, or ipc://IP-PORT as Jupyter
// names ipc endpoints.
func (ci ConnectionInfo) endpoint(port int) (string, error) {
	switch ci.Transport {
	case "tcp":
		if port <= 0 {
			return "", fmt.Errorf("kernel: connection file lacks a port (got %d)", port)
		}
		ip := ci.IP
		if ip == "*" {
			ip = "0.0.0.0"
		}
		return "tcp://" + net.JoinHostPort(ip, strconv.Itoa(port)), nil
	case "ipc":
		return fmt.Sprintf("ipc://%s-%d", ci.IP, port), nil
	default:
		return "", fmt.Errorf("kernel: unsupported transport %q", ci.Transport)
	}
}

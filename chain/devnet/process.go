package devnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one client process with its log file, stopped by its PID.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string

	done    chan struct{}
	waitErr error
	mu      sync.Mutex
	stopped bool
}

// startProcess runs bin with args, stdout and stderr appended to logPath. An attached process gets SIGKILL
// from the kernel if this process dies first (a test binary killed by its timeout leaves nothing behind); a
// detached one runs in its own process group and outlives this process (deploy/devnet/start.sh).
func startProcess(name, bin string, args []string, logPath string, detached bool) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if detached {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process (by its PID), waits up to grace, then SIGKILLs it and waits up to 10 s more.
func (p *process) stop(grace time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	p.stopped = true
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.name, p.pid(), grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.pid())
	}
}

// tailFile returns the last n lines of a file (or a note why it cannot be read).
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	const maxRead = 256 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		_, _ = f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	raw, _ := io.ReadAll(f)
	raw = bytes.TrimRight(raw, "\n")
	lines := strings.Split(string(raw), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runLogged runs a short command to completion with its output in logPath; the error carries the log's tail.
func runLogged(name, bin string, args []string, logPath string, timeout time.Duration) error {
	p, err := startProcess(name, bin, args, logPath, false)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.stop(5 * time.Second)
		return fmt.Errorf("%s did not finish within %s:\n%s", name, timeout, tailFile(logPath, 30))
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w:\n%s", name, p.waitErr, tailFile(logPath, 30))
	}
	return nil
}

// freePorts reserves n distinct free TCP ports and, for the first udp of them, the same number on UDP, on
// 127.0.0.1. All listeners are held until every port is chosen, so the ports are distinct.
func freePorts(n, udp int) ([]int, error) {
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			_ = c.Close()
		}
	}()
	out := make([]int, 0, n)
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		closers = append(closers, l)
		port := l.Addr().(*net.TCPAddr).Port
		if len(out) < udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // taken on UDP: try another
			}
			closers = append(closers, u)
		}
		out = append(out, port)
	}
	return out, nil
}

// RepoRoot is the directory holding deploy/devnet/build.sh, searched from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "deploy", "devnet", "build.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repository: deploy/devnet/build.sh not found above the working directory")
		}
		dir = parent
	}
}

// Command rusage runs a command and writes its resource usage as JSON, for the benchmark harness:
//
//	rusage OUT.json CMD [ARG...]
//
// OUT.json gets {"exit":N,"signal":S,"user_s":U,"sys_s":S,"maxrss_kib":K} (wait4 rusage of CMD).
// It exists because ru_maxrss survives execve: a child forked by the harness (a Python process
// with oss2 loaded, ~50 MiB) inherits the harness's RSS as its high-water mark, which would hide
// any tool using less. This small process is the parent instead. SIGUSR1 kills CMD with SIGKILL
// (the harness's kill -9); SIGINT/SIGTERM are passed on.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rusage OUT.json CMD [ARG...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(127)
	}
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				s = syscall.SIGKILL
			}
			_ = cmd.Process.Signal(s)
		}
	}()
	_ = cmd.Wait() // a non-zero exit is reported, not an error here
	ps := cmd.ProcessState
	ru, _ := ps.SysUsage().(*syscall.Rusage)
	ws, _ := ps.Sys().(syscall.WaitStatus)
	out := map[string]any{"exit": ps.ExitCode(), "signal": 0}
	if ws.Signaled() {
		out["signal"] = int(ws.Signal())
	}
	if ru != nil {
		out["user_s"] = float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
		out["sys_s"] = float64(ru.Stime.Sec) + float64(ru.Stime.Usec)/1e6
		out["maxrss_kib"] = ru.Maxrss
	}
	raw, _ := json.Marshal(out)
	if err := os.WriteFile(os.Args[1], raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(125)
	}
	code := ps.ExitCode()
	if ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	os.Exit(code)
}

// Signals the Go runtime turns into language features: os/signal delivery of signals sent
// with kill/tgkill, nil dereferences (SIGSEGV) recovered as panics, deep recursion that grows
// goroutine stacks, SIGPIPE on a closed pipe as EPIPE, and an unrecovered panic's exit status 2.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"
)

type T struct{ a, b int }

//go:noinline
func deref(p *T) int { return p.b }

func nilPanic(id int) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprintf("%d recovered: %v", id, r)
		}
	}()
	var p *T
	return fmt.Sprint(deref(p))
}

func depth(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	if n == 0 {
		return int(pad[0])
	}
	return depth(n-1) + int(pad[n%64]&1)
}

func main() {
	runtime.GOMAXPROCS(4)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	pid := os.Getpid()
	for _, s := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGHUP, syscall.SIGUSR2} {
		syscall.Kill(pid, s)
		select {
		case got := <-ch:
			fmt.Println("got signal", got)
		case <-time.After(20 * time.Second):
			fmt.Println("timeout waiting for", s)
		}
	}
	signal.Stop(ch)

	// Nil dereferences on many goroutines at once.
	var wg sync.WaitGroup
	res := make([]string, 8)
	for i := range res {
		wg.Add(1)
		go func(i int) { defer wg.Done(); res[i] = nilPanic(i) }(i)
	}
	wg.Wait()
	for _, r := range res {
		fmt.Println(r)
	}

	// Stack growth: 20000 frames of ~100 bytes each, on several goroutines.
	out := make([]int, 4)
	for i := range out {
		wg.Add(1)
		go func(i int) { defer wg.Done(); out[i] = depth(20000 + i) }(i)
	}
	wg.Wait()
	fmt.Println("depth", out)

	// Writing to a pipe whose reader is closed: EPIPE (Go ignores SIGPIPE on non-stdio fds).
	r, w, _ := os.Pipe()
	r.Close()
	_, err := w.Write([]byte("x"))
	fmt.Println("pipe write:", err)

	// An unrecovered panic in a goroutine ends the process with status 2.
	go func() { panic("boom") }()
	time.Sleep(10 * time.Second)
	fmt.Println("not reached")
}

// Scheduler stress: GOMAXPROCS=4 with a spinning goroutine on every P (only signal-based
// preemption lets main, the timers and a stop-the-world GC through), a goroutine blocked in a
// raw read(2) on a blocking pipe while the others run, 1000 timers, sync.Cond broadcasts
// and atomics from 200 goroutines.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var stop int32

//go:noinline
func spin(id int, counts []uint64) {
	n := uint64(0)
	for atomic.LoadInt32(&stop) == 0 {
		n++
	}
	counts[id] = n
}

func main() {
	runtime.GOMAXPROCS(4)

	// A raw blocking read: the thread blocks in the kernel, its P is handed off.
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		fmt.Println("pipe:", err)
		os.Exit(1)
	}
	readDone := make(chan string)
	go func() {
		buf := make([]byte, 16)
		n, err := syscall.Read(fds[0], buf)
		readDone <- fmt.Sprintf("read %q %v", buf[:n], err)
	}()

	counts := make([]uint64, 4)
	var spinners sync.WaitGroup
	for i := 0; i < 4; i++ {
		spinners.Add(1)
		go func(i int) { defer spinners.Done(); spin(i, counts) }(i)
	}

	// 1000 timers firing while every P is busy spinning.
	var fired int64
	var tw sync.WaitGroup
	for i := 0; i < 1000; i++ {
		tw.Add(1)
		time.AfterFunc(time.Duration(i%50)*time.Millisecond, func() { atomic.AddInt64(&fired, 1); tw.Done() })
	}
	tw.Wait()
	fmt.Println("timers fired", atomic.LoadInt64(&fired))

	time.Sleep(30 * time.Millisecond)
	runtime.GC() // stop-the-world with four spinning goroutines
	fmt.Println("gc with spinners done")

	syscall.Write(fds[1], []byte("hello"))
	fmt.Println(<-readDone)

	// sync.Cond: 200 waiters released by one broadcast.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	ready, woke := 0, int64(0)
	var cw sync.WaitGroup
	for i := 0; i < 200; i++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			mu.Lock()
			ready++
			for ready >= 0 {
				cond.Wait()
			}
			mu.Unlock()
			atomic.AddInt64(&woke, 1)
		}()
	}
	for {
		mu.Lock()
		r := ready
		mu.Unlock()
		if r == 200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	ready = -1
	cond.Broadcast()
	mu.Unlock()
	cw.Wait()
	fmt.Println("cond woke", woke)

	atomic.StoreInt32(&stop, 1)
	spinners.Wait()
	all := true
	for _, c := range counts {
		all = all && c > 0
	}
	fmt.Println("spinners all ran", all)
}

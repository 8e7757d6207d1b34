// Asynchronous preemption: with GOMAXPROCS=1 a goroutine spinning in a loop without function
// calls only lets main run again if the runtime can preempt it with a signal (SIGURG).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var sink uint64

func spin(stop *int32) {
	x := uint64(0)
	for atomic.LoadInt32(stop) == 0 {
		x++
	}
	sink = x
}

//go:noinline
func tight(n *uint64) {
	for {
		*n++
	}
}

// Floating-point work without calls, so preemption lands mid-loop: registers (FP included)
// must survive the signal frame and asyncPreempt's save/restore.
//
//go:noinline
func fpLoop(seed float64, n int, out *float64, wg *sync.WaitGroup) {
	f, g := seed, 1.0/seed
	for i := 0; i < n; i++ {
		f = f*1.0000001 + g
		g = g*0.9999999 - 1e-9*f
	}
	*out = f + g
	wg.Done()
}

func main() {
	runtime.GOMAXPROCS(1)
	var stop int32
	go spin(&stop)
	var n uint64
	go tight(&n)
	runtime.Gosched()
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond)
		fmt.Println("main ran", i)
	}
	atomic.StoreInt32(&stop, 1)
	// A stop-the-world GC must preempt the spinning goroutine too.
	runtime.GC()
	fmt.Println("gc done")
	t0 := time.Now()
	done := make(chan bool)
	go func() {
		time.Sleep(10 * time.Millisecond)
		done <- true
	}()
	<-done
	fmt.Println("sleep ok", time.Since(t0) >= 10*time.Millisecond)

	var wg sync.WaitGroup
	res := make([]float64, 3)
	for i := range res {
		wg.Add(1)
		go fpLoop(float64(i+2), 1_000_000, &res[i], &wg)
	}
	wg.Wait()
	fmt.Printf("fp %.10g %.10g %.10g\n", res[0], res[1], res[2])
	os.Exit(0)
}

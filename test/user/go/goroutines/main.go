// Goroutines across GOMAXPROCS=4 threads: channel ping-pong, WaitGroup/Mutex work, timers,
// a GC-heavy allocation loop, file I/O in a temp dir and a TCP loopback echo. Deterministic output.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func pingPong(pairs, rounds int) int {
	var wg sync.WaitGroup
	var total int64
	for i := 0; i < pairs; i++ {
		a, b := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				a <- r
				v := <-b
				atomic.AddInt64(&total, int64(v))
			}
			close(a)
		}()
		go func() {
			defer wg.Done()
			for v := range a {
				b <- v + 1
			}
		}()
	}
	wg.Wait()
	return int(total)
}

func mutexWork(workers, iters int) (int, int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	seen := map[int]int{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				mu.Lock()
				counter++
				seen[w]++
				mu.Unlock()
				if i%50 == 0 {
					runtime.Gosched()
				}
			}
		}(w)
	}
	wg.Wait()
	return counter, len(seen)
}

func timers() string {
	start := time.Now()
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range []int{30, 10, 20} {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			// Deadlines from one start, 100 ms apart: the order holds even when a goroutine
			// starts late (a JIT translating every block pauses for tens of ms).
			time.Sleep(time.Until(start.Add(time.Duration(d) * 10 * time.Millisecond)))
			mu.Lock()
			order = append(order, fmt.Sprint(d))
			mu.Unlock()
		}(d)
	}
	t := time.NewTimer(20 * time.Millisecond)
	<-t.C
	tick := time.NewTicker(5 * time.Millisecond)
	n := 0
	for range tick.C {
		n++
		if n == 3 {
			break
		}
	}
	tick.Stop()
	select {
	case <-time.After(10 * time.Millisecond):
	}
	wg.Wait()
	el := time.Since(start)
	ok := el >= 300*time.Millisecond && el < 20*time.Second
	return fmt.Sprintf("order=%s ticks=%d elapsed-ok=%v", strings.Join(order, ","), n, ok)
}

type node struct {
	next *node
	buf  []byte
}

func gcHeavy() (int, bool) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	keep := 0
	for round := 0; round < 40; round++ {
		var head *node
		for i := 0; i < 2000; i++ {
			head = &node{next: head, buf: make([]byte, 64+i%512)}
		}
		for n := head; n != nil; n = n.next {
			keep += len(n.buf) & 1
		}
		if round%10 == 0 {
			runtime.GC()
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return keep, after.NumGC > before.NumGC
}

func files() string {
	dir, err := os.MkdirTemp("", "rvisor-go-")
	if err != nil {
		return "mkdtemp: " + err.Error()
	}
	defer os.RemoveAll(dir)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			p := filepath.Join(dir, fmt.Sprintf("f%d.txt", i))
			os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1000+i)), 0o644)
		}(i)
	}
	wg.Wait()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "readdir: " + err.Error()
	}
	var names []string
	sum := 0
	for _, e := range ents {
		names = append(names, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "read: " + err.Error()
		}
		sum += len(b)
	}
	sort.Strings(names)
	return fmt.Sprintf("files=%d bytes=%d first=%s last=%s", len(names), sum, names[0], names[len(names)-1])
}

func tcp() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "listen: " + err.Error()
	}
	var server sync.WaitGroup
	server.Add(1)
	go func() {
		defer server.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			server.Add(1)
			go func(c net.Conn) {
				defer server.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(strings.ToUpper(line)))
				}
			}(c)
		}
	}()
	var wg sync.WaitGroup
	res := make([]string, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				res[i] = "dial: " + err.Error()
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			var got []string
			for j := 0; j < 3; j++ {
				fmt.Fprintf(c, "client %d msg %d\n", i, j)
				line, err := r.ReadString('\n')
				if err != nil {
					res[i] = "read: " + err.Error()
					return
				}
				got = append(got, strings.TrimSpace(line))
			}
			res[i] = strings.Join(got, "|")
		}(i)
	}
	wg.Wait()
	ln.Close() // ends the accept loop; the handlers end at their client's EOF
	server.Wait()
	return strings.Join(res, "\n")
}

func main() {
	runtime.GOMAXPROCS(4)
	fmt.Println("pingpong", pingPong(100, 50))
	c, w := mutexWork(50, 400)
	fmt.Println("mutex", c, w)
	fmt.Println("timers", timers())
	k, gc := gcHeavy()
	fmt.Println("gc", k, gc)
	fmt.Println(files())
	fmt.Println(tcp())
	// Whether a runtime helper goroutine has exited yet is timing-dependent (1 or 2 left on
	// both QEMU and rvisor); what must hold is that none of the 200+ workers leaked.
	fmt.Println("goroutines-leaked", runtime.NumGoroutine() > 2)
	os.Exit(3)
}

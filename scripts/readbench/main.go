// Command readbench measures what reading files through the bondingfs
// mount costs, as cat does it (open, read to EOF, close) but without the
// fork and exec that would dwarf it: scripts/bench.sh runs it for the
// "reads that scale" figures (docs/benchmarks.md).
//
//	readbench -n N FILE      N reads of FILE: prints "median p99" in ms
//	readbench -reps R FILE…  R passes over every FILE, each timed whole:
//	                         prints "min median max" of the passes in ms
//
// The Go runtime's asynchronous preemption signals would interrupt FUSE
// requests (FUSE_INTERRUPT) and count against the filesystem; they are off
// (GODEBUG=asyncpreemptoff=1, set by bench.sh), as cat has no such signals.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

func main() {
	n := flag.Int("n", 0, "reads of the one FILE")
	reps := flag.Int("reps", 0, "passes over every FILE")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 || (*n > 0) == (*reps > 0) || (*n > 0 && len(files) != 1) {
		fmt.Fprintln(os.Stderr, "usage: readbench -n N FILE | readbench -reps R FILE...")
		os.Exit(2)
	}
	buf := make([]byte, 64<<10)
	read := func(path string) {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "readbench:", err)
			os.Exit(1)
		}
		for {
			_, err := f.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "readbench:", path, err)
				os.Exit(1)
			}
		}
		f.Close()
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	if *n > 0 {
		ds := make([]time.Duration, *n)
		for i := range ds {
			t0 := time.Now()
			read(files[0])
			ds[i] = time.Since(t0)
		}
		slices.Sort(ds)
		fmt.Printf("%.3f %.3f\n", ms(ds[len(ds)/2]), ms(ds[(len(ds)*99+99)/100-1]))
		return
	}
	ds := make([]time.Duration, *reps)
	for i := range ds {
		t0 := time.Now()
		for _, f := range files {
			read(f)
		}
		ds[i] = time.Since(t0)
	}
	slices.Sort(ds)
	fmt.Printf("%.1f %.1f %.1f\n", ms(ds[0]), ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
}

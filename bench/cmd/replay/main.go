// Command replay replays a Standard Workload Format trace through the
// fleet loop's planner and two baselines and prints a Markdown table.
//
//	go run ./bench/cmd/replay -trace bench/testdata/NASA-iPSC-1993-3.1-cln.swf.gz
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/driftless/driftless/bench"
	"github.com/driftless/driftless/pkg/scale"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	trace := fs.String("trace", "bench/testdata/NASA-iPSC-1993-3.1-cln.swf.gz", "SWF trace, optionally gzip-compressed")
	var opt bench.Options
	fs.DurationVar(&opt.BootDelay, "boot", 5*time.Minute, "node boot delay")
	fs.DurationVar(&opt.Interval, "interval", time.Minute, "how often ParallelCluster 2.x's jobwatcher and nodewatchers look")
	fs.DurationVar(&opt.LoopInterval, "loop-interval", scale.DefaultInterval, "how often Driftless's fleet loop looks (the daemon's fleet.interval)")
	fs.BoolVar(&opt.NoWake, "no-wake", false, "Driftless looks only every loop interval, not also at idle deadlines")
	fs.DurationVar(&opt.IdleTime, "idle", 10*time.Minute, "idle time before a node is retired")
	fs.IntVar(&opt.Max, "max", 0, "maximum nodes (default: the trace's MaxNodes)")
	fs.IntVar(&opt.Min, "min", 0, "minimum nodes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := bench.LoadSWF(*trace)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rs := bench.Compare(t, opt)
	wake := "and at idle deadlines"
	if opt.NoWake {
		wake = "only"
	}
	fmt.Fprintf(stdout, "%s: %d jobs, max %d nodes, boot %v, idle %v; ParallelCluster looks every %v, Driftless every %v %s\n\n",
		*trace, rs[0].Jobs, max(opt.Max, t.MaxNodes), opt.BootDelay, opt.IdleTime, opt.Interval, opt.LoopInterval, wake)
	fmt.Fprint(stdout, bench.Table(rs))
	return nil
}

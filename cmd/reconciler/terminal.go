package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// The operator's commands (list, status, instances, ssh, batch,
// configure) share this: colour only on a terminal, aligned tables, and
// a status line that rewrites itself while something is waited for.

// isTerminal reports whether f (an io.Reader or io.Writer) is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// colorOn decides colour for w from --color (auto, always, never): auto
// colours a terminal unless $NO_COLOR is set or $TERM is dumb.
func colorOn(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("--color must be auto, always or never, got %q", mode)
}

// Colours, by meaning.
const (
	colorNone   = ""
	colorGood   = "32" // green
	colorWarn   = "33" // yellow
	colorBad    = "31" // red
	colorFaint  = "2"
	colorHeader = "1"
)

// paint wraps s in an ANSI colour when on is set.
func paint(on bool, code, s string) string {
	if !on || code == "" || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// conditionColor colours a cluster's condition or a job's status.
func conditionColor(s string) string {
	switch s {
	case "Ready", "Synced", "SUCCEEDED", "running", "ACTIVE", "VALID", "ENABLED", "InService":
		return colorGood
	case "Reconciling", "OutOfSync", "NotCreated", "Busy", "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "pending", "stopping":
		return colorWarn
	case "Blocked", "Stalled", "Failed", "InvalidSpec", "FAILED", "stopped", "shutting-down", "INVALID", "DISABLED":
		return colorBad
	}
	return colorNone
}

// cell is one table cell: its text and the colour it is shown in.
type cell struct {
	text  string
	color string
}

// table prints aligned columns. The padding is computed on the text
// alone, so colour codes never shift a column.
type table struct {
	header []string
	rows   [][]cell
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, color bool) error {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
			}
		}
	}
	var b strings.Builder
	line := func(cells []cell) {
		for i, c := range cells {
			text := c.text
			if text == "" {
				text = "-"
			}
			b.WriteString(paint(color, c.color, text))
			if i < len(cells)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(text)+2))
			}
		}
		b.WriteByte('\n')
	}
	head := make([]cell, len(t.header))
	for i, h := range t.header {
		head[i] = cell{h, colorHeader}
	}
	line(head)
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// plain is a cell without colour.
func plain(s string) cell { return cell{text: s} }

// status is a cell coloured by its meaning.
func status(s string) cell { return cell{text: s, color: conditionColor(s)} }

// progress shows what a command is waiting for. On a terminal it is one
// line rewritten in place; elsewhere (a log, a pipe) each change is its
// own line, so nothing is lost and nothing repeats. quiet turns it off.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	last  string
	open  bool
	erase bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	return &progress{w: w, tty: isTerminal(w), quiet: quiet}
}

// update shows msg if it differs from the last one shown.
func (p *progress) update(msg string) {
	if p.quiet || msg == p.last {
		return
	}
	p.last = msg
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", msg)
		p.open = true
		return
	}
	fmt.Fprintln(p.w, msg)
}

// transient shows msg on a terminal only, to be cleared by done: a
// short wait (reading AWS) that is not worth a line in a log.
func (p *progress) transient(msg string) {
	if p.quiet || !p.tty {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", msg)
	p.last, p.open, p.erase = msg, true, true
}

// done ends the status line; a transient one is erased.
func (p *progress) done() {
	switch {
	case p.open && p.erase:
		fmt.Fprint(p.w, "\r\x1b[K")
	case p.open:
		fmt.Fprintln(p.w)
	}
	p.open, p.erase = false, false
}

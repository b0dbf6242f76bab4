package faults

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Call is one request the proxy saw.
type Call struct {
	// Service is the signing name from the Authorization header:
	// cloudformation, autoscaling, ec2.
	Service string
	// Action is the API operation, e.g. CreateStack.
	Action string
	// Stack is the stack or group the call names: StackName (an ARN is
	// reduced to the stack's name) or AutoScalingGroupName. Empty for
	// calls that name none.
	Stack string
	// Form is the whole request.
	Form url.Values
}

// Fault is one kind of failure injected into matching calls.
type Fault struct {
	// Actions the fault applies to; empty means every action.
	Actions []string
	// Stack limits the fault to calls naming this stack or group.
	Stack string
	// Share is the probability that a matching call is hit; 0 hits every
	// matching call.
	Share float64
	// Count stops the fault after this many hits; 0 never stops it.
	Count int
	// Status, Code and Message make the error answer.
	Status  int
	Code    string
	Message string
	// After forwards the call to moto first and fails only its answer,
	// as when a response is lost on the way back: the change is made,
	// the caller hears an error and retries.
	After bool

	hits int
}

// Throttling is AWS's answer to a caller over its request rate.
func Throttling() Fault {
	return Fault{Status: http.StatusBadRequest, Code: "Throttling", Message: "Rate exceeded"}
}

// ServerError is an internal failure on AWS's side.
func ServerError() Fault {
	return Fault{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: "We encountered an internal error. Please try again."}
}

// ExpiredToken is the answer to a call signed with expired temporary
// credentials.
func ExpiredToken() Fault {
	return Fault{Status: http.StatusForbidden, Code: "ExpiredToken", Message: "The security token included in the request is expired"}
}

// AccessDenied is the answer to a call the caller's IAM policy does not
// allow.
func AccessDenied() Fault {
	return Fault{Status: http.StatusForbidden, Code: "AccessDenied",
		Message: "User: arn:aws:iam::123456789012:user/driftless is not authorized to perform this action"}
}

// Event is a synthetic stack event, newest added shown first.
type Event struct {
	Resource string // logical id; the stack's own name for a stack event
	Type     string // e.g. AWS::EC2::Instance; AWS::CloudFormation::Stack for the stack
	Status   string
	Reason   string

	id   string
	time time.Time
}

// Answer is a reply the proxy gives itself instead of forwarding.
type Answer struct {
	Status int
	Body   string
}

// Proxy is a running fault-injecting proxy. Make one with Start.
type Proxy struct {
	// URL is the proxy's base URL, to use as the SDK's BaseEndpoint.
	URL string

	upstream *url.URL
	rp       *httputil.ReverseProxy

	mu        sync.Mutex
	rnd       *rand.Rand
	faults    []*Fault
	statuses  map[string][2]string // stack name → status, reason
	events    map[string][]Event   // stack name → events, oldest first
	answers   map[string]func(Call) Answer
	observers []func(Call)
	requests  map[[2]string]int // (action, stack) → calls seen
	forwarded map[[2]string]int // (action, stack) → calls that reached moto
	seq       int
}

// Start runs a proxy in front of upstream (moto's endpoint) on a free
// 127.0.0.1 port until the test ends. seed makes the random share of
// faults repeatable for one order of calls.
func Start(t testing.TB, upstream string, seed uint64) *Proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("faults: upstream %q: %v", upstream, err)
	}
	p := &Proxy{
		upstream:  u,
		rnd:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		statuses:  map[string][2]string{},
		events:    map[string][]Event{},
		answers:   map[string]func(Call) Answer{},
		requests:  map[[2]string]int{},
		forwarded: map[[2]string]int{},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
			// Plain bodies, so answers can be rewritten.
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: p.modify,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faults: listen: %v", err)
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	p.URL = "http://" + l.Addr().String()
	return p
}

// Inject adds a fault; the returned function removes it. Faults are tried
// in the order they were added, and the first that hits answers the call.
func (p *Proxy) Inject(f Fault) (remove func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fp := &f
	p.faults = append(p.faults, fp)
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.faults = slices.DeleteFunc(p.faults, func(x *Fault) bool { return x == fp })
	}
}

// Hits returns how many calls the faults injected so far have failed.
func (p *Proxy) Hits() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.faults {
		n += f.hits
	}
	return n
}

// SetStatus makes DescribeStacks report status, with reason, for the
// stack named name, whatever moto holds, until ClearStatus.
func (p *Proxy) SetStatus(name, status, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.statuses[name] = [2]string{status, reason}
}

// ClearStatus lets moto's own status of the stack show again.
func (p *Proxy) ClearStatus(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.statuses, name)
}

// AddEvents adds events to the stack's history, newer than any before;
// DescribeStackEvents shows them ahead of moto's own.
func (p *Proxy) AddEvents(name string, evs ...Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range evs {
		p.seq++
		e.id = fmt.Sprintf("faults-%d", p.seq)
		e.time = time.Now().UTC().Add(time.Duration(p.seq) * time.Millisecond)
		p.events[name] = append(p.events[name], e)
	}
}

// Handle answers every call of action with fn instead of forwarding it,
// for calls moto does not implement.
func (p *Proxy) Handle(action string, fn func(Call) Answer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[action] = fn
}

// OnCall registers fn to see every call before it is answered; fn may
// change the proxy's state (clear a status when a DeleteStack arrives).
func (p *Proxy) OnCall(fn func(Call)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observers = append(p.observers, fn)
}

// Requests counts the calls of action naming stack that reached the
// proxy, faulted or not; an empty stack counts every call of action.
func (p *Proxy) Requests(action, stack string) int { return p.count(p.requests, action, stack) }

// Forwarded counts the calls of action naming stack that reached moto.
func (p *Proxy) Forwarded(action, stack string) int { return p.count(p.forwarded, action, stack) }

func (p *Proxy) count(m map[[2]string]int, action, stack string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if stack != "" {
		return m[[2]string{action, stack}]
	}
	n := 0
	for k, v := range m {
		if k[0] == action {
			n += v
		}
	}
	return n
}

// EmptyResult is the body of a successful query-protocol answer that
// carries no data, e.g. for ContinueUpdateRollback.
func EmptyResult(action string) Answer {
	return Answer{Status: http.StatusOK, Body: fmt.Sprintf(
		`<%[1]sResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><%[1]sResult/>`+
			`<ResponseMetadata><RequestId>faults</RequestId></ResponseMetadata></%[1]sResponse>`, action)}
}

// ServeHTTP answers one call: with a fault, with a handler's answer, or
// with moto's, rewritten.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, _ := url.ParseQuery(string(body))
	for k, vs := range r.URL.Query() {
		form[k] = append(form[k], vs...)
	}
	c := Call{Service: service(r), Action: form.Get("Action"), Stack: stackOf(form), Form: form}

	p.mu.Lock()
	observers := slices.Clone(p.observers)
	p.mu.Unlock()
	for _, fn := range observers {
		fn(c)
	}

	p.mu.Lock()
	p.requests[[2]string{c.Action, c.Stack}]++
	fault := p.pick(c)
	answer := p.answers[c.Action]
	p.mu.Unlock()

	if fault != nil && !fault.After {
		writeError(w, c.Service, fault)
		return
	}
	if answer != nil {
		a := answer(c)
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(a.Status)
		_, _ = io.WriteString(w, a.Body)
		return
	}
	p.mu.Lock()
	p.forwarded[[2]string{c.Action, c.Stack}]++
	p.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if fault != nil {
		// Forward, then lose the answer.
		rec := &discard{header: http.Header{}}
		p.rp.ServeHTTP(rec, r.WithContext(withCall(r.Context(), c)))
		writeError(w, c.Service, fault)
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(withCall(r.Context(), c)))
}

// pick returns the first fault that hits c, counting the hit. p.mu is held.
func (p *Proxy) pick(c Call) *Fault {
	for _, f := range p.faults {
		if len(f.Actions) > 0 && !slices.Contains(f.Actions, c.Action) {
			continue
		}
		if f.Stack != "" && f.Stack != c.Stack {
			continue
		}
		if f.Count > 0 && f.hits >= f.Count {
			continue
		}
		if f.Share > 0 && p.rnd.Float64() >= f.Share {
			continue
		}
		f.hits++
		cp := *f
		return &cp
	}
	return nil
}

// modify rewrites moto's answers: stack statuses and events.
func (p *Proxy) modify(resp *http.Response) error {
	c, ok := callFrom(resp.Request.Context())
	if !ok || resp.StatusCode != http.StatusOK || (c.Action != "DescribeStacks" && c.Action != "DescribeStackEvents") {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	p.mu.Lock()
	switch c.Action {
	case "DescribeStacks":
		for name, st := range p.statuses {
			body = rewriteStatus(body, name, st[0], st[1])
		}
	case "DescribeStackEvents":
		if c.Form.Get("NextToken") == "" {
			body = injectEvents(body, c.Stack, p.events[c.Stack])
		}
	}
	p.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// rewriteStatus replaces the StackStatus (and StackStatusReason) of every
// stack named name in a DescribeStacks answer. moto writes each stack's
// StackName before its StackStatus, and the reason right after it.
func rewriteStatus(body []byte, name, status, reason string) []byte {
	s := string(body)
	tag := "<StackName>" + html.EscapeString(name) + "</StackName>"
	var out strings.Builder
	for {
		i := strings.Index(s, tag)
		if i < 0 {
			out.WriteString(s)
			return []byte(out.String())
		}
		j := strings.Index(s[i:], "<StackStatus>")
		k := strings.Index(s[i:], "</StackStatus>")
		if j < 0 || k < 0 {
			out.WriteString(s)
			return []byte(out.String())
		}
		j, k = i+j, i+k
		out.WriteString(s[:j])
		out.WriteString("<StackStatus>" + html.EscapeString(status) + "</StackStatus>")
		rest := s[k+len("</StackStatus>"):]
		if strings.HasPrefix(rest, "<StackStatusReason>") {
			if e := strings.Index(rest, "</StackStatusReason>"); e >= 0 {
				rest = rest[e+len("</StackStatusReason>"):]
			}
		}
		if reason != "" {
			out.WriteString("<StackStatusReason>" + html.EscapeString(reason) + "</StackStatusReason>")
		}
		s = rest
	}
}

// injectEvents puts evs, newest first, ahead of moto's events.
func injectEvents(body []byte, stack string, evs []Event) []byte {
	if len(evs) == 0 {
		return body
	}
	s := string(body)
	id := stackIDIn(s, stack)
	var b strings.Builder
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		physical := "phys-" + e.Resource
		if e.Type == "AWS::CloudFormation::Stack" {
			physical = id
		}
		fmt.Fprintf(&b, "<member><StackId>%s</StackId><EventId>%s</EventId><StackName>%s</StackName>"+
			"<LogicalResourceId>%s</LogicalResourceId><PhysicalResourceId>%s</PhysicalResourceId>"+
			"<ResourceType>%s</ResourceType><Timestamp>%s</Timestamp><ResourceStatus>%s</ResourceStatus>",
			html.EscapeString(id), e.id, html.EscapeString(stack), html.EscapeString(e.Resource), html.EscapeString(physical),
			html.EscapeString(e.Type), e.time.Format(time.RFC3339Nano), html.EscapeString(e.Status))
		if e.Reason != "" {
			fmt.Fprintf(&b, "<ResourceStatusReason>%s</ResourceStatusReason>", html.EscapeString(e.Reason))
		}
		b.WriteString("</member>")
	}
	if i := strings.Index(s, "<StackEvents>"); i >= 0 {
		i += len("<StackEvents>")
		return []byte(s[:i] + b.String() + s[i:])
	}
	return []byte(strings.Replace(s, "<StackEvents/>", "<StackEvents>"+b.String()+"</StackEvents>", 1))
}

// stackIDIn finds the stack's id in moto's answer, for the synthetic
// events to carry; a made-up one when moto listed no event.
func stackIDIn(s, stack string) string {
	const open, close = "<StackId>", "</StackId>"
	if i := strings.Index(s, open); i >= 0 {
		if j := strings.Index(s[i:], close); j >= 0 {
			return html.UnescapeString(s[i+len(open) : i+j])
		}
	}
	return "arn:aws:cloudformation:us-east-1:123456789012:stack/" + stack + "/faults"
}

func writeError(w http.ResponseWriter, service string, f *Fault) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(f.Status)
	code, msg := html.EscapeString(f.Code), html.EscapeString(f.Message)
	if service == "ec2" {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>faults</RequestID></Response>`, code, msg)
		return
	}
	typ := "Sender"
	if f.Status >= 500 {
		typ = "Receiver"
	}
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>faults</RequestId></ErrorResponse>`, typ, code, msg)
}

// service reads the signing name from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...".
func service(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	i := strings.Index(auth, "Credential=")
	if i < 0 {
		return ""
	}
	cred := auth[i+len("Credential="):]
	if j := strings.IndexByte(cred, ','); j >= 0 {
		cred = cred[:j]
	}
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// stackOf names what a call acts on: the stack (by name, even when the
// call gives its ARN) or the Auto Scaling group.
func stackOf(form url.Values) string {
	if s := form.Get("StackName"); s != "" {
		if strings.HasPrefix(s, "arn:") {
			if i := strings.Index(s, ":stack/"); i >= 0 {
				rest := s[i+len(":stack/"):]
				if j := strings.IndexByte(rest, '/'); j >= 0 {
					return rest[:j]
				}
				return rest
			}
		}
		return s
	}
	return form.Get("AutoScalingGroupName")
}

// discard is a ResponseWriter that drops what it is given: the answer a
// Fault with After loses.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

type callKey struct{}

func withCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

func callFrom(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}

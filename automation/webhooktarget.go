package automation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// errForbiddenTarget: a webhook URL reaches an address the options do not
// allow.
var errForbiddenTarget = errors.New("is a forbidden target")

// allowedIP reports whether the options permit connecting to ip.
func (o WebhookOptions) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback():
		return o.AllowLoopback
	case ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast():
		return false
	case ip.IsPrivate(), ip.IsLinkLocalUnicast(), ip.IsLinkLocalMulticast(), !ip.IsGlobalUnicast():
		return o.AllowPrivate
	}
	return true
}

func (o WebhookOptions) allowedHost(host string) bool {
	return slices.ContainsFunc(o.AllowedHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// checkURL validates a webhook URL at save time: http(s), a host, no
// credentials, and every address it resolves to allowed.
func (e *Engine) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("has no host")
	}
	if u.User != nil {
		return errors.New("must not carry credentials (use the signing secret)")
	}
	if len(raw) > 2000 {
		return errors.New("is longer than 2000 characters")
	}
	o := e.opts.Webhooks
	host := u.Hostname()
	if o.allowedHost(host) {
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		if !o.AllowLoopback {
			return fmt.Errorf("%w (loopback; allow it with AllowLoopback)", errForbiddenTarget)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("does not resolve: %v", err)
	}
	for _, a := range addrs {
		if !o.allowedIP(a) {
			return fmt.Errorf("%w: %s resolves to %s (allow private or loopback addresses, or the host, in the webhook options)", errForbiddenTarget, host, a)
		}
	}
	return nil
}

// newHTTPClient returns the client of deliveries: it checks each address
// it connects to (so a name that resolves differently later is caught)
// and does not follow redirects.
func newHTTPClient(o WebhookOptions) *http.Client {
	var t *http.Transport
	if o.Transport != nil {
		t = o.Transport.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	guarded := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !o.allowedIP(ip) {
			return fmt.Errorf("crm: webhook target %s %w", host, errForbiddenTarget)
		}
		return nil
	}}
	plain := &net.Dialer{Timeout: 10 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if o.allowedHost(host) {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	t.Proxy = nil
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
